/*
 * MobileNetV2 on encrypted images with the client-aided model: a full batch (the slot
 * capacity) of real photos, masked ReLU6 in the client, the inverted residual blocks in tiles.
 * Prints the latency per batch, the amortized time per image (server and client), the bytes
 * each way per image, the peak memory (measured and predicted), and how the encrypted logits
 * compare with the plain backend's (top-1 agreement on every image, top-5 agreement, largest
 * logit error), next to the nGraph-HE2 paper's 381 ms per image on 56 cores.
 *
 *   bench_mobilenet [--model M.onnx] [--input X.pb] [--params P.json] [--batch B]
 *                   [--unmasked] [--max-memory GB]
 *
 * Default parameters (bench/mobilenetv2_params.json): the paper's ring, N = 4096, with complex
 * packing (4096 images per batch) at 128-bit security, and the paper's 109 bits of modulus spent
 * on three data primes {39, 35, 35} at scale 2^35 instead of {30, 22, 22} plus a special prime:
 * nothing in MobileNetV2's plan switches keys, and the paper's chain at scale 2^22 changes about
 * one top-1 prediction in four (bench/mobilenetv2_params_paper.json, {36, 22, 22, 29}).
 */
#include "hegraph/hegraph.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define CHECK(expr)                                                                            \
    do {                                                                                       \
        hg_status s_ = (expr);                                                                 \
        if (s_ != HG_OK) {                                                                     \
            fprintf(stderr, "bench_mobilenet: %s: %s\n", hg_status_name(s_), hg_last_error()); \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static size_t peak_rss(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (size_t)ru.ru_maxrss * 1024;
}

/* The in-process client, counting the bytes each request and answer would take on the wire. */
typedef struct counting {
    hg_he_client *c;
    size_t up, down, calls;
} counting;

static hg_status counting_client(void *user, const hg_he_activation *act, const hg_he_tensor *in,
                                 hg_he_tensor **out) {
    counting *k = user;
    k->calls++;
    k->down += hg_he_tensor_size_bytes(in);
    hg_status s = hg_he_client_activate(k->c, act, in, out);
    if (s == HG_OK)
        k->up += hg_he_tensor_size_bytes(*out);
    return s;
}

static void top5(const double *v, size_t n, size_t *idx) {
    for (int k = 0; k < 5; k++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            bool used = false;
            for (int j = 0; j < k; j++)
                used |= idx[j] == i;
            if (!used && (best == SIZE_MAX || v[i] > v[best]))
                best = i;
        }
        idx[k] = best;
    }
}

int main(int argc, char **argv) {
    const char *model = "models/mobilenetv2_035_96.onnx";
    const char *input = "tests/data/mobilenetv2_035_96/input_0.pb", *params = NULL;
    size_t batch = 0, max_memory = 0;
    bool unmasked = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--input") && i + 1 < argc)
            input = argv[++i];
        else if (!strcmp(argv[i], "--params") && i + 1 < argc)
            params = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--max-memory") && i + 1 < argc)
            max_memory = (size_t)(atof(argv[++i]) * 1e9);
        else if (!strcmp(argv[i], "--unmasked"))
            unmasked = true;
        else {
            fprintf(stderr, "usage: bench_mobilenet [--model M.onnx] [--input X.pb] "
                            "[--params P.json] [--batch B] [--unmasked] [--max-memory GB]\n");
            return 2;
        }
    }
    hg_he_params hp;
    if (params) {
        FILE *f = fopen(params, "rb");
        if (!f) {
            perror(params);
            return 1;
        }
        char buf[8192];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        CHECK(hg_he_params_parse_json(buf, n, &hp));
    } else {
        memset(&hp, 0, sizeof hp);
        hp.lit = (hg_ckks_params_lit){.log_n = 12, .n_primes = 3, .bits = {39, 35, 35},
                                      .n_special = 0, .scale = 0x1p35, .security = 128};
        hp.complex_packing = true;
    }
    hg_graph *g;
    CHECK(hg_onnx_load_file(model, &g));
    hg_ndarray *photos;
    CHECK(hg_onnx_tensor_read_file(input, &photos, NULL, NULL));
    size_t cap = ((size_t)1 << hp.lit.log_n) / (hp.complex_packing ? 1 : 2);
    if (batch == 0 || batch > cap)
        batch = cap;

    /* A full batch from the photos: each copy flipped or not and with a little noise, so that
     * the samples differ while staying natural images. */
    int64_t dims[HG_MAX_RANK];
    memcpy(dims, photos->dims, sizeof dims);
    dims[0] = (int64_t)batch;
    hg_ndarray *x;
    CHECK(hg_ndarray_new(photos->rank, dims, &x));
    const size_t per = photos->size / (size_t)photos->dims[0];
    const size_t width = (size_t)photos->dims[photos->rank - 1];
    uint64_t rng = 0x6d6f62696c656e65ull;
    for (size_t b = 0; b < batch; b++) {
        const double *src = photos->data + (b % (size_t)photos->dims[0]) * per;
        bool flip = (b / (size_t)photos->dims[0]) & 1;
        for (size_t i = 0; i < per; i++) {
            size_t col = i % width, j = flip ? i - col + (width - 1 - col) : i;
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            double noise = ((double)(rng >> 11) * 0x1p-53 - 0.5) * 0.02;
            x->data[b * per + i] = src[j] + (b < (size_t)photos->dims[0] ? 0 : noise);
        }
    }
    hg_ndarray_free(photos);
    /* The plain reference, in chunks of images: a full batch at once would hold every layer's
     * output for all of it (gigabytes, and more than the backend's per-array limit). The
     * shapes are inferred for a chunk; the encrypted model takes any batch up to its own. */
    const size_t chunk = batch < 128 ? batch : 128;
    CHECK(hg_graph_optimize(g, (int64_t)chunk));
    double t0 = now();
    hg_ndarray *plain = NULL;
    for (size_t from = 0; from < batch; from += chunk) {
        const size_t n = batch - from < chunk ? batch - from : chunk;
        int64_t cd[HG_MAX_RANK];
        memcpy(cd, x->dims, sizeof cd);
        cd[0] = (int64_t)n;
        hg_ndarray *xc, *yc;
        CHECK(hg_ndarray_new(x->rank, cd, &xc));
        memcpy(xc->data, x->data + from * per, n * per * sizeof(double));
        const hg_ndarray *in1[1] = {xc};
        CHECK(hg_plain_run(g, in1, 1, &yc));
        if (!plain) {
            int64_t pd[HG_MAX_RANK];
            memcpy(pd, yc->dims, sizeof pd);
            pd[0] = (int64_t)batch;
            CHECK(hg_ndarray_new(yc->rank, pd, &plain));
        }
        memcpy(plain->data + from * (plain->size / batch), yc->data, yc->size * sizeof(double));
        hg_ndarray_free(xc);
        hg_ndarray_free(yc);
    }
    double plain_s = now() - t0;

    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_ckks_sk *sk;
    hg_ckks_pk *pk;
    hg_ckks_rlk *rlk = NULL;
    hg_ckks_gk *gk = NULL;
    CHECK(hg_ckks_params_new(&hp.lit, &p));
    CHECK(hg_ckks_ctx_new(p, &ctx));
    CHECK(hg_ckks_sk_new(ctx, &sk));
    CHECK(hg_ckks_pk_new(ctx, sk, &pk));
    hg_he_opts o;
    hg_he_opts_default(&o);
    o.complex_packing = hp.complex_packing;
    o.masking = !unmasked;
    if (max_memory == 0)
        max_memory = (size_t)20e9;
    hg_he_model *m = NULL;
    for (size_t tile = (size_t)2 << 30;; tile /= 2) {
        o.tile_bytes = tile;
        CHECK(hg_he_model_new(g, ctx, &o, batch, &m));
        if (hg_he_model_peak_bytes(m) <= max_memory || tile <= ((size_t)64 << 20))
            break;
        hg_he_model_free(m);
    }
    if (hg_he_model_needs_relin(m))
        CHECK(hg_ckks_rlk_new(ctx, sk, &rlk));
    uint64_t elts[2];
    if (hg_he_model_galois_elts(m, elts, 2))
        CHECK(hg_ckks_gk_new(ctx, sk, NULL, 0, true, &gk));
    hg_he_plan_stats st;
    hg_he_model_stats(m, &st);
    printf("MobileNetV2 %s, batch %zu, N = %d, primes {", model, batch, 1 << hp.lit.log_n);
    for (int i = 0; i < hp.lit.n_primes; i++)
        printf("%s%d", i ? ", " : "", hp.lit.bits[i]);
    printf("}, scale 2^%.0f, %s packing, %d-bit security, %s activations, %d threads\n",
           log2(hp.lit.scale), hp.complex_packing ? "complex" : "real",
           hg_ckks_params_security(p), unmasked ? "unmasked" : "masked", omp_get_max_threads());
    printf("plan: %zu client round trips, %zu rescales; predicted peak %.2f GB (limit %.1f GB)\n",
           st.client_calls, st.rescales, (double)hg_he_model_peak_bytes(m) / 1e9,
           (double)max_memory / 1e9);
    fflush(stdout);

    hg_he_client *c;
    CHECK(hg_he_client_new(ctx, sk, hp.complex_packing, 0, &c));
    t0 = now();
    hg_he_tensor *ct_in, *ct_out;
    CHECK(hg_he_client_encrypt(c, x, &ct_in));
    double enc_s = now() - t0;
    size_t in_bytes = hg_he_tensor_size_bytes(ct_in);
    counting k = {.c = c};
    hg_he_run_opts ro = {.client = counting_client, .client_user = &k, .pk = pk};
    hg_he_run_stats rs;
    t0 = now();
    CHECK(hg_he_run(m, rlk, gk, &ct_in, 1, &ro, &ct_out, &rs));
    double run_s = now() - t0;
    size_t out_bytes = hg_he_tensor_size_bytes(ct_out);
    t0 = now();
    hg_ndarray *y;
    CHECK(hg_he_client_decrypt(c, ct_out, &y));
    double dec_s = now() - t0;

    const size_t classes = plain->size / batch;
    size_t top1 = 0, top5_overlap = 0;
    double worst = 0, top = 0;
    for (size_t b = 0; b < batch; b++) {
        size_t a[5], e[5];
        top5(plain->data + b * classes, classes, a);
        top5(y->data + b * classes, classes, e);
        top1 += a[0] == e[0];
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++)
                top5_overlap += a[i] == e[j];
        for (size_t i = 0; i < classes; i++) {
            worst = fmax(worst, fabs(y->data[b * classes + i] - plain->data[b * classes + i]));
            top = fmax(top, fabs(plain->data[b * classes + i]));
        }
    }
    printf("top-1 agreement with the plain backend: %zu/%zu; top-5 agreement %.2f%%; largest "
           "logit error %.3g (largest logit %.3g)\n",
           top1, batch, 100.0 * (double)top5_overlap / (5.0 * (double)batch), worst, top);
    printf("server %.1f s per batch, %.1f ms per image amortized; client %.1f s (%.1f ms per "
           "image: encrypt %.1f s, activations %.1f s, decrypt %.2f s)\n",
           rs.server_seconds, 1e3 * rs.server_seconds / (double)batch,
           enc_s + rs.client_seconds + dec_s,
           1e3 * (enc_s + rs.client_seconds + dec_s) / (double)batch, enc_s, rs.client_seconds,
           dec_s);
    printf("bytes per image: client to server %.1f KB, server to client %.1f KB, in %zu round "
           "trips\n",
           (double)(in_bytes + k.up) / (double)batch / 1e3,
           (double)(k.down + out_bytes) / (double)batch / 1e3, k.calls);
    printf("peak RSS %.2f GB (ciphertexts at run time %.2f GB, predicted %.2f GB); plain "
           "backend %.1f s; total run %.1f s\n",
           (double)peak_rss() / 1e9, (double)rs.peak_bytes / 1e9,
           (double)hg_he_model_peak_bytes(m) / 1e9, plain_s, run_s);
    printf("nGraph-HE2 paper: 381 ms per image amortized (56 cores, 50-120 GB)\n");
    return top1 == batch ? 0 : 1;
}
