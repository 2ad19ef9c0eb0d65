/*
 * The protocol over loopback: a server thread on an ephemeral port, clients in the test's
 * thread. A small CNN (Conv, Relu, MaxPool, Conv, Clip(0, 6) = ReLU6, Gemm) on insecure N = 1024
 * parameters gives the same predictions over TCP as in one process (hg_he_run_local) and as the
 * plain backend, masked and unmasked; the client in masked mode does not see the pre-activation
 * values. Then hostile or broken clients, each followed by a good one that must still be
 * served: keys of other parameters, a truncated frame, an oversized length prefix, a malformed
 * body, a dropped connection in the middle of a request, a stalled client.
 */
#include "graph_build.h"

#include "net/net.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH   6
#define CLASSES 4

/* ---- fixtures
 * ------------------------------------------------------------------------------------ */

typedef struct fixture {
    hg_ckks_params *p, *p_other;
    hg_net_keys keys, keys2, other; /* two clients' keys, and keys of other parameters */
    hg_graph *g, *pre;              /* the CNN; its first Conv alone (the first pre-activation) */
    hg_he_model *plain_model, *masked_model;
    hg_ndarray *x, *want, *want_pre;
    hg_he_client *local;
} fixture;

static fixture F;

/* N = 1024 (insecure, for speed), five 30-bit primes between a 45-bit q0 and the special. */
static hg_status make_params(int log_n, hg_ckks_params **out) {
    hg_ckks_params_lit lit = {.log_n = log_n,
                              .n_primes = 7,
                              .bits = {45, 30, 30, 30, 30, 30, 50},
                              .n_special = 1,
                              .scale = 0x1p30,
                              .insecure = true};
    return hg_ckks_params_new(&lit, out);
}

static int64_t first_conv(hg_graph *g, int64_t x, hg_test_rng *r) {
    int64_t wd[4] = {3, 1, 3, 3}, bd[1] = {3};
    hg_node_attr a;
    hg_node_attr_default(HG_OP_CONV, &a);
    for (int i = 0; i < 4; i++)
        a.window.pads[i] = 1;
    int64_t in[3] = {x, tg_random_const(g, "w1", 4, wd, 0.6, r),
                     tg_random_const(g, "b1", 1, bd, 0.3, r)};
    return tg_node(g, HG_OP_CONV, "conv1", in, 3, &a);
}

/* x (B, 1, 8, 8) -> Conv 3x3 (3 channels) -> Relu -> MaxPool 2x2 -> Conv 1x1 (4 channels)
 * -> Clip(0, 6) -> Flatten -> Gemm 64 -> 4. */
static hg_graph *build_cnn(bool only_first) {
    hg_test_rng r;
    hg_test_rng_init(&r, 31);
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    int64_t d[4] = {BATCH, 1, 8, 8};
    int64_t y = first_conv(g, tg_input(g, "x", 4, d), &r);
    if (only_first) {
        hg_assert_ok(hg_graph_add_output(g, y));
        return g;
    }
    y = tg_node(g, HG_OP_RELU, "relu", &y, 1, NULL);
    hg_node_attr mp;
    hg_node_attr_default(HG_OP_MAXPOOL, &mp);
    mp.window.kernel[0] = mp.window.kernel[1] = 2;
    mp.window.strides[0] = mp.window.strides[1] = 2;
    mp.window.has_kernel = true;
    mp.window.n_spatial = 2;
    y = tg_node(g, HG_OP_MAXPOOL, "maxpool", &y, 1, &mp);
    int64_t w2[4] = {4, 3, 1, 1}, b2[1] = {4};
    hg_node_attr c2;
    hg_node_attr_default(HG_OP_CONV, &c2);
    int64_t in2[3] = {y, tg_random_const(g, "w2", 4, w2, 1.5, &r),
                      tg_random_const(g, "b2", 1, b2, 1.0, &r)};
    y = tg_node(g, HG_OP_CONV, "conv2", in2, 3, &c2);
    hg_node_attr cl;
    hg_node_attr_default(HG_OP_CLIP, &cl);
    cl.clip.min = 0;
    cl.clip.max = 6;
    y = tg_node(g, HG_OP_CLIP, "relu6", &y, 1, &cl);
    y = tg_node(g, HG_OP_FLATTEN, "flat", &y, 1, NULL);
    hg_node_attr gm;
    hg_node_attr_default(HG_OP_GEMM, &gm);
    gm.gemm.trans_b = true;
    int64_t gd[2] = {CLASSES, 64}, gb[1] = {CLASSES};
    int64_t gin[3] = {y, tg_random_const(g, "wg", 2, gd, 0.5, &r),
                      tg_random_const(g, "bg", 1, gb, 0.2, &r)};
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_GEMM, "fc", gin, 3, &gm)));
    return g;
}

static int setup(void **state) {
    (void)state;
    if (make_params(10, &F.p) || make_params(11, &F.p_other) ||
        hg_net_keys_generate(F.p, false, &F.keys) || hg_net_keys_generate(F.p, false, &F.keys2) ||
        hg_net_keys_generate(F.p_other, false, &F.other))
        return -1;
    F.g = build_cnn(false);
    F.pre = build_cnn(true);
    if (hg_graph_optimize(F.g, BATCH) || hg_graph_optimize(F.pre, BATCH))
        return -1;
    hg_he_opts o;
    hg_he_opts_default(&o);
    o.masking = false;
    if (hg_he_model_new(F.g, F.keys.ctx, &o, BATCH, &F.plain_model))
        return -1;
    o.masking = true;
    if (hg_he_model_new(F.g, F.keys.ctx, &o, BATCH, &F.masked_model))
        return -1;
    hg_test_rng r;
    hg_test_rng_init(&r, 32);
    int64_t d[4] = {BATCH, 1, 8, 8};
    F.x = tg_random_array(4, d, 1.0, &r);
    const hg_ndarray *in[1] = {F.x};
    if (hg_plain_run(F.g, in, 1, &F.want) || hg_plain_run(F.pre, in, 1, &F.want_pre))
        return -1;
    return hg_he_client_new(F.keys.ctx, F.keys.sk, false, 0, &F.local) ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    hg_he_client_free(F.local);
    hg_ndarray_free(F.x);
    hg_ndarray_free(F.want);
    hg_ndarray_free(F.want_pre);
    hg_he_model_free(F.plain_model);
    hg_he_model_free(F.masked_model);
    hg_graph_free(F.g);
    hg_graph_free(F.pre);
    hg_net_keys_clear(&F.keys);
    hg_net_keys_clear(&F.keys2);
    hg_net_keys_clear(&F.other);
    hg_ckks_params_free(F.p);
    hg_ckks_params_free(F.p_other);
    return 0;
}

/* ---- a server in a thread, with its log captured
 * -------------------------------------------------- */

typedef struct log_entry {
    hg_net_log_level level;
    uint64_t session;
    hg_status status;
    char msg[600];
} log_entry;

typedef struct server {
    hg_net_server *s;
    pthread_t th;
    pthread_mutex_t mu;
    log_entry log[64];
    size_t n_log;
    char address[64];
} server;

static void capture(void *user, hg_net_log_level level, uint64_t session, hg_status status,
                    const char *msg) {
    server *sv = user;
    pthread_mutex_lock(&sv->mu);
    if (sv->n_log < 64) {
        log_entry *e = &sv->log[sv->n_log++];
        e->level = level;
        e->session = session;
        e->status = status;
        snprintf(e->msg, sizeof e->msg, "%s", msg);
    }
    pthread_mutex_unlock(&sv->mu);
}

static void *server_main(void *arg) {
    server *sv = arg;
    hg_assert_ok(hg_net_server_run(sv->s));
    return NULL;
}

/* Starts a server for m that serves `clients` sessions, then returns. */
static void server_start(server *sv, const hg_he_model *m, uint64_t clients, int timeout_ms,
                         uint32_t piece_cts) {
    memset(sv, 0, sizeof *sv);
    pthread_mutex_init(&sv->mu, NULL);
    hg_net_server_opts o;
    hg_net_server_opts_default(&o);
    o.listen = "127.0.0.1:0";
    o.max_clients = clients;
    o.max_sessions = 2;
    o.timeout_ms = timeout_ms;
    o.piece_cts = piece_cts;
    o.log = capture;
    o.log_user = sv;
    hg_assert_ok(hg_net_server_new(m, &o, &sv->s));
    snprintf(sv->address, sizeof sv->address, "127.0.0.1:%d", hg_net_server_port(sv->s));
    assert_int_equal(pthread_create(&sv->th, NULL, server_main, sv), 0);
}

static void server_join(server *sv) {
    pthread_join(sv->th, NULL);
    hg_net_server_free(sv->s);
    pthread_mutex_destroy(&sv->mu);
    for (size_t i = 0; i < sv->n_log; i++)
        print_message("#   server log: session %llu: %s\n", (unsigned long long)sv->log[i].session,
                      sv->log[i].msg);
}

/* The session's error entry must have status want and contain needle. */
static void expect_error(const server *sv, uint64_t session, hg_status want, const char *needle) {
    for (size_t i = 0; i < sv->n_log; i++) {
        const log_entry *e = &sv->log[i];
        if (e->session == session && e->level == HG_NET_LOG_ERROR) {
            if (e->status != want || !strstr(e->msg, needle))
                fail_msg("session %llu ended with %s: %s; expected %s with \"%s\"",
                         (unsigned long long)session, hg_status_name(e->status), e->msg,
                         hg_status_name(want), needle);
            return;
        }
    }
    fail_msg("session %llu logged no error (expected %s: %s)", (unsigned long long)session,
             hg_status_name(want), needle);
}

static void expect_done(const server *sv, uint64_t session) {
    for (size_t i = 0; i < sv->n_log; i++)
        if (sv->log[i].session == session && sv->log[i].level == HG_NET_LOG_INFO &&
            strstr(sv->log[i].msg, " done: "))
            return;
    fail_msg("session %llu did not end normally", (unsigned long long)session);
}

/* ---- clients
 * ---------------------------------------------------------------------------------------- */

static size_t argmax(const double *v, size_t n) {
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

/* Worst error against the plain backend, and the predictions must be the same. */
static double check_outputs(const hg_ndarray *got, const char *what) {
    assert_int_equal(got->size, F.want->size);
    double worst = 0;
    for (size_t i = 0; i < got->size; i++)
        worst = fmax(worst, fabs(got->data[i] - F.want->data[i]));
    for (size_t b = 0; b < BATCH; b++)
        if (argmax(got->data + b * CLASSES, CLASSES) != argmax(F.want->data + b * CLASSES, CLASSES))
            fail_msg("%s: sample %zu: another prediction than the plain backend's", what, b);
    print_message("#   %-28s max error %.2e against the plain backend\n", what, worst);
    assert_true(worst < 1e-2);
    return worst;
}

static hg_net_client *connect_keys(const server *sv, const hg_net_keys *k, int timeout_ms) {
    hg_net_client_opts o;
    hg_net_client_opts_default(&o);
    o.allow_insecure = true;
    o.timeout_ms = timeout_ms;
    hg_net_client *c;
    hg_assert_ok(hg_net_client_connect(sv->address, k->ctx, k->sk, k->pk, k->rlk, k->gk, &o, &c));
    return c;
}

/* A good client: one batch (or two), checked against the plain backend. */
static void good_client(const server *sv, const hg_net_keys *k, int batches, hg_ndarray **keep,
                        hg_net_stats *st) {
    hg_net_client *c = connect_keys(sv, k, 20000);
    const hg_ndarray *in[1] = {F.x};
    for (int b = 0; b < batches; b++) {
        hg_ndarray *y;
        hg_assert_ok(hg_net_client_infer(c, in, 1, &y, st));
        check_outputs(y, "over TCP");
        if (keep && b == 0)
            *keep = y;
        else
            hg_ndarray_free(y);
    }
    hg_net_client_close(c);
}

/* ---- the same answers
 * ----------------------------------------------------------------------------- */

static void run_mode(const hg_he_model *m, const char *mode, hg_ndarray **tcp_out) {
    /* In one process. */
    const hg_ndarray *in[1] = {F.x};
    hg_ndarray *local;
    hg_assert_ok(hg_he_run_local(m, F.local, F.keys.rlk, F.keys.gk, in, 1, &local, NULL));
    check_outputs(local, mode);
    /* Over TCP, in small pieces (several per request) and in one piece. */
    for (int big = 0; big <= 1; big++) {
        server sv;
        server_start(&sv, m, 1, 30000, big ? 4096 : 7);
        hg_net_stats st = {0};
        hg_ndarray *y = NULL;
        good_client(&sv, &F.keys, 2, &y, &st);
        server_join(&sv);
        expect_done(&sv, 1);
        print_message("#   %s, pieces of %d: %llu bytes sent, %llu received, %llu requests "
                      "(%llu masked), %llu frames sent\n",
                      mode, big ? 4096 : 7, (unsigned long long)st.bytes_sent,
                      (unsigned long long)st.bytes_received, (unsigned long long)st.requests,
                      (unsigned long long)st.masked_requests, (unsigned long long)st.frames_sent);
        assert_true(st.requests >= 3);
        /* Over TCP and in one process agree closely: the same computation, other noise. */
        for (size_t i = 0; i < y->size; i++)
            hg_assert_close(y->data[i], local->data[i], 1e-2);
        if (big)
            *tcp_out = y;
        else
            hg_ndarray_free(y);
    }
    hg_ndarray_free(local);
}

static void test_same_predictions(void **state) {
    (void)state;
    hg_ndarray *unmasked, *masked;
    run_mode(F.plain_model, "unmasked", &unmasked);
    run_mode(F.masked_model, "masked", &masked);
    /* Masked and unmasked agree. */
    for (size_t i = 0; i < masked->size; i++)
        hg_assert_close(masked->data[i], unmasked->data[i], 1e-2);
    hg_ndarray_free(masked);
    hg_ndarray_free(unmasked);
}

/* A batch smaller than the model's, masked and unmasked. */
static void test_smaller_batch(void **state) {
    (void)state;
    const hg_he_model *models[2] = {F.plain_model, F.masked_model};
    for (int i = 0; i < 2; i++) {
        server sv;
        server_start(&sv, models[i], 1, 30000, 32);
        hg_net_client *c = connect_keys(&sv, &F.keys, 20000);
        int64_t d[4] = {4, 1, 8, 8};
        hg_ndarray *x, *y;
        hg_assert_ok(hg_ndarray_new(4, d, &x));
        memcpy(x->data, F.x->data, x->size * sizeof *x->data);
        const hg_ndarray *in[1] = {x};
        hg_assert_ok(hg_net_client_infer(c, in, 1, &y, NULL));
        assert_int_equal(y->dims[0], 4);
        for (size_t k = 0; k < y->size; k++)
            hg_assert_close(y->data[k], F.want->data[k], 1e-2);
        hg_ndarray_free(y);
        /* A batch above the server's is refused before anything is sent; the session goes on. */
        int64_t big[4] = {BATCH + 1, 1, 8, 8};
        hg_ndarray *xb;
        hg_assert_ok(hg_ndarray_new(4, big, &xb));
        const hg_ndarray *inb[1] = {xb};
        hg_assert_fails(hg_net_client_infer(c, inb, 1, &y, NULL), HG_ERR_INVALID_ARG,
                        "the server takes 1 to 6");
        hg_ndarray_free(xb);
        hg_assert_ok(hg_net_client_infer(c, in, 1, &y, NULL));
        hg_ndarray_free(y);
        hg_ndarray_free(x);
        hg_net_client_close(c);
        server_join(&sv);
        expect_done(&sv, 1);
    }
}

/* Two clients at once, each with its own keys. */
typedef struct concurrent {
    const server *sv;
    const hg_net_keys *k;
} concurrent;

static void *concurrent_client(void *arg) {
    concurrent *cc = arg;
    good_client(cc->sv, cc->k, 1, NULL, NULL);
    return NULL;
}

static void test_concurrent_clients(void **state) {
    (void)state;
    server sv;
    server_start(&sv, F.masked_model, 2, 30000, 16);
    concurrent a = {&sv, &F.keys}, b = {&sv, &F.keys2};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, concurrent_client, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, concurrent_client, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    server_join(&sv);
    expect_done(&sv, 1);
    expect_done(&sv, 2);
}

/* ---- what the client sees
 * ------------------------------------------------------------------------ */

typedef struct seen {
    bool masked;
    size_t batch, count, got;
    double *v; /* request 1, sample-major */
} seen;

static void observer(void *user, uint64_t request, const hg_he_activation *act, size_t offset,
                     const double *values, size_t batch, size_t count) {
    seen *s = user;
    if (request != 1)
        return;
    if (!s->v) {
        s->masked = act->masked;
        s->batch = batch;
        s->count = 1;
        for (int d = 1; d < act->in_shape.rank; d++)
            s->count *= (size_t)act->in_shape.dims[d];
        s->v = calloc(batch * s->count, sizeof *s->v);
    }
    assert_true(offset + count <= s->count);
    for (size_t b = 0; b < batch; b++)
        memcpy(s->v + b * s->count + offset, values + b * count, count * sizeof *values);
    s->got += count;
}

static void observe_first_request(const hg_he_model *m, seen *s) {
    server sv;
    server_start(&sv, m, 1, 30000, 50);
    hg_net_client *c = connect_keys(&sv, &F.keys, 20000);
    memset(s, 0, sizeof *s);
    hg_net_client_set_observer(c, observer, s);
    const hg_ndarray *in[1] = {F.x};
    hg_ndarray *y;
    hg_assert_ok(hg_net_client_infer(c, in, 1, &y, NULL));
    hg_ndarray_free(y);
    hg_net_client_close(c);
    server_join(&sv);
    assert_true(s->v && s->got == s->count);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_masked_values_hidden(void **state) {
    (void)state;
    const size_t per = F.want_pre->size / BATCH; /* 3 x 8 x 8 pre-activations per sample */
    seen u, m;
    observe_first_request(F.plain_model, &u);
    observe_first_request(F.masked_model, &m);
    /* Unmasked: the client sees exactly the server's pre-activation values. */
    assert_false(u.masked);
    assert_int_equal(u.count, per);
    for (size_t i = 0; i < u.batch * u.count; i++)
        hg_assert_close(u.v[i], F.want_pre->data[i], 1e-3);
    /* Masked: the same number of values (or more), but neither at their places nor equal up to
     * the order: each differs by a secret factor and the order is shuffled. */
    assert_true(m.masked);
    assert_int_equal(m.batch, BATCH);
    size_t same_place = 0, n = m.count < per ? m.count : per;
    for (size_t b = 0; b < BATCH; b++)
        for (size_t i = 0; i < n; i++)
            same_place += fabs(m.v[b * m.count + i] - F.want_pre->data[b * per + i]) < 1e-3;
    print_message("#   masked: %zu of %zu values at their place, request of %zu per sample\n",
                  same_place, BATCH * n, m.count);
    assert_true(same_place < BATCH * n / 20);
    /* Sorted, sample 0: the multiset of values differs too (the factors). */
    double *a = malloc(per * sizeof *a), *b = malloc(m.count * sizeof *b);
    memcpy(a, F.want_pre->data, per * sizeof *a);
    memcpy(b, m.v, m.count * sizeof *b);
    qsort(a, per, sizeof *a, cmp_d);
    qsort(b, m.count, sizeof *b, cmp_d);
    size_t equal_sorted = 0;
    for (size_t i = 0; i < n; i++)
        equal_sorted += fabs(a[i] - b[i]) < 1e-3;
    print_message("#   masked: %zu of %zu sorted values equal\n", equal_sorted, n);
    assert_true(equal_sorted < n / 10);
    free(a);
    free(b);
    free(u.v);
    free(m.v);
}

/* ---- hostile and broken clients
 * ------------------------------------------------------------------- */

/* A raw connection: receives Hello, then does what the test says. */
static int raw_connect(const server *sv, Hgnet__Frame **hello) {
    int fd;
    hg_assert_ok(net_connect(sv->address, 2000, &fd));
    hg_assert_ok(net_socket_setup(fd));
    uint8_t *body;
    uint64_t len;
    bool clean;
    hg_assert_ok(net_frame_read(fd, 1 << 20, 2000, 2000, NULL, NULL, NULL, &body, &len, &clean));
    Hgnet__Frame *f;
    hg_assert_ok(net_frame_decode(body, len, &f));
    free(body);
    assert_int_equal(f->msg_case, HGNET__FRAME__MSG_HELLO);
    if (hello)
        *hello = f;
    else
        net_frame_free(f);
    return fd;
}

/* Sends the keys k and an encrypted batch, as a client would. */
static void raw_send_keys_input(int fd, const hg_net_keys *k) {
    size_t pk_len = hg_ckks_pk_size_bytes(k->pk), w;
    uint8_t *pk = malloc(pk_len);
    hg_assert_ok(hg_ckks_pk_write(k->pk, pk, pk_len, &w));
    hg_he_client *hc;
    hg_assert_ok(hg_he_client_new(k->ctx, k->sk, false, 0, &hc));
    hg_he_tensor *t;
    hg_assert_ok(hg_he_client_encrypt(hc, F.x, &t));
    uint8_t *tb;
    size_t tl;
    hg_assert_ok(net_tensor_piece(t, 0, hg_he_tensor_count(t), &tb, &tl));
    hg_shape shape;
    hg_he_tensor_shape(t, &shape);
    Hgnet__Shape sh;
    net_shape_view(&shape, 0, &sh);
    Hgnet__Piece p = HGNET__PIECE__INIT;
    p.count = 1;
    p.tensor.data = tb;
    p.tensor.len = tl;
    Hgnet__KeysAndInput m = HGNET__KEYS_AND_INPUT__INIT;
    m.has_public_key = true;
    m.public_key.data = pk;
    m.public_key.len = w;
    m.shape = &sh;
    m.piece = &p;
    Hgnet__Frame f = HGNET__FRAME__INIT;
    f.msg_case = HGNET__FRAME__MSG_KEYS_AND_INPUT;
    f.keys_and_input = &m;
    uint64_t bytes;
    hg_assert_ok(net_frame_write(fd, &f, (uint64_t)1 << 30, 2000, &bytes));
    free(pk);
    free(tb);
    hg_he_tensor_free(t);
    hg_he_client_free(hc);
}

typedef enum hostile {
    H_OTHER_PARAMS_CLIENT, /* a regular client whose keys have other parameters */
    H_OTHER_PARAMS_KEYS,   /* a raw client that sends keys of other parameters */
    H_TRUNCATED,
    H_OVERSIZED,
    H_MALFORMED,
    H_BAD_MAGIC,
    H_DROP_MID_REQUEST,
    H_STALL_START,
    H_STALL_MID_REQUEST,
    H_STALL_MID_FRAME,
} hostile;

static void run_hostile(hostile h, hg_status want, const char *needle) {
    server sv;
    server_start(&sv, F.masked_model, 2, 800, 16);
    if (h == H_OTHER_PARAMS_CLIENT) {
        hg_net_client_opts o;
        hg_net_client_opts_default(&o);
        o.allow_insecure = true;
        hg_net_client *c = NULL;
        hg_net_keys *k = &F.other;
        hg_assert_fails(
            hg_net_client_connect(sv.address, k->ctx, k->sk, k->pk, k->rlk, k->gk, &o, &c),
            HG_ERR_PARAMS, "are not those of the keys");
        assert_null(c);
    } else {
        int fd = raw_connect(&sv, NULL);
        uint8_t h12[NET_HEADER_BYTES];
        switch (h) {
        case H_OTHER_PARAMS_KEYS:
            raw_send_keys_input(fd, &F.other);
            break;
        case H_TRUNCATED:
            net_frame_header(h12, 1000);
            hg_assert_ok(net_write_all(fd, h12, sizeof h12, 1000));
            hg_assert_ok(net_write_all(fd, "0123456789", 10, 1000));
            break;
        case H_OVERSIZED:
            net_frame_header(h12, (uint64_t)1 << 50);
            hg_assert_ok(net_write_all(fd, h12, sizeof h12, 1000));
            break;
        case H_MALFORMED:
            net_frame_header(h12, 8);
            hg_assert_ok(net_write_all(fd, h12, sizeof h12, 1000));
            hg_assert_ok(net_write_all(fd, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, 1000));
            break;
        case H_BAD_MAGIC:
            hg_assert_ok(net_write_all(fd, "GET / HTTP/1.1\r\n\r\n", 18, 1000));
            break;
        case H_DROP_MID_REQUEST:
        case H_STALL_MID_REQUEST: {
            raw_send_keys_input(fd, &F.keys);
            /* Wait for the first piece of the first request, then drop or stall. */
            uint8_t *body;
            uint64_t len;
            bool clean;
            hg_assert_ok(net_frame_read(fd, (uint64_t)1 << 30, 5000, 5000, NULL, NULL, NULL, &body,
                                        &len, &clean));
            free(body);
            if (h == H_STALL_MID_REQUEST)
                usleep(1600 * 1000);
            break;
        }
        case H_STALL_START:
            usleep(1600 * 1000);
            break;
        case H_STALL_MID_FRAME:
            net_frame_header(h12, 100);
            hg_assert_ok(net_write_all(fd, h12, sizeof h12, 1000));
            usleep(1600 * 1000);
            break;
        default:
            break;
        }
        close(fd);
    }
    /* The next client is served. */
    good_client(&sv, &F.keys, 1, NULL, NULL);
    server_join(&sv);
    expect_error(&sv, 1, want, needle);
    expect_done(&sv, 2);
}

static void test_other_parameters(void **state) {
    (void)state;
    run_hostile(H_OTHER_PARAMS_CLIENT, HG_ERR_PARAMS, "are not those of the keys");
    run_hostile(H_OTHER_PARAMS_KEYS, HG_ERR_FORMAT, "made with other parameters");
}

static void test_bad_frames(void **state) {
    (void)state;
    run_hostile(H_TRUNCATED, HG_ERR_PROTOCOL, "truncated frame");
    run_hostile(H_OVERSIZED, HG_ERR_LIMIT, "the limit is");
    run_hostile(H_MALFORMED, HG_ERR_PROTOCOL, "malformed");
    run_hostile(H_BAD_MAGIC, HG_ERR_PROTOCOL, "bad magic");
}

static void test_dropped_connection(void **state) {
    (void)state;
    run_hostile(H_DROP_MID_REQUEST, HG_ERR_IO, "closed");
}

static void test_stalled_client(void **state) {
    (void)state;
    run_hostile(H_STALL_START, HG_ERR_TIMEOUT, "nothing for 800 ms");
    run_hostile(H_STALL_MID_REQUEST, HG_ERR_TIMEOUT, "nothing for 800 ms");
    run_hostile(H_STALL_MID_FRAME, HG_ERR_TIMEOUT, "stalled in a frame");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_predictions),   cmocka_unit_test(test_smaller_batch),
        cmocka_unit_test(test_concurrent_clients), cmocka_unit_test(test_masked_values_hidden),
        cmocka_unit_test(test_other_parameters),   cmocka_unit_test(test_bad_frames),
        cmocka_unit_test(test_dropped_connection), cmocka_unit_test(test_stalled_client),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
