/*
 * The server: an accept loop and one thread per session, at most max_sessions at once.
 *
 * A session: Hello; then per batch the client's KeysAndInput frames (keys in the first frame of
 * the session only), hg_he_run with a client callback that sends each activation request in
 * pieces and waits for the answer pieces, which the connection's reader thread pastes as they
 * arrive (so that the client is drained while the server still sends); then the outputs in
 * pieces. Bye ends the session; anything else that breaks the protocol ends it with an Error to
 * the client and a log entry. The session holds only public keys (pk, rlk, gk).
 */
#include "net.h"

#include "ckks/ckks.h"
#include "he/he.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_IO     16 /* inputs or outputs of a served model */
#define MAX_GALOIS 64

struct hg_net_server {
    const hg_he_model *m;
    const hg_ckks_ctx *ctx;
    hg_net_server_opts o;
    int lfd, port;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int active;
    uint64_t accepted;
    /* What Hello announces, computed once. */
    uint8_t *params;
    size_t params_len;
    size_t n_inputs, n_outputs;
    hg_shape inputs[MAX_IO], outputs[MAX_IO]; /* batch axis included (dims[0] unused) */
    uint64_t elts[MAX_GALOIS];
    size_t n_elts;
    bool need_relin, masked, complex_packing;
    size_t max_batch;
};

typedef struct session {
    hg_net_server *srv;
    uint64_t id;
    char peer[80];
    net_conn conn;
    hg_ckks_pk *pk;
    hg_ckks_rlk *rlk;
    hg_ckks_gk *gk;
    /* The outstanding activation request, shared with the reader thread under conn.mu. */
    bool req_active, req_done;
    uint64_t req_id;
    net_assembly ans;
    hg_net_stats st;
} session;

static void slog(const hg_net_server *srv, hg_net_log_level level, uint64_t id, hg_status s,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void slog(const hg_net_server *srv, hg_net_log_level level, uint64_t id, hg_status s,
                 const char *fmt, ...) {
    if (!srv->o.log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv->o.log(srv->o.log_user, level, id, s, msg);
}

void hg_net_stats_add(hg_net_stats *a, const hg_net_stats *b) {
    a->bytes_sent += b->bytes_sent;
    a->bytes_received += b->bytes_received;
    a->frames_sent += b->frames_sent;
    a->frames_received += b->frames_received;
    a->requests += b->requests;
    a->masked_requests += b->masked_requests;
    a->batches += b->batches;
    a->samples += b->samples;
    a->server_seconds += b->server_seconds;
    a->client_seconds += b->client_seconds;
    a->wall_seconds += b->wall_seconds;
}

void hg_net_server_opts_default(hg_net_server_opts *o) {
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:0";
    o->max_sessions = 4;
    o->timeout_ms = HG_NET_DEFAULT_SERVER_TIMEOUT_MS;
    o->max_frame_bytes = HG_NET_DEFAULT_MAX_FRAME;
    o->piece_cts = HG_NET_DEFAULT_PIECE_CTS;
}

/* ---- set-up --------------------------------------------------------------------------------- */

hg_status hg_net_server_new(const hg_he_model *m, const hg_net_server_opts *o,
                            hg_net_server **out) {
    *out = NULL;
    if (!m || !o)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: no model or options", __func__);
    HG_TRY(hg_crypto_init());
    const hg_graph *g = m->g;
    if (hg_graph_n_inputs(g) < 1 || hg_graph_n_inputs(g) > MAX_IO || hg_graph_n_outputs(g) < 1 ||
        hg_graph_n_outputs(g) > MAX_IO)
        return hg_fail(HG_ERR_UNSUPPORTED, "%s: a served model has 1 to %d inputs and outputs",
                       __func__, MAX_IO);
    hg_net_server *s = calloc(1, sizeof *s);
    if (!s)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    s->m = m;
    s->ctx = m->ctx;
    s->o = *o;
    s->lfd = -1;
    if (s->o.max_sessions < 1)
        s->o.max_sessions = 1;
    if (s->o.timeout_ms <= 0)
        s->o.timeout_ms = HG_NET_DEFAULT_SERVER_TIMEOUT_MS;
    if (!s->o.max_frame_bytes)
        s->o.max_frame_bytes = HG_NET_DEFAULT_MAX_FRAME;
    if (!s->o.piece_cts)
        s->o.piece_cts = HG_NET_DEFAULT_PIECE_CTS;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);

    hg_status st = HG_OK;
    const hg_ckks_params *p = hg_ckks_ctx_params(s->ctx);
    s->params_len = hg_ckks_params_size(p);
    s->params = malloc(s->params_len);
    if (!s->params)
        st = hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    size_t w;
    if (st == HG_OK)
        st = hg_ckks_params_write(p, s->params, s->params_len, &w);
    s->n_inputs = hg_graph_n_inputs(g);
    s->n_outputs = hg_graph_n_outputs(g);
    hg_dtype dt;
    for (size_t i = 0; i < s->n_inputs; i++)
        hg_graph_input_shape(g, i, &s->inputs[i], &dt);
    for (size_t i = 0; i < s->n_outputs; i++)
        hg_graph_output_shape(g, i, &s->outputs[i], &dt);
    for (size_t i = 0; st == HG_OK && i < s->n_inputs + s->n_outputs; i++) {
        const hg_shape *sh = i < s->n_inputs ? &s->inputs[i] : &s->outputs[i - s->n_inputs];
        if (sh->rank < 1)
            st = hg_fail(HG_ERR_UNSUPPORTED, "%s: an input or output without a batch axis",
                         __func__);
        for (int d = 1; st == HG_OK && d < sh->rank; d++)
            if (sh->dims[d] < 1)
                st = hg_fail(HG_ERR_UNSUPPORTED,
                             "%s: a shape with an unknown dimension "
                             "(optimize the graph first)",
                             __func__);
    }
    s->need_relin = hg_he_model_needs_relin(m);
    s->n_elts = hg_he_model_galois_elts(m, s->elts, MAX_GALOIS);
    if (st == HG_OK && s->n_elts > MAX_GALOIS)
        st = hg_fail(HG_ERR_UNSUPPORTED, "%s: more than %d Galois keys", __func__, MAX_GALOIS);
    s->masked = m->opts.masking;
    s->complex_packing = m->opts.complex_packing;
    s->max_batch = m->batch;
    if (st == HG_OK)
        st = net_listen(s->o.listen, 64, &s->lfd, &s->port);
    if (st != HG_OK) {
        hg_net_server_free(s);
        return st;
    }
    *out = s;
    return HG_OK;
}

void hg_net_server_free(hg_net_server *s) {
    if (!s)
        return;
    atomic_store(&s->stop, 1);
    pthread_mutex_lock(&s->mu);
    while (s->active > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (s->lfd >= 0)
        close(s->lfd);
    free(s->params);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int hg_net_server_port(const hg_net_server *s) {
    return s->port;
}

void hg_net_server_stop(hg_net_server *s) {
    atomic_store(&s->stop, 1);
}

/* ---- one session ------------------------------------------------------------------------------
 */

static hg_status send_hello(session *ss) {
    const hg_net_server *srv = ss->srv;
    Hgnet__Shape in[MAX_IO], outs[MAX_IO];
    Hgnet__Shape *pin[MAX_IO], *pout[MAX_IO];
    for (size_t i = 0; i < srv->n_inputs; i++) {
        net_shape_view(&srv->inputs[i], 1, &in[i]);
        pin[i] = &in[i];
    }
    for (size_t i = 0; i < srv->n_outputs; i++) {
        net_shape_view(&srv->outputs[i], 1, &outs[i]);
        pout[i] = &outs[i];
    }
    Hgnet__Hello h = HGNET__HELLO__INIT;
    h.version = HG_NET_VERSION;
    h.params.data = srv->params;
    h.params.len = srv->params_len;
    h.complex_packing = srv->complex_packing;
    h.need_relin = srv->need_relin;
    h.n_galois_elts = srv->n_elts;
    h.galois_elts = (uint64_t *)srv->elts;
    h.n_inputs = srv->n_inputs;
    h.inputs = pin;
    h.n_outputs = srv->n_outputs;
    h.outputs = pout;
    h.max_batch = (uint32_t)srv->max_batch;
    h.masked = srv->masked;
    h.piece_cts = srv->o.piece_cts;
    h.max_frame_bytes = srv->o.max_frame_bytes;
    Hgnet__Frame f = HGNET__FRAME__INIT;
    f.msg_case = HGNET__FRAME__MSG_HELLO;
    f.hello = &h;
    return net_conn_send(&ss->conn, &f);
}

/* The reader thread's hook: answer pieces go straight into the outstanding request's tensor.
 * Runs under the connection's lock, so that the session thread never sees a half-pasted
 * piece and cannot free the assembly under it. */
static hg_status session_hook(void *user, Hgnet__Frame *f, bool *consumed) {
    session *ss = user;
    net_conn *c = &ss->conn;
    hg_status s = HG_OK;
    pthread_mutex_lock(&c->mu);
    if (f->msg_case == HGNET__FRAME__MSG_ANSWER) {
        *consumed = true;
        if (!ss->req_active || ss->req_done)
            s = hg_fail(HG_ERR_PROTOCOL,
                        "an activation answer (id %llu) with no request "
                        "outstanding",
                        (unsigned long long)f->answer->id);
        else if (f->answer->id != ss->req_id)
            s = hg_fail(HG_ERR_PROTOCOL, "an answer to request %llu, request %llu is outstanding",
                        (unsigned long long)f->answer->id, (unsigned long long)ss->req_id);
        else
            s = net_assembly_add(&ss->ans, ss->srv->ctx, f->answer->piece, "activation answer");
        if (s == HG_OK && net_assembly_complete(&ss->ans)) {
            ss->req_done = true;
            net_conn_signal(c);
        }
        net_frame_free(f);
    } else if (ss->req_active) {
        *consumed = true;
        if (f->msg_case == HGNET__FRAME__MSG_ERROR)
            s = net_peer_error(f->error, "client");
        else
            s = hg_fail(HG_ERR_PROTOCOL, "the client sent %s while a request was outstanding",
                        net_frame_name(f));
        net_frame_free(f);
    }
    pthread_mutex_unlock(&c->mu);
    return s;
}

static bool request_done(void *user) {
    return ((session *)user)->req_done;
}

/* hg_he_client_fn: one activation request, sent in pieces, answered in pieces. */
static hg_status session_client(void *user, const hg_he_activation *act, const hg_he_tensor *in,
                                hg_he_tensor **out) {
    session *ss = user;
    hg_net_server *srv = ss->srv;
    net_conn *c = &ss->conn;
    *out = NULL;
    const size_t count = hg_he_tensor_count(in);
    const size_t group = act->masked && act->op == HG_OP_MAXPOOL ? act->group : 1;
    if (count == 0 || group == 0 || count % group)
        return hg_fail(HG_ERR_INTERNAL, "%s: a request of %zu ciphertexts in groups of %zu",
                       __func__, count, group);
    uint8_t abuf[1024];
    size_t alen;
    if (hg_he_activation_size() > sizeof abuf)
        return hg_fail(HG_ERR_INTERNAL, "%s: activation requests grew", __func__);
    HG_TRY(hg_he_activation_write(act, abuf, sizeof abuf, &alen));
    const size_t ct_bytes = hg_he_tensor_size_bytes(in) / count;
    const size_t per = net_piece_cts(srv->o.piece_cts, srv->o.max_frame_bytes, ct_bytes, group);
    const size_t n_pieces = (count + per - 1) / per;

    pthread_mutex_lock(&c->mu);
    ss->req_id++;
    ss->req_active = true;
    ss->req_done = false;
    net_assembly_init(&ss->ans, &act->out_shape);
    pthread_mutex_unlock(&c->mu);

    hg_status s = HG_OK;
    const size_t grp = net_piece_group();
    for (size_t k0 = 0; s == HG_OK && k0 < n_pieces; k0 += grp) {
        size_t m = n_pieces - k0 < grp ? n_pieces - k0 : grp;
        uint8_t *bufs[NET_PIECE_GROUP];
        size_t lens[NET_PIECE_GROUP];
        s = net_tensor_pieces(in, per, k0, m, bufs, lens);
        for (size_t i = 0; i < m; i++) {
            const size_t k = k0 + i;
            Hgnet__Piece p = HGNET__PIECE__INIT;
            p.index = (uint32_t)k;
            p.count = (uint32_t)n_pieces;
            p.offset = k * per;
            p.tensor.data = bufs[i];
            p.tensor.len = lens[i];
            Hgnet__ActivationRequest r = HGNET__ACTIVATION_REQUEST__INIT;
            r.id = ss->req_id;
            if (k == 0) {
                r.has_activation = true;
                r.activation.data = abuf;
                r.activation.len = alen;
            }
            r.piece = &p;
            Hgnet__Frame f = HGNET__FRAME__INIT;
            f.msg_case = HGNET__FRAME__MSG_REQUEST;
            f.request = &r;
            if (s == HG_OK)
                s = net_conn_send(c, &f);
            free(bufs[i]);
        }
    }
    if (s == HG_OK)
        s = net_conn_wait(c, request_done, ss);

    pthread_mutex_lock(&c->mu);
    ss->req_active = false;
    if (s == HG_OK) {
        *out = ss->ans.t;
        ss->ans.t = NULL;
    }
    net_assembly_clear(&ss->ans);
    pthread_mutex_unlock(&c->mu);
    ss->st.requests++;
    ss->st.masked_requests += act->masked;
    return s;
}

/* A key that does not read: keys made with other parameters fail their fingerprint check. */
static hg_status key_fail(hg_status s) {
    char why[NET_MAX_MESSAGE];
    snprintf(why, sizeof why, "%s", hg_last_error());
    return hg_fail(s, "the client's %s", why);
}

/* Reads the keys of the session's first KeysAndInput frame. */
static hg_status read_keys(session *ss, const Hgnet__KeysAndInput *k) {
    const hg_net_server *srv = ss->srv;
    hg_status s;
    if (!k->has_public_key)
        return hg_fail(HG_ERR_PROTOCOL, "the client sent no public key");
    if ((s = hg_ckks_pk_read(srv->ctx, k->public_key.data, k->public_key.len, &ss->pk)) != HG_OK)
        return key_fail(s);
    if (srv->need_relin) {
        if (!k->has_relin_key)
            return hg_fail(HG_ERR_MISSING_KEY, "the client sent no relinearization key, which "
                                               "the model needs");
        if ((s = hg_ckks_rlk_read(srv->ctx, k->relin_key.data, k->relin_key.len, &ss->rlk)) !=
            HG_OK)
            return key_fail(s);
    }
    if (srv->n_elts > 0) {
        if (!k->has_galois_keys)
            return hg_fail(HG_ERR_MISSING_KEY, "the client sent no Galois keys, which the model "
                                               "needs");
        if ((s = hg_ckks_gk_read(srv->ctx, k->galois_keys.data, k->galois_keys.len, &ss->gk)) !=
            HG_OK)
            return key_fail(s);
        for (size_t i = 0; i < srv->n_elts; i++) {
            bool found = false;
            for (size_t j = 0; j < ss->gk->n_keys; j++)
                found |= ss->gk->keys[j].g == srv->elts[i];
            if (!found)
                return hg_fail(HG_ERR_MISSING_KEY, "the client's Galois keys lack element %llu",
                               (unsigned long long)srv->elts[i]);
        }
    }
    return HG_OK;
}

/* Receives the inputs of one batch; *bye when the client ends the session instead. */
static hg_status receive_inputs(session *ss, hg_he_tensor **inputs, size_t *batch, bool *bye) {
    const hg_net_server *srv = ss->srv;
    *bye = false;
    net_assembly a;
    memset(&a, 0, sizeof a);
    hg_status s = HG_OK;
    for (size_t i = 0; s == HG_OK && i < srv->n_inputs; i++) {
        bool started = false;
        while (s == HG_OK) {
            Hgnet__Frame *f;
            if ((s = net_conn_recv(&ss->conn, &f)) != HG_OK)
                break;
            if (f->msg_case == HGNET__FRAME__MSG_BYE && i == 0 && !started)
                *bye = true;
            else if (f->msg_case == HGNET__FRAME__MSG_ERROR)
                s = net_peer_error(f->error, "client");
            else if (f->msg_case != HGNET__FRAME__MSG_KEYS_AND_INPUT)
                s = hg_fail(HG_ERR_PROTOCOL, "expected KeysAndInput%s, the client sent %s",
                            i == 0 && !started ? " or Bye" : "", net_frame_name(f));
            if (s != HG_OK || *bye) {
                net_frame_free(f);
                break;
            }
            const Hgnet__KeysAndInput *k = f->keys_and_input;
            bool has_keys = k->has_public_key || k->has_relin_key || k->has_galois_keys;
            if (has_keys && (ss->pk || i > 0 || started))
                s = hg_fail(HG_ERR_PROTOCOL, "keys are sent once, in the session's first frame");
            else if (!ss->pk && !has_keys)
                s = hg_fail(HG_ERR_PROTOCOL, "the session's first frame carries no keys");
            else if (has_keys)
                s = read_keys(ss, k);
            if (s == HG_OK && k->input != i)
                s = hg_fail(HG_ERR_PROTOCOL, "a piece of input %u, input %zu expected", k->input,
                            i);
            if (s == HG_OK && !started) {
                hg_shape shape;
                if (!k->shape)
                    s = hg_fail(HG_ERR_PROTOCOL, "input %zu: the first piece has no shape", i);
                else
                    s = net_shape_read(k->shape, 0, &shape);
                if (s == HG_OK) {
                    bool same = shape.rank == srv->inputs[i].rank;
                    for (int d = 1; same && d < shape.rank; d++)
                        same = shape.dims[d] == srv->inputs[i].dims[d];
                    if (!same)
                        s = hg_fail(HG_ERR_PROTOCOL, "input %zu does not have the model's shape",
                                    i);
                    else if (shape.dims[0] < 1 || (size_t)shape.dims[0] > srv->max_batch)
                        s = hg_fail(HG_ERR_LIMIT, "a batch of %lld, the server takes 1 to %zu",
                                    (long long)shape.dims[0], srv->max_batch);
                    else if (i > 0 && (size_t)shape.dims[0] != *batch)
                        s = hg_fail(HG_ERR_PROTOCOL, "inputs with different batches");
                }
                if (s == HG_OK) {
                    *batch = (size_t)shape.dims[0];
                    net_assembly_init(&a, &shape);
                    started = true;
                }
            }
            if (s == HG_OK)
                s = net_assembly_add(&a, srv->ctx, k->piece, "encrypted input");
            net_frame_free(f);
            if (s == HG_OK && net_assembly_complete(&a)) {
                inputs[i] = a.t;
                a.t = NULL;
                net_assembly_clear(&a);
                break;
            }
        }
        if (*bye)
            break;
    }
    net_assembly_clear(&a);
    return s;
}

static hg_status send_outputs(session *ss, hg_he_tensor *const *outputs, double server_seconds) {
    const hg_net_server *srv = ss->srv;
    for (size_t i = 0; i < srv->n_outputs; i++) {
        const hg_he_tensor *t = outputs[i];
        hg_shape shape;
        hg_he_tensor_shape(t, &shape);
        const size_t count = hg_he_tensor_count(t);
        const size_t per = net_piece_cts(srv->o.piece_cts, srv->o.max_frame_bytes,
                                         hg_he_tensor_size_bytes(t) / count, 1);
        const size_t n_pieces = (count + per - 1) / per;
        const size_t grp = net_piece_group();
        for (size_t k0 = 0; k0 < n_pieces; k0 += grp) {
            size_t m = n_pieces - k0 < grp ? n_pieces - k0 : grp;
            uint8_t *bufs[NET_PIECE_GROUP];
            size_t lens[NET_PIECE_GROUP];
            hg_status s = net_tensor_pieces(t, per, k0, m, bufs, lens);
            for (size_t j = 0; j < m; j++) {
                const size_t k = k0 + j;
                Hgnet__Piece p = HGNET__PIECE__INIT;
                p.index = (uint32_t)k;
                p.count = (uint32_t)n_pieces;
                p.offset = k * per;
                p.tensor.data = bufs[j];
                p.tensor.len = lens[j];
                Hgnet__Shape sh;
                net_shape_view(&shape, 0, &sh);
                Hgnet__Output o = HGNET__OUTPUT__INIT;
                o.output = (uint32_t)i;
                o.shape = k == 0 ? &sh : NULL;
                o.piece = &p;
                if (i + 1 == srv->n_outputs && k + 1 == n_pieces) {
                    o.has_server_seconds = true;
                    o.server_seconds = server_seconds;
                }
                Hgnet__Frame f = HGNET__FRAME__INIT;
                f.msg_case = HGNET__FRAME__MSG_OUTPUT;
                f.output = &o;
                if (s == HG_OK)
                    s = net_conn_send(&ss->conn, &f);
                free(bufs[j]);
            }
            HG_TRY(s);
        }
    }
    return HG_OK;
}

static hg_status session_run(session *ss) {
    hg_net_server *srv = ss->srv;
    HG_TRY(send_hello(ss));
    for (;;) {
        hg_he_tensor *inputs[MAX_IO] = {0}, *outputs[MAX_IO] = {0};
        size_t batch = 0;
        bool bye = false;
        hg_status s = receive_inputs(ss, inputs, &batch, &bye);
        hg_he_run_stats rs = {0};
        if (s == HG_OK && !bye) {
            hg_he_run_opts ro = {.client = session_client, .client_user = ss, .pk = ss->pk};
            s = hg_he_run(srv->m, ss->rlk, ss->gk, inputs, srv->n_inputs, &ro, outputs, &rs);
        }
        for (size_t i = 0; i < srv->n_inputs; i++)
            hg_he_tensor_free(inputs[i]);
        if (s == HG_OK && !bye) {
            s = send_outputs(ss, outputs, rs.server_seconds);
            ss->st.batches++;
            ss->st.samples += batch;
            ss->st.server_seconds += rs.server_seconds;
            ss->st.client_seconds += rs.client_seconds;
        }
        for (size_t i = 0; i < srv->n_outputs; i++)
            hg_he_tensor_free(outputs[i]);
        if (s != HG_OK || bye)
            return s;
    }
}

typedef struct session_start {
    hg_net_server *srv;
    int fd;
    uint64_t id;
    char peer[80];
} session_start;

static void *session_main(void *arg) {
    session_start start = *(session_start *)arg;
    free(arg);
    hg_net_server *srv = start.srv;
    session *ss = calloc(1, sizeof *ss);
    hg_status s;
    double t0 = hg_now();
    if (!ss) {
        close(start.fd);
        s = hg_fail(HG_ERR_NOMEM, "out of memory for a session");
    } else {
        ss->srv = srv;
        ss->id = start.id;
        memcpy(ss->peer, start.peer, sizeof ss->peer);
        s = net_conn_init(&ss->conn, start.fd, srv->o.timeout_ms, srv->o.max_frame_bytes,
                          session_hook, ss);
        if (s == HG_OK) {
            slog(srv, HG_NET_LOG_INFO, ss->id, HG_OK, "client %s connected", ss->peer);
            s = session_run(ss);
            char msg[NET_MAX_MESSAGE];
            snprintf(msg, sizeof msg, "%s", s != HG_OK ? hg_last_error() : "");
            if (s != HG_OK) {
                /* The client hears why, unless it is the one that broke the connection. */
                net_conn_send_error(&ss->conn, s, msg);
                net_conn_abort(&ss->conn);
            }
            pthread_mutex_lock(&ss->conn.mu);
            hg_net_stats st = ss->conn.st;
            pthread_mutex_unlock(&ss->conn.mu);
            ss->st.bytes_sent = st.bytes_sent;
            ss->st.bytes_received = st.bytes_received;
            ss->st.frames_sent = st.frames_sent;
            ss->st.frames_received = st.frames_received;
            ss->st.wall_seconds = hg_now() - t0;
            net_conn_clear(&ss->conn);
            if (s != HG_OK)
                slog(srv, HG_NET_LOG_ERROR, ss->id, s, "client %s: %s: %s", ss->peer,
                     hg_status_name(s), msg);
            else
                slog(srv, HG_NET_LOG_INFO, ss->id, HG_OK,
                     "client %s done: %llu batches, %llu samples, %llu requests, %llu bytes "
                     "sent, %llu received, server %.3f s",
                     ss->peer, (unsigned long long)ss->st.batches,
                     (unsigned long long)ss->st.samples, (unsigned long long)ss->st.requests,
                     (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_received,
                     ss->st.server_seconds);
            if (srv->o.on_session)
                srv->o.on_session(srv->o.session_user, ss->id, s, &ss->st);
        } else
            slog(srv, HG_NET_LOG_ERROR, start.id, s, "client %s: %s: %s", start.peer,
                 hg_status_name(s), hg_last_error());
        hg_ckks_pk_free(ss->pk);
        hg_ckks_rlk_free(ss->rlk);
        hg_ckks_gk_free(ss->gk);
        free(ss);
    }
    pthread_mutex_lock(&srv->mu);
    srv->active--;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t cap) {
    char host[64] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(out, cap, "%s:%d", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(out, cap, "[%s]:%d", host, port);
    } else
        snprintf(out, cap, "?");
}

hg_status hg_net_server_run(hg_net_server *s) {
    for (;;) {
        if (atomic_load(&s->stop))
            break;
        pthread_mutex_lock(&s->mu);
        bool full = s->active >= s->o.max_sessions;
        bool enough = s->o.max_clients && s->accepted >= s->o.max_clients;
        if (full && !enough) {
            /* Wait for a session to end; clients meanwhile wait in the listen backlog. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        pthread_mutex_unlock(&s->mu);
        if (enough)
            break;
        if (full)
            continue;
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        int rc = poll(&p, 1, 100);
        if (rc <= 0)
            continue;
        struct sockaddr_storage addr;
        socklen_t al = sizeof addr;
        int fd = accept4(s->lfd, (struct sockaddr *)&addr, &al, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED) {
                slog(s, HG_NET_LOG_ERROR, 0, HG_ERR_IO, "accept: %s", strerror(errno));
                usleep(100000); /* out of descriptors, say: do not spin */
            }
            continue;
        }
        session_start *st = malloc(sizeof *st);
        if (!st) {
            close(fd);
            continue;
        }
        st->srv = s;
        st->fd = fd;
        peer_name(&addr, st->peer, sizeof st->peer);
        pthread_mutex_lock(&s->mu);
        st->id = ++s->accepted;
        s->active++;
        pthread_mutex_unlock(&s->mu);
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &attr, session_main, st) != 0) {
            slog(s, HG_NET_LOG_ERROR, st->id, HG_ERR_INTERNAL, "cannot start a session thread");
            close(fd);
            free(st);
            pthread_mutex_lock(&s->mu);
            s->active--;
            pthread_mutex_unlock(&s->mu);
        }
        pthread_attr_destroy(&attr);
    }
    pthread_mutex_lock(&s->mu);
    while (s->active > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return HG_OK;
}
