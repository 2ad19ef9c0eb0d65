/*
 * The client-aided protocol over loopback TCP: a server thread and a client in one process, as
 * two peers that share nothing but the socket. For a ReLU variant of CryptoNets (Conv 5x5
 * stride 2 -> Relu -> Gemm 845 -> 100 -> Relu -> Gemm 100 -> 10) and one MobileNetV2-like
 * layer (depthwise Conv 3x3 -> ReLU6 -> Conv 1x1 on 16 channels of 24 x 24), random weights,
 * masked and unmasked: bytes each way per batch and per image, round trips, server time (the
 * model's computation) and client time (encryption, answers, decryption), and the wall time.
 *
 *   bench_net [--batch B] [--reps R] [--only cryptonets|mobilenet] [--unmasked-only]
 *
 * Parameters are chosen for each model at 128-bit security (hg_he_params_auto, a scale of at
 * least 2^24, 6 bits of headroom, real packing); the batch defaults to the slot capacity.
 */
#include "graph/graph.h"
#include "hegraph/hegraph.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        hg_status s_ = (expr);                                                                     \
        if (s_ != HG_OK) {                                                                         \
            fprintf(stderr, "bench_net: %s: %s\n", hg_status_name(s_), hg_last_error());           \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* ---- graphs built in code -------------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double uniform(double amp) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) / 9007199254740992.0 * 2 - 1) * amp;
}

static int64_t value(hg_graph *g, const char *name, hg_value_kind kind, int rank,
                     const int64_t *dims) {
    int64_t v;
    CHECK(hg_graph_add_value(g, name, kind, HG_DTYPE_FLOAT32, &v));
    g->values[v].shape.rank = rank;
    memcpy(g->values[v].shape.dims, dims, (size_t)rank * sizeof *dims);
    g->values[v].has_shape = true;
    return v;
}

/* A constant of random values in [-amp, amp]. */
static int64_t weights(hg_graph *g, const char *name, int rank, const int64_t *dims, double amp) {
    int64_t v = value(g, name, HG_VALUE_CONSTANT, rank, dims);
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (size_t)dims[i];
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = uniform(amp);
    CHECK(hg_value_set_f64(&g->values[v], d, n));
    free(d);
    return v;
}

static int64_t node(hg_graph *g, hg_op op, const char *name, const int64_t *in, size_t n,
                    const hg_node_attr *a) {
    char vname[64];
    snprintf(vname, sizeof vname, "%s_out", name);
    int64_t out;
    CHECK(hg_graph_add_value(g, vname, HG_VALUE_NODE, HG_DTYPE_FLOAT32, &out));
    CHECK(hg_graph_add_node(g, op, name, in, n, out, a));
    CHECK(hg_node_resolve(g, &g->nodes[g->n_nodes - 1], false));
    return out;
}

static hg_graph *cryptonets_relu(void) {
    hg_graph *g;
    CHECK(hg_graph_new(&g));
    int64_t xd[4] = {1, 1, 28, 28}, wd[4] = {5, 1, 5, 5}, bd[1] = {5}, g1[2] = {100, 845},
            g1b[1] = {100}, g2[2] = {10, 100}, g2b[1] = {10};
    int64_t x = value(g, "x", HG_VALUE_INPUT, 4, xd);
    CHECK(hg_graph_add_input(g, x));
    hg_node_attr c;
    hg_node_attr_default(HG_OP_CONV, &c);
    c.window.strides[0] = c.window.strides[1] = 2;
    c.window.pads[0] = c.window.pads[1] = 1; /* (28 + 1 - 5) / 2 + 1 = 13 */
    int64_t in[3] = {x, weights(g, "w1", 4, wd, 0.2), weights(g, "b1", 1, bd, 0.1)};
    int64_t y = node(g, HG_OP_CONV, "conv", in, 3, &c);
    y = node(g, HG_OP_RELU, "relu1", &y, 1, NULL);
    y = node(g, HG_OP_FLATTEN, "flat", &y, 1, NULL);
    hg_node_attr gm;
    hg_node_attr_default(HG_OP_GEMM, &gm);
    gm.gemm.trans_b = true;
    int64_t in2[3] = {y, weights(g, "fc1", 2, g1, 0.035), weights(g, "fc1b", 1, g1b, 0.1)};
    y = node(g, HG_OP_GEMM, "fc1", in2, 3, &gm);
    y = node(g, HG_OP_RELU, "relu2", &y, 1, NULL);
    int64_t in3[3] = {y, weights(g, "fc2", 2, g2, 0.1), weights(g, "fc2b", 1, g2b, 0.1)};
    CHECK(hg_graph_add_output(g, node(g, HG_OP_GEMM, "fc2", in3, 3, &gm)));
    return g;
}

static hg_graph *mobilenet_layer(void) {
    hg_graph *g;
    CHECK(hg_graph_new(&g));
    int64_t xd[4] = {1, 16, 24, 24}, dw[4] = {16, 1, 3, 3}, db[1] = {16}, pw[4] = {16, 16, 1, 1},
            pb[1] = {16};
    int64_t x = value(g, "x", HG_VALUE_INPUT, 4, xd);
    CHECK(hg_graph_add_input(g, x));
    hg_node_attr c;
    hg_node_attr_default(HG_OP_CONV, &c);
    c.window.group = 16;
    for (int i = 0; i < 4; i++)
        c.window.pads[i] = 1;
    int64_t in[3] = {x, weights(g, "dw", 4, dw, 0.5), weights(g, "dwb", 1, db, 0.2)};
    int64_t y = node(g, HG_OP_CONV, "depthwise", in, 3, &c);
    hg_node_attr cl;
    hg_node_attr_default(HG_OP_CLIP, &cl);
    cl.clip.min = 0;
    cl.clip.max = 6;
    y = node(g, HG_OP_CLIP, "relu6", &y, 1, &cl);
    hg_node_attr p;
    hg_node_attr_default(HG_OP_CONV, &p);
    int64_t in2[3] = {y, weights(g, "pw", 4, pw, 0.25), weights(g, "pwb", 1, pb, 0.2)};
    CHECK(hg_graph_add_output(g, node(g, HG_OP_CONV, "pointwise", in2, 3, &p)));
    return g;
}

/* ---- one run: a server thread, a client
 * ---------------------------------------------------------- */

static void *serve(void *arg) {
    CHECK(hg_net_server_run(arg));
    return NULL;
}

static void server_log(void *user, hg_net_log_level level, uint64_t session, hg_status status,
                       const char *msg) {
    (void)user;
    (void)session;
    if (level == HG_NET_LOG_ERROR)
        fprintf(stderr, "bench_net: server: %s: %s\n", hg_status_name(status), msg);
}

typedef struct result {
    hg_net_stats st; /* the median run's */
    double max_err;
    hg_status status; /* a failed mode is reported, and the bench goes on */
    char why[512];
} result;

/* A failure inside a run: recorded in the result, the run stops. */
#define TRY_RUN(expr)                                                                              \
    do {                                                                                           \
        hg_status s_ = (expr);                                                                     \
        if (s_ != HG_OK) {                                                                         \
            r.status = s_;                                                                         \
            snprintf(r.why, sizeof r.why, "%s", hg_last_error());                                  \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static int cmp_wall(const void *a, const void *b) {
    double x = ((const hg_net_stats *)a)->wall_seconds, y = ((const hg_net_stats *)b)->wall_seconds;
    return x < y ? -1 : x > y;
}

static result run(hg_graph *g, const hg_net_keys *k, const hg_ndarray *x, const hg_ndarray *want,
                  size_t batch, bool masked, int reps) {
    result r = {0};
    hg_he_opts o;
    hg_he_opts_default(&o);
    o.masking = masked;
    hg_he_model *m = NULL;
    hg_net_server *srv = NULL;
    hg_net_client *c = NULL;
    bool serving = false;
    pthread_t th;
    hg_net_stats *runs = calloc((size_t)reps + 1, sizeof *runs);
    TRY_RUN(hg_he_model_new(g, k->ctx, &o, batch, &m));
    TRY_RUN(hg_he_model_reserve(m));
    hg_net_server_opts so;
    hg_net_server_opts_default(&so);
    so.listen = "127.0.0.1:0";
    so.max_clients = 1;
    so.log = server_log;
    TRY_RUN(hg_net_server_new(m, &so, &srv));
    pthread_create(&th, NULL, serve, srv);
    serving = true;
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%d", hg_net_server_port(srv));
    hg_net_client_opts co;
    hg_net_client_opts_default(&co);
    TRY_RUN(hg_net_client_connect(address, k->ctx, k->sk, k->pk, k->rlk, k->gk, &co, &c));
    const hg_ndarray *in[1] = {x};
    /* The first batch also carries the keys: reported apart. */
    for (int i = 0; i <= reps; i++) {
        hg_ndarray *y;
        TRY_RUN(hg_net_client_infer(c, in, 1, &y, &runs[i]));
        for (size_t j = 0; j < y->size; j++)
            r.max_err = fmax(r.max_err, fabs(y->data[j] - want->data[j]));
        hg_ndarray_free(y);
    }
    qsort(runs + 1, (size_t)reps, sizeof *runs, cmp_wall);
    r.st = runs[1 + reps / 2];
    printf("    keys and first batch: %.2f MB sent (the keys: %.2f MB more than later batches)\n",
           (double)runs[0].bytes_sent / 1e6,
           ((double)runs[0].bytes_sent - (double)r.st.bytes_sent) / 1e6);
out:
    if (r.status != HG_OK)
        printf("    failed: %s: %s\n", hg_status_name(r.status), r.why);
    hg_net_client_close(c);
    if (serving) {
        if (r.status != HG_OK)
            hg_net_server_stop(srv);
        pthread_join(th, NULL);
    }
    hg_net_server_free(srv);
    hg_he_model_free(m);
    free(runs);
    return r;
}

static void bench(const char *name, hg_graph *g, int64_t batch_opt, int reps, bool both) {
    CHECK(hg_graph_optimize(g, 1));
    hg_he_params hp;
    CHECK(hg_he_params_auto(g, 24, 6, false, &hp));
    hg_ckks_params *p;
    CHECK(hg_ckks_params_new(&hp.lit, &p));
    hg_net_keys k;
    CHECK(hg_net_keys_generate(p, false, &k));
    const size_t cap = hg_ckks_params_slots(p);
    const size_t batch = batch_opt > 0 && (size_t)batch_opt < cap ? (size_t)batch_opt : cap;
    CHECK(hg_graph_infer_shapes(g, (int64_t)batch));
    hg_shape xs;
    hg_dtype dt;
    hg_graph_input_shape(g, 0, &xs, &dt);
    xs.dims[0] = (int64_t)batch;
    hg_ndarray *x, *want;
    CHECK(hg_ndarray_new(xs.rank, xs.dims, &x));
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = fabs(uniform(1.0));
    const hg_ndarray *in[1] = {x};
    CHECK(hg_plain_run(g, in, 1, &want));

    printf("\n%s: N = %zu, primes {", name, hg_ckks_params_n(p));
    for (int i = 0; i < hp.lit.n_primes; i++)
        printf("%s%d", i ? ", " : "", hp.lit.bits[i]);
    printf("}, %d-bit security, batch %zu, %d threads\n", hg_ckks_params_security(p), batch,
           omp_get_max_threads());
    result res[2];
    for (int masked = both ? 1 : 0; masked >= 0; masked--) {
        printf("  %s:\n", masked ? "masked" : "unmasked");
        res[masked] = run(g, &k, x, want, batch, masked, reps);
    }
    printf("  %-9s %12s %12s %12s %12s %6s %9s %9s %9s %9s\n", "mode", "sent/batch", "recv/batch",
           "sent/image", "recv/image", "trips", "server s", "client s", "wall s", "max err");
    for (int masked = both ? 1 : 0; masked >= 0; masked--) {
        const hg_net_stats *st = &res[masked].st;
        if (res[masked].status != HG_OK) {
            printf("  %-9s failed (%s)\n", masked ? "masked" : "unmasked",
                   hg_status_name(res[masked].status));
            continue;
        }
        printf("  %-9s %10.2f MB %10.2f MB %10.1f kB %10.1f kB %6llu %9.3f %9.3f %9.3f %9.2e\n",
               masked ? "masked" : "unmasked", (double)st->bytes_sent / 1e6,
               (double)st->bytes_received / 1e6, (double)st->bytes_sent / (double)batch / 1e3,
               (double)st->bytes_received / (double)batch / 1e3,
               (unsigned long long)st->requests + 1, st->server_seconds, st->client_seconds,
               st->wall_seconds, res[masked].max_err);
    }
    printf("  (sent/recv: by the client; trips: activation round trips + 1 for input and "
           "output)\n");
    hg_ndarray_free(x);
    hg_ndarray_free(want);
    hg_net_keys_clear(&k);
    hg_ckks_params_free(p);
}

int main(int argc, char **argv) {
    int64_t batch = 0;
    int reps = 1;
    const char *only = NULL;
    bool both = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atol(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--unmasked-only"))
            both = false;
        else {
            fprintf(stderr, "usage: bench_net [--batch B] [--reps R] [--only cryptonets|mobilenet] "
                            "[--unmasked-only]\n");
            return 2;
        }
    }
    if (reps < 1)
        reps = 1;
    if (!only || !strcmp(only, "cryptonets")) {
        hg_graph *g = cryptonets_relu();
        bench("CryptoNets with ReLU (Conv 5x5/2, Relu, Gemm 845x100, Relu, Gemm 100x10)", g, batch,
              reps, both);
        hg_graph_free(g);
    }
    if (!only || !strcmp(only, "mobilenet")) {
        hg_graph *g = mobilenet_layer();
        bench("MobileNetV2 layer (depthwise 3x3, ReLU6, 1x1; 16 x 24 x 24)", g, batch, reps, both);
        hg_graph_free(g);
    }
    return 0;
}
