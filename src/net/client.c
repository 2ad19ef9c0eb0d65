/*
 * The client: checks the server's Hello against its keys, sends the public evaluation keys with
 * the first encrypted batch, answers activation requests, decrypts the outputs.
 *
 * Requests arrive in pieces. Element-wise requests (every masked one, and unmasked Relu, Clip,
 * LeakyRelu, Sigmoid, Tanh) are answered piece by piece: the client decrypts, applies and
 * re-encrypts a piece (hg_he_client_activate, parallel inside) while the connection's reader
 * thread receives the next one, and sends each answer piece as soon as it is ready. Requests
 * that mix coordinates (unmasked MaxPool, Softmax) are assembled first, then answered in pieces.
 */
#include "net.h"

#include "ckks/ckks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IO     16
#define MAX_GALOIS 64

struct hg_net_client {
    const hg_ckks_ctx *ctx;
    const hg_ckks_sk *sk;
    const hg_ckks_pk *pk;
    const hg_ckks_rlk *rlk;
    const hg_ckks_gk *gk;
    hg_ckks_rlk *own_rlk;
    hg_ckks_gk *own_gk;
    hg_net_client_opts o;
    net_conn conn;
    bool connected, failed, keys_sent;
    hg_net_server_info info;
    uint64_t server_max_frame;
    hg_he_client *hc;
    uint64_t last_request;
    hg_net_stats st; /* computing time and requests; traffic comes from the connection */
    hg_net_observe_fn observe;
    void *observe_user;
};

void hg_net_client_opts_default(hg_net_client_opts *o) {
    memset(o, 0, sizeof *o);
    o->timeout_ms = HG_NET_DEFAULT_CLIENT_TIMEOUT_MS;
    o->max_frame_bytes = HG_NET_DEFAULT_MAX_FRAME;
    o->max_tensor_bytes = HG_NET_DEFAULT_MAX_TENSOR;
}

/* Ends the session after a failure on this side: the server hears why, the socket is shut. */
static hg_status client_fail(hg_net_client *c, hg_status s) {
    char msg[NET_MAX_MESSAGE];
    snprintf(msg, sizeof msg, "%s", hg_last_error());
    if (c->connected && !c->failed) {
        net_conn_send_error(&c->conn, s, msg);
        net_conn_abort(&c->conn);
    }
    c->failed = true;
    return hg_fail(s, "%s", msg);
}

/* ---- Hello -------------------------------------------------------------------------------------
 */

/* Galois element 5^k mod 2N for a rotation by k; 2N - 1 is conjugation. */
static bool galois_step(const hg_ckks_ctx *ctx, uint64_t elt, int *step) {
    const uint64_t two_n = 2 * (uint64_t)hg_ckks_params_n(hg_ckks_ctx_params(ctx));
    uint64_t g = 1;
    for (uint64_t k = 0; k < two_n / 4; k++) {
        if (g == elt) {
            *step = (int)k;
            return true;
        }
        g = g * 5 % two_n;
    }
    return false;
}

static bool gk_has(const hg_ckks_gk *gk, uint64_t elt) {
    for (size_t j = 0; gk && j < gk->n_keys; j++)
        if (gk->keys[j].g == elt)
            return true;
    return false;
}

static hg_status check_hello(hg_net_client *c, const Hgnet__Hello *h) {
    if (h->version != HG_NET_VERSION)
        return hg_fail(HG_ERR_PROTOCOL, "the server speaks protocol version %u, this client %u",
                       h->version, HG_NET_VERSION);
    /* The parameters: secure (unless allowed otherwise) and exactly the keys'. */
    hg_ckks_params *sp = NULL;
    hg_status s = hg_ckks_params_read(h->params.data, h->params.len, c->o.allow_insecure, &sp);
    if (s != HG_OK) {
        char why[NET_MAX_MESSAGE];
        snprintf(why, sizeof why, "%s", hg_last_error());
        return hg_fail(s == HG_ERR_PARAMS ? HG_ERR_PARAMS : HG_ERR_PROTOCOL,
                       "refusing the server's parameters: %s", why);
    }
    const hg_ckks_params *mine = hg_ckks_ctx_params(c->ctx);
    size_t len = hg_ckks_params_size(mine), w;
    uint8_t *buf = malloc(len);
    if (!buf) {
        hg_ckks_params_free(sp);
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    }
    s = hg_ckks_params_write(mine, buf, len, &w);
    bool same = s == HG_OK && w == h->params.len && memcmp(buf, h->params.data, w) == 0;
    free(buf);
    if (s == HG_OK && !same)
        s = hg_fail(HG_ERR_PARAMS,
                    "the server's parameters (N = %zu, %d data + %d special primes, "
                    "%d-bit modulus, scale 2^%.1f) are not those of the keys (N = %zu, %d + %d "
                    "primes, %d bits, scale 2^%.1f)",
                    hg_ckks_params_n(sp), hg_ckks_params_n_data(sp), hg_ckks_params_n_special(sp),
                    hg_ckks_params_log_modulus(sp), log2(hg_ckks_params_scale(sp)),
                    hg_ckks_params_n(mine), hg_ckks_params_n_data(mine),
                    hg_ckks_params_n_special(mine), hg_ckks_params_log_modulus(mine),
                    log2(hg_ckks_params_scale(mine)));
    hg_ckks_params_free(sp);
    HG_TRY(s);

    hg_net_server_info *in = &c->info;
    memset(in, 0, sizeof *in);
    const size_t n = hg_ckks_params_n(mine);
    if (h->n_inputs < 1 || h->n_inputs > MAX_IO || h->n_outputs < 1 || h->n_outputs > MAX_IO)
        return hg_fail(HG_ERR_PROTOCOL, "Hello: %zu inputs and %zu outputs", h->n_inputs,
                       h->n_outputs);
    for (size_t i = 0; i < h->n_inputs + h->n_outputs; i++) {
        const Hgnet__Shape *m = i < h->n_inputs ? h->inputs[i] : h->outputs[i - h->n_inputs];
        hg_shape *out = i < h->n_inputs ? &in->inputs[i] : &in->outputs[i - h->n_inputs];
        HG_TRY(net_shape_read(m, 1, out));
        out->dims[0] = 0;
    }
    in->n_inputs = h->n_inputs;
    in->n_outputs = h->n_outputs;
    const size_t cap = h->complex_packing ? n : n / 2;
    if (h->max_batch < 1 || h->max_batch > cap)
        return hg_fail(HG_ERR_PROTOCOL, "Hello: a batch of %u with %zu slots", h->max_batch, cap);
    if (h->piece_cts < 1 || h->max_frame_bytes < (1u << 16))
        return hg_fail(HG_ERR_PROTOCOL, "Hello: pieces of %u ciphertexts, frames of %llu bytes",
                       h->piece_cts, (unsigned long long)h->max_frame_bytes);
    if (h->n_galois_elts > MAX_GALOIS)
        return hg_fail(HG_ERR_PROTOCOL, "Hello: %zu Galois keys asked for", h->n_galois_elts);
    in->max_batch = h->max_batch;
    in->masked = h->masked;
    in->complex_packing = h->complex_packing;
    in->need_relin = h->need_relin;
    in->n_galois = h->n_galois_elts;
    in->piece_cts = h->piece_cts;
    c->server_max_frame =
        h->max_frame_bytes < c->o.max_frame_bytes ? h->max_frame_bytes : c->o.max_frame_bytes;
    if (c->o.require_masked && !h->masked)
        return hg_fail(HG_ERR_PROTOCOL, "the server does not mask activations, and this client "
                                        "requires it");

    /* The keys the plan needs: the caller's, or made now from the secret key. */
    if (h->need_relin && !c->rlk) {
        HG_TRY(hg_ckks_rlk_new(c->ctx, c->sk, &c->own_rlk));
        c->rlk = c->own_rlk;
    }
    bool have_all = c->gk != NULL;
    for (size_t i = 0; i < h->n_galois_elts; i++)
        have_all &= gk_has(c->gk, h->galois_elts[i]);
    if (h->n_galois_elts > 0 && !have_all) {
        int steps[MAX_GALOIS];
        size_t n_steps = 0;
        bool conj = false;
        for (size_t i = 0; i < h->n_galois_elts; i++) {
            uint64_t e = h->galois_elts[i];
            if (e == 2 * (uint64_t)n - 1)
                conj = true;
            else if (!galois_step(c->ctx, e, &steps[n_steps++]))
                return hg_fail(HG_ERR_PROTOCOL,
                               "Hello: Galois element %llu is neither a "
                               "rotation nor the conjugation",
                               (unsigned long long)e);
        }
        HG_TRY(hg_ckks_gk_new(c->ctx, c->sk, steps, n_steps, conj, &c->own_gk));
        c->gk = c->own_gk;
    }
    return hg_he_client_new(c->ctx, c->sk, h->complex_packing, c->o.threads, &c->hc);
}

hg_status hg_net_client_connect(const char *address, const hg_ckks_ctx *ctx, const hg_ckks_sk *sk,
                                const hg_ckks_pk *pk, const hg_ckks_rlk *rlk, const hg_ckks_gk *gk,
                                const hg_net_client_opts *o, hg_net_client **out) {
    *out = NULL;
    if (!ctx || !sk || !pk)
        return hg_fail(HG_ERR_INVALID_ARG,
                       "%s: a context, a secret key and a public key are "
                       "needed",
                       __func__);
    HG_TRY(hg_crypto_init());
    hg_net_client *c = calloc(1, sizeof *c);
    if (!c)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    if (o)
        c->o = *o;
    else
        hg_net_client_opts_default(&c->o);
    if (c->o.timeout_ms <= 0)
        c->o.timeout_ms = HG_NET_DEFAULT_CLIENT_TIMEOUT_MS;
    if (!c->o.max_frame_bytes)
        c->o.max_frame_bytes = HG_NET_DEFAULT_MAX_FRAME;
    if (!c->o.max_tensor_bytes)
        c->o.max_tensor_bytes = HG_NET_DEFAULT_MAX_TENSOR;
    c->ctx = ctx;
    c->sk = sk;
    c->pk = pk;
    c->rlk = rlk;
    c->gk = gk;
    int fd;
    hg_status s = net_connect(address, c->o.timeout_ms, &fd);
    if (s == HG_OK)
        s = net_conn_init(&c->conn, fd, c->o.timeout_ms, c->o.max_frame_bytes, NULL, NULL);
    if (s == HG_OK) {
        c->connected = true;
        Hgnet__Frame *f = NULL;
        s = net_conn_recv(&c->conn, &f);
        if (s == HG_OK && f->msg_case == HGNET__FRAME__MSG_ERROR)
            s = net_peer_error(f->error, "server");
        else if (s == HG_OK && f->msg_case != HGNET__FRAME__MSG_HELLO)
            s = hg_fail(HG_ERR_PROTOCOL, "expected Hello, the server sent %s", net_frame_name(f));
        else if (s == HG_OK)
            s = check_hello(c, f->hello);
        net_frame_free(f);
        if (s != HG_OK)
            s = client_fail(c, s);
    }
    if (s != HG_OK) {
        hg_net_client_close(c);
        return s;
    }
    *out = c;
    return HG_OK;
}

const hg_net_server_info *hg_net_client_server_info(const hg_net_client *c) {
    return &c->info;
}

void hg_net_client_set_observer(hg_net_client *c, hg_net_observe_fn fn, void *user) {
    c->observe = fn;
    c->observe_user = user;
}

void hg_net_client_stats(const hg_net_client *c, hg_net_stats *st) {
    *st = c->st;
    net_conn *conn = (net_conn *)&c->conn;
    if (c->connected) {
        pthread_mutex_lock(&conn->mu);
        st->bytes_sent = conn->st.bytes_sent;
        st->bytes_received = conn->st.bytes_received;
        st->frames_sent = conn->st.frames_sent;
        st->frames_received = conn->st.frames_received;
        pthread_mutex_unlock(&conn->mu);
    }
}

void hg_net_client_close(hg_net_client *c) {
    if (!c)
        return;
    if (c->connected && !c->failed) {
        Hgnet__Bye b = HGNET__BYE__INIT;
        Hgnet__Frame f = HGNET__FRAME__INIT;
        f.msg_case = HGNET__FRAME__MSG_BYE;
        f.bye = &b;
        if (net_conn_send(&c->conn, &f) != HG_OK)
            c->failed = true; /* the server is gone: nothing more to say */
    }
    if (c->connected)
        net_conn_clear(&c->conn);
    hg_he_client_free(c->hc);
    hg_ckks_rlk_free(c->own_rlk);
    hg_ckks_gk_free(c->own_gk);
    free(c);
}

/* ---- one batch ----------------------------------------------------------------------------------
 */

/* Serializes a key with its _size_bytes/_write pair into a new buffer. */
#define KEY_BYTES(kind, key, bd)                                                                   \
    do {                                                                                           \
        size_t cap_ = hg_ckks_##kind##_size_bytes(key), w_;                                        \
        (bd).data = malloc(cap_);                                                                  \
        if (!(bd).data)                                                                            \
            return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);                           \
        if (hg_ckks_##kind##_write(key, (bd).data, cap_, &w_) != HG_OK)                            \
            return HG_ERR_INTERNAL;                                                                \
        (bd).len = w_;                                                                             \
    } while (0)

static hg_status fill_keys(const hg_net_client *c, Hgnet__KeysAndInput *k) {
    k->has_public_key = true;
    KEY_BYTES(pk, c->pk, k->public_key);
    if (c->info.need_relin) {
        k->has_relin_key = true;
        KEY_BYTES(rlk, c->rlk, k->relin_key);
    }
    if (c->info.n_galois > 0) {
        k->has_galois_keys = true;
        KEY_BYTES(gk, c->gk, k->galois_keys);
    }
    return HG_OK;
}

static hg_status send_input(hg_net_client *c, size_t index, const hg_he_tensor *t) {
    const size_t count = hg_he_tensor_count(t);
    const size_t per = net_piece_cts(c->info.piece_cts, c->server_max_frame,
                                     hg_he_tensor_size_bytes(t) / count, 1);
    const size_t n_pieces = (count + per - 1) / per;
    hg_shape shape;
    hg_he_tensor_shape(t, &shape);
    hg_status s = HG_OK;
    const size_t grp = net_piece_group();
    for (size_t k0 = 0; s == HG_OK && k0 < n_pieces; k0 += grp) {
        size_t mm = n_pieces - k0 < grp ? n_pieces - k0 : grp;
        uint8_t *bufs[NET_PIECE_GROUP];
        size_t lens[NET_PIECE_GROUP];
        s = net_tensor_pieces(t, per, k0, mm, bufs, lens);
        for (size_t i = 0; i < mm; i++) {
            const size_t k = k0 + i;
            Hgnet__KeysAndInput m = HGNET__KEYS_AND_INPUT__INIT;
            if (s == HG_OK && !c->keys_sent)
                s = fill_keys(c, &m);
            Hgnet__Piece p = HGNET__PIECE__INIT;
            p.index = (uint32_t)k;
            p.count = (uint32_t)n_pieces;
            p.offset = k * per;
            p.tensor.data = bufs[i];
            p.tensor.len = lens[i];
            Hgnet__Shape sh;
            net_shape_view(&shape, 0, &sh);
            m.input = (uint32_t)index;
            m.shape = k == 0 ? &sh : NULL;
            m.piece = &p;
            Hgnet__Frame f = HGNET__FRAME__INIT;
            f.msg_case = HGNET__FRAME__MSG_KEYS_AND_INPUT;
            f.keys_and_input = &m;
            if (s == HG_OK)
                s = net_conn_send(&c->conn, &f);
            if (s == HG_OK)
                c->keys_sent = true;
            free(bufs[i]);
            free(m.public_key.data);
            free(m.relin_key.data);
            free(m.galois_keys.data);
        }
    }
    return s;
}

/* Sends ciphertexts [from, from + n) of t as piece index of n_pieces of the answer to request
 * id, at ciphertext `offset` of the answer. */
static hg_status send_answer(hg_net_client *c, uint64_t id, const hg_he_tensor *t, size_t from,
                             size_t n, uint32_t index, uint32_t n_pieces, uint64_t offset) {
    uint8_t *buf;
    size_t len;
    HG_TRY(net_tensor_piece(t, from, n, &buf, &len));
    Hgnet__Piece p = HGNET__PIECE__INIT;
    p.index = index;
    p.count = n_pieces;
    p.offset = offset;
    p.tensor.data = buf;
    p.tensor.len = len;
    Hgnet__ActivationAnswer a = HGNET__ACTIVATION_ANSWER__INIT;
    a.id = id;
    a.piece = &p;
    Hgnet__Frame f = HGNET__FRAME__INIT;
    f.msg_case = HGNET__FRAME__MSG_ANSWER;
    f.answer = &a;
    hg_status s = net_conn_send(&c->conn, &f);
    free(buf);
    return s;
}

static void observe(hg_net_client *c, uint64_t id, const hg_he_activation *act, size_t offset,
                    const hg_he_tensor *t) {
    if (!c->observe)
        return;
    hg_ndarray *x = NULL;
    if (hg_he_client_decrypt(c->hc, t, &x) != HG_OK)
        return;
    c->observe(c->observe_user, id, act, offset, x->data, (size_t)x->dims[0],
               x->size / (size_t)x->dims[0]);
    hg_wipe(x->data, x->size * sizeof(double));
    hg_ndarray_free(x);
}

static bool elementwise(const hg_he_activation *a) {
    if (a->masked)
        return true;
    switch (a->op) {
    case HG_OP_RELU:
    case HG_OP_RELU6:
    case HG_OP_CLIP:
    case HG_OP_LEAKYRELU:
    case HG_OP_SIGMOID:
    case HG_OP_TANH:
        return true;
    default:
        return false;
    }
}

/* The request being answered. */
typedef struct request {
    bool active;
    uint64_t id;
    hg_he_activation act;
    bool piecewise;
    size_t group, count, received;
    uint32_t next, n_pieces;
    net_assembly whole; /* requests answered whole */
} request;

static hg_status answer_piece(hg_net_client *c, request *r, const Hgnet__ActivationRequest *m,
                              size_t batch, bool *finished) {
    *finished = false;
    const Hgnet__Piece *p = m->piece;
    if (!r->active) {
        if (!m->has_activation || p->index != 0)
            return hg_fail(HG_ERR_PROTOCOL, "a request piece %u without its request", p->index);
        if (m->id != c->last_request + 1)
            return hg_fail(HG_ERR_PROTOCOL, "request id %llu after %llu", (unsigned long long)m->id,
                           (unsigned long long)c->last_request);
        memset(r, 0, sizeof *r);
        HG_TRY(hg_he_activation_read(m->activation.data, m->activation.len, &r->act));
        const hg_he_activation *a = &r->act;
        /* The request's batch axis covers at least this batch (a server may send the slots of
         * its largest batch), never more than the server announced. */
        if (a->in_shape.dims[0] < (int64_t)batch ||
            a->in_shape.dims[0] > (int64_t)c->info.max_batch ||
            a->out_shape.dims[0] != a->in_shape.dims[0])
            return hg_fail(HG_ERR_PROTOCOL, "a request for a batch of %lld, the batch is %zu",
                           (long long)a->in_shape.dims[0], batch);
        if (c->o.require_masked && !a->masked)
            return hg_fail(HG_ERR_PROTOCOL,
                           "an unmasked request (op %s), and this client "
                           "requires masking",
                           hg_op_get_info(a->op)->name);
        r->active = true;
        r->id = m->id;
        r->count = net_shape_count(&a->in_shape, 1);
        r->piecewise = elementwise(a);
        r->group = a->masked && a->op == HG_OP_MAXPOOL ? a->group : 1;
        if (r->group < 1 || r->count % r->group != 0 ||
            (r->piecewise && net_shape_count(&a->out_shape, 1) != r->count / r->group))
            return hg_fail(HG_ERR_PROTOCOL,
                           "a request of %zu ciphertexts with output shape of "
                           "%zu in groups of %zu",
                           r->count, net_shape_count(&a->out_shape, 1), r->group);
        if (!r->piecewise) {
            net_assembly_init(&r->whole, &a->in_shape);
            r->whole.max_bytes = c->o.max_tensor_bytes;
        }
        c->last_request = m->id;
        c->st.requests++;
        c->st.masked_requests += a->masked;
    } else if (m->id != r->id || m->has_activation)
        return hg_fail(HG_ERR_PROTOCOL, "a piece of request %llu while request %llu is answered",
                       (unsigned long long)m->id, (unsigned long long)r->id);

    double t0 = hg_now();
    hg_status s = HG_OK;
    if (!r->piecewise) {
        HG_TRY(net_assembly_add(&r->whole, c->ctx, p, "activation request"));
        if (!net_assembly_complete(&r->whole))
            return HG_OK;
        observe(c, r->id, &r->act, 0, r->whole.t);
        hg_he_tensor *ans = NULL;
        s = hg_he_client_activate(c->hc, &r->act, r->whole.t, &ans);
        net_assembly_clear(&r->whole);
        const size_t count = s == HG_OK ? hg_he_tensor_count(ans) : 0;
        const size_t per = s == HG_OK ? net_piece_cts(c->info.piece_cts, c->server_max_frame,
                                                      hg_he_tensor_size_bytes(ans) / count, 1)
                                      : 1;
        const size_t n_pieces = (count + per - 1) / per;
        c->st.client_seconds += hg_now() - t0;
        for (size_t k = 0; s == HG_OK && k < n_pieces; k++)
            s = send_answer(c, r->id, ans, k * per, count - k * per < per ? count - k * per : per,
                            (uint32_t)k, (uint32_t)n_pieces, k * per);
        hg_he_tensor_free(ans);
        r->active = false;
        *finished = true;
        return s;
    }

    /* Element-wise: this piece alone, as a request of shape (batch, n). */
    if (p->index != r->next || p->count == 0 || (r->next > 0 && p->count != r->n_pieces) ||
        p->offset != r->received)
        return hg_fail(HG_ERR_PROTOCOL,
                       "activation request: piece %u of %u at %llu, expected "
                       "piece %u at %zu",
                       p->index, p->count, (unsigned long long)p->offset, r->next, r->received);
    hg_he_tensor *part = NULL, *ans = NULL;
    HG_TRY(hg_he_tensor_read(c->ctx, p->tensor.data, p->tensor.len, r->count - r->received, &part));
    hg_shape ps;
    hg_he_tensor_shape(part, &ps);
    size_t n = hg_he_tensor_count(part);
    const int64_t rb = r->act.in_shape.dims[0];
    if (ps.rank != 2 || ps.dims[0] != rb || n % r->group != 0)
        s = hg_fail(HG_ERR_PROTOCOL,
                    "activation request: a piece of %zu ciphertexts for groups "
                    "of %zu",
                    n, r->group);
    if (s == HG_OK) {
        hg_he_activation a = r->act;
        a.in_shape = ps;
        a.out_shape = (hg_shape){.rank = 2, .dims = {rb, (int64_t)(n / r->group)}};
        observe(c, r->id, &r->act, r->received, part);
        s = hg_he_client_activate(c->hc, &a, part, &ans);
    }
    c->st.client_seconds += hg_now() - t0;
    if (s == HG_OK)
        s = send_answer(c, r->id, ans, 0, hg_he_tensor_count(ans), p->index, p->count,
                        r->received / r->group);
    hg_he_tensor_free(part);
    hg_he_tensor_free(ans);
    HG_TRY(s);
    r->n_pieces = p->count;
    r->next++;
    r->received += n;
    if ((r->next == r->n_pieces) != (r->received == r->count))
        return hg_fail(HG_ERR_PROTOCOL,
                       "activation request: %u pieces hold %zu ciphertexts, %zu "
                       "expected",
                       r->next, r->received, r->count);
    if (r->received == r->count) {
        r->active = false;
        *finished = true;
    }
    return HG_OK;
}

static hg_status infer(hg_net_client *c, const hg_ndarray *const *inputs, size_t n_inputs,
                       hg_ndarray **outputs) {
    const hg_net_server_info *in = &c->info;
    if (n_inputs != in->n_inputs)
        return hg_fail(HG_ERR_INVALID_ARG, "%zu inputs given, the model has %zu", n_inputs,
                       in->n_inputs);
    const size_t batch = inputs[0]->rank > 0 ? (size_t)inputs[0]->dims[0] : 0;
    if (batch < 1 || batch > in->max_batch)
        return hg_fail(HG_ERR_INVALID_ARG, "a batch of %zu, the server takes 1 to %zu", batch,
                       in->max_batch);
    for (size_t i = 0; i < n_inputs; i++) {
        bool same = inputs[i]->rank == in->inputs[i].rank && inputs[i]->dims[0] == (int64_t)batch;
        for (int d = 1; same && d < inputs[i]->rank; d++)
            same = inputs[i]->dims[d] == in->inputs[i].dims[d];
        if (!same)
            return hg_fail(HG_ERR_INVALID_ARG,
                           "input %zu does not have the model's shape (or the "
                           "batch of input 0)",
                           i);
    }
    hg_status s = HG_OK;
    for (size_t i = 0; s == HG_OK && i < n_inputs; i++) {
        hg_he_tensor *t = NULL;
        double t0 = hg_now();
        s = hg_he_client_encrypt(c->hc, inputs[i], &t);
        c->st.client_seconds += hg_now() - t0;
        if (s == HG_OK)
            s = send_input(c, i, t);
        hg_he_tensor_free(t);
    }
    HG_TRY(s);

    request r;
    memset(&r, 0, sizeof r);
    net_assembly out;
    memset(&out, 0, sizeof out);
    hg_he_tensor *enc[MAX_IO] = {0};
    size_t next_out = 0;
    while (s == HG_OK && next_out < in->n_outputs) {
        Hgnet__Frame *f;
        if ((s = net_conn_recv(&c->conn, &f)) != HG_OK)
            break;
        bool finished;
        if (f->msg_case == HGNET__FRAME__MSG_REQUEST)
            s = answer_piece(c, &r, f->request, batch, &finished);
        else if (f->msg_case == HGNET__FRAME__MSG_OUTPUT) {
            const Hgnet__Output *o = f->output;
            if (r.active)
                s = hg_fail(HG_ERR_PROTOCOL, "an output while request %llu is unanswered",
                            (unsigned long long)r.id);
            else if (o->output != next_out)
                s = hg_fail(HG_ERR_PROTOCOL, "a piece of output %u, output %zu expected", o->output,
                            next_out);
            else if (!out.t && out.next == 0) {
                hg_shape shape;
                if (!o->shape)
                    s = hg_fail(HG_ERR_PROTOCOL, "output %zu: the first piece has no shape",
                                next_out);
                else
                    s = net_shape_read(o->shape, 0, &shape);
                bool same = s == HG_OK && shape.rank == in->outputs[next_out].rank &&
                            shape.dims[0] == (int64_t)batch;
                for (int d = 1; same && d < shape.rank; d++)
                    same = shape.dims[d] == in->outputs[next_out].dims[d];
                if (s == HG_OK && !same)
                    s = hg_fail(HG_ERR_PROTOCOL, "output %zu does not have the announced shape",
                                next_out);
                if (s == HG_OK) {
                    net_assembly_init(&out, &shape);
                    out.max_bytes = c->o.max_tensor_bytes;
                }
            }
            if (s == HG_OK)
                s = net_assembly_add(&out, c->ctx, o->piece, "encrypted output");
            if (s == HG_OK && o->has_server_seconds)
                c->st.server_seconds += o->server_seconds;
            if (s == HG_OK && net_assembly_complete(&out)) {
                enc[next_out++] = out.t;
                out.t = NULL;
                net_assembly_clear(&out);
            }
        } else if (f->msg_case == HGNET__FRAME__MSG_ERROR)
            s = net_peer_error(f->error, "server");
        else
            s = hg_fail(HG_ERR_PROTOCOL, "the server sent %s in the middle of a batch",
                        net_frame_name(f));
        net_frame_free(f);
    }
    net_assembly_clear(&r.whole);
    net_assembly_clear(&out);
    double t0 = hg_now();
    size_t done = 0;
    for (size_t i = 0; s == HG_OK && i < in->n_outputs; i++, done++)
        s = hg_he_client_decrypt(c->hc, enc[i], &outputs[i]);
    c->st.client_seconds += hg_now() - t0;
    for (size_t i = 0; i < in->n_outputs; i++)
        hg_he_tensor_free(enc[i]);
    if (s != HG_OK)
        for (size_t i = 0; i < done && i < in->n_outputs; i++) {
            hg_ndarray_free(outputs[i]);
            outputs[i] = NULL;
        }
    if (s == HG_OK) {
        c->st.batches++;
        c->st.samples += batch;
    }
    return s;
}

hg_status hg_net_client_infer(hg_net_client *c, const hg_ndarray *const *inputs, size_t n_inputs,
                              hg_ndarray **outputs, hg_net_stats *stats) {
    if (c->failed)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: the session has failed; connect again", __func__);
    hg_net_stats before;
    hg_net_client_stats(c, &before);
    double t0 = hg_now();
    hg_status s = infer(c, inputs, n_inputs, outputs);
    c->st.wall_seconds += hg_now() - t0;
    if (s != HG_OK) {
        /* Argument errors found before anything was sent leave the session usable. */
        if (s == HG_ERR_INVALID_ARG && c->st.batches == before.batches &&
            c->conn.st.frames_sent == before.frames_sent)
            return s;
        return client_fail(c, s);
    }
    if (stats) {
        hg_net_stats after;
        hg_net_client_stats(c, &after);
        memset(stats, 0, sizeof *stats);
        stats->bytes_sent = after.bytes_sent - before.bytes_sent;
        stats->bytes_received = after.bytes_received - before.bytes_received;
        stats->frames_sent = after.frames_sent - before.frames_sent;
        stats->frames_received = after.frames_received - before.frames_received;
        stats->requests = after.requests - before.requests;
        stats->masked_requests = after.masked_requests - before.masked_requests;
        stats->batches = after.batches - before.batches;
        stats->samples = after.samples - before.samples;
        stats->server_seconds = after.server_seconds - before.server_seconds;
        stats->client_seconds = after.client_seconds - before.client_seconds;
        stats->wall_seconds = after.wall_seconds - before.wall_seconds;
    }
    return HG_OK;
}
