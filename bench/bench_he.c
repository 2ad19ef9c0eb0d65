/*
 * The encrypted backend on CryptoNets: nGraph-HE2's ablation, one optimization added per row,
 * with a full batch (the slot capacity), single thread and all cores. Server time only (the
 * inputs are encrypted once, before the rows); latency is one batch, throughput images per
 * second.
 *
 *   bench_he [--model M.onnx] [--rows a,b,...] [--reps R] [--threads T]
 *
 * Parameters are nGraph-HE2's for CryptoNets: N = 8192, primes {30, 24, 24, 24, 24, 24, 30}
 * (the last special), scale 2^24, 128-bit security.
 */
#include "he/he.h"
#include "hegraph/hegraph.h"
#include "hegraph/hg_onnx.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(expr)                                                                            \
    do {                                                                                       \
        hg_status s_ = (expr);                                                                 \
        if (s_ != HG_OK) {                                                                     \
            fprintf(stderr, "bench_he: %s: %s\n", hg_status_name(s_), hg_last_error());        \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

typedef struct row {
    const char *name;
    const char *key;
    hg_he_opts o;
} row;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *model = "models/cryptonets_mnist.onnx", *only = NULL;
    int reps = 3, max_threads = omp_get_max_threads();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            max_threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_he [--model M.onnx] [--rows naive,lazy_rescale,scalar,"
                            "fast_scalar,engine,lazy_relin,complex] [--reps R] [--threads T]\n");
            return 2;
        }
    }
    if (reps < 1)
        reps = 1;

    /* The ablation rows, each adding one optimization to the previous. */
    row rows[7];
    hg_he_opts o;
    hg_he_opts_naive(&o);
    rows[0] = (row){"naive: full encoding at the top level, rescale every product", "naive", o};
    o.lazy_rescale = true;
    rows[1] = (row){"+ lazy rescaling", "lazy_rescale", o};
    o.scalar_encoding = o.depth_aware = true;
    rows[2] = (row){"+ scalar and depth-aware encoding", "scalar", o};
    o.fast_scalar = true;
    rows[3] = (row){"+ fast ciphertext-scalar ops", "fast_scalar", o};
    o.linear_engine = true;
    rows[4] = (row){"+ linear engine (modular GEMM over lanes)", "engine", o};
    o.lazy_relin = true;
    rows[5] = (row){"+ lazy relinearization", "lazy_relin", o};
    o.complex_packing = true;
    rows[6] = (row){"+ complex packing (two images per slot)", "complex", o};

    hg_graph *g;
    CHECK(hg_onnx_load_file(model, &g));
    hg_ckks_params_lit lit = {.log_n = 13, .n_primes = 7, .bits = {30, 24, 24, 24, 24, 24, 30},
                              .n_special = 1, .scale = 0x1p24, .security = 128};
    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_ckks_sk *sk;
    hg_ckks_rlk *rlk;
    hg_ckks_gk *gk;
    CHECK(hg_ckks_params_new(&lit, &p));
    CHECK(hg_ckks_ctx_new(p, &ctx));
    CHECK(hg_ckks_sk_new(ctx, &sk));
    CHECK(hg_ckks_rlk_new(ctx, sk, &rlk));
    CHECK(hg_ckks_gk_new(ctx, sk, NULL, 0, true, &gk));
    printf("CryptoNets (%s), N = 8192, primes {30, 24 x 5, 30}, scale 2^24, 128-bit security, "
           "kernels %s, %d cores\n",
           model, hg_ckks_ctx_simd(ctx), omp_get_max_threads());
    printf("%-62s %7s %10s %10s %10s\n", "configuration", "threads", "batch", "latency s",
           "images/s");

    hg_he_tensor *in[2] = {NULL, NULL};
    for (int cp = 0; cp <= 1; cp++) {
        size_t batch = cp ? ctx->n : ctx->n / 2;
        hg_he_client *c;
        CHECK(hg_he_client_new(ctx, sk, cp, 0, &c));
        hg_shape shape;
        hg_graph_input_shape(g, 0, &shape, NULL);
        shape.dims[0] = (int64_t)batch;
        hg_ndarray *x;
        CHECK(hg_ndarray_new(shape.rank, shape.dims, &x));
        for (size_t i = 0; i < x->size; i++)
            x->data[i] = (double)((i * 2654435761u) % 256) / 255.0;
        double t0 = hg_now();
        CHECK(hg_he_client_encrypt(c, x, &in[cp]));
        printf("# client: encrypting a batch of %zu images took %.2f s (%d threads)\n", batch,
               hg_now() - t0, omp_get_max_threads());
        hg_ndarray_free(x);
        hg_he_client_free(c);
    }
    CHECK(hg_graph_optimize(g, (int64_t)(ctx->n / 2)));

    for (size_t r = 0; r < 7; r++) {
        if (only && !strstr(only, rows[r].key))
            continue;
        int cp = rows[r].o.complex_packing;
        size_t batch = cp ? ctx->n : ctx->n / 2;
        for (int threads = 1; threads <= max_threads; threads = threads == max_threads ? threads + 1 : max_threads) {
            hg_he_opts ro = rows[r].o;
            ro.threads = threads;
            hg_he_model *m;
            CHECK(hg_he_model_new(g, ctx, &ro, batch, &m));
            double t[16];
            int n_reps = r < 2 ? 1 : reps;
            for (int k = 0; k < n_reps && k < 16; k++) {
                hg_he_tensor *out[1];
                hg_he_run_stats st;
                omp_set_num_threads(threads);
                CHECK(hg_he_run(m, rlk, gk, &in[cp], 1, NULL, out, &st));
                t[k] = st.server_seconds;
                hg_he_tensor_free(out[0]);
            }
            qsort(t, (size_t)n_reps, sizeof(double), cmp_double);
            double lat = t[n_reps / 2];
            printf("%-62s %7d %10zu %10.3f %10.0f\n", rows[r].name, threads, batch, lat,
                   (double)batch / lat);
            fflush(stdout);
            hg_he_model_free(m);
        }
    }
    hg_he_tensor_free(in[0]);
    hg_he_tensor_free(in[1]);
    hg_ckks_gk_free(gk);
    hg_ckks_rlk_free(rlk);
    hg_ckks_sk_free(sk);
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
    hg_graph_free(g);
    return 0;
}
