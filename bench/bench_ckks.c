/*
 * CKKS micro-benchmarks: median single-thread times of each operation at the top level, and
 * serialized sizes, for the parameter sets of the reference page (a: N = 8192 {60,40,40,60};
 * b: N = 16384 {60, 40 x 6, 60}; c: N = 8192 {30, 24 x 5, 30}), next to Microsoft SEAL 4.4.3's
 * figures measured on this machine kind (alone, and with Intel HEXL for set c).
 *
 *   bench_ckks [--set a|b|c] [--seconds S]
 */
#include "ckks/ckks.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct seal_ref {
    double alone, hexl; /* microseconds; 0 = not measured */
} seal_ref;

typedef struct pset {
    const char *name;
    hg_ckks_params_lit lit;
    /* SEAL figures in the order of the rows below */
    seal_ref ref[24];
} pset;

enum {
    R_NTT,
    R_ENCODE,
    R_SCALAR,
    R_ENCRYPT,
    R_ENCRYPT_SYM,
    R_DECRYPT,
    R_ADD,
    R_ADD_PLAIN,
    R_ADD_SCALAR,
    R_MUL_PLAIN,
    R_MUL_SCALAR,
    R_MUL,
    R_RELIN,
    R_RESCALE,
    R_ROTATE,
    R_DECODE,
    R_ADD_INPLACE,
    R_ADD_PLAIN_INPLACE,
    R_MUL_PLAIN_INPLACE,
    R_WRITE,
    R_READ,
    R_COUNT
};

static const char *row_name[R_COUNT] = {
    "NTT, one limb",         "encode full vector", "encode scalar",       "encrypt (public key)",
    "encrypt (secret key)",  "decrypt",            "add",                 "add plain",
    "add scalar",            "multiply by plain",  "multiply by scalar",  "multiply, no relin",
    "relinearize",           "rescale to next",    "rotate by one",       "decode full vector",
    "add, in place",         "add plain, in place", "mul plain, in place",
    "write ciphertext",      "read ciphertext",
};

static pset sets[] = {
    {"a", {.log_n = 13, .n_primes = 4, .bits = {60, 40, 40, 60}, .n_special = 1, .scale = 0x1p40},
     {[R_NTT] = {63, 0}, [R_ENCODE] = {353, 0}, [R_SCALAR] = {3.5, 0}, [R_ENCRYPT] = {2736, 0},
      [R_DECRYPT] = {94, 0}, [R_ADD_PLAIN] = {21, 0}, [R_MUL_PLAIN] = {120, 0},
      [R_MUL_SCALAR] = {120, 0}, [R_MUL] = {268, 0}, [R_RELIN] = {1915, 0},
      [R_RESCALE] = {497, 0}, [R_ROTATE] = {1929, 0}}},
    {"b",
     {.log_n = 14, .n_primes = 8, .bits = {60, 40, 40, 40, 40, 40, 40, 60}, .n_special = 1,
      .scale = 0x1p40},
     {[R_NTT] = {133, 0}, [R_ENCODE] = {1975, 0}, [R_SCALAR] = {16, 0}, [R_ENCRYPT] = {10633, 0},
      [R_DECRYPT] = {481, 0}, [R_ADD_PLAIN] = {96, 0}, [R_MUL_PLAIN] = {607, 0},
      [R_MUL_SCALAR] = {607, 0}, [R_MUL] = {1358, 0}, [R_RELIN] = {14602, 0},
      [R_RESCALE] = {2614, 0}, [R_ROTATE] = {14824, 0}}},
    {"c",
     {.log_n = 13, .n_primes = 7, .bits = {30, 24, 24, 24, 24, 24, 30}, .n_special = 1,
      .scale = 0x1p24},
     {[R_NTT] = {64, 8.8}, [R_ENCODE] = {840, 247}, [R_SCALAR] = {7.4, 1.9},
      [R_ENCRYPT] = {4556, 1983}, [R_DECRYPT] = {198, 46}, [R_ADD] = {81, 17},
      [R_ADD_PLAIN] = {41, 8.8}, [R_MUL_PLAIN] = {256, 17}, [R_MUL_SCALAR] = {256, 17},
      [R_MUL] = {615, 41}, [R_RELIN] = {5142, 2816}, [R_RESCALE] = {973, 185},
      [R_ROTATE] = {5659, 2847}, [R_ADD_INPLACE] = {81, 17}, [R_ADD_PLAIN_INPLACE] = {41, 8.8},
      [R_MUL_PLAIN_INPLACE] = {256, 17}}},
};

static double seconds_per_row = 0.3;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of repeated single timings, in microseconds. */
#define TIME(out, stmt)                                                                        \
    do {                                                                                       \
        double samples_[4096];                                                                 \
        int n_ = 0;                                                                            \
        double start_ = hg_now();                                                              \
        stmt; /* warm-up */                                                                    \
        while (n_ < 4096 && (n_ < 11 || hg_now() - start_ < seconds_per_row)) {                \
            double t0_ = hg_now();                                                             \
            stmt;                                                                              \
            samples_[n_++] = (hg_now() - t0_) * 1e6;                                           \
        }                                                                                      \
        qsort(samples_, (size_t)n_, sizeof(double), cmp_double);                               \
        (out) = samples_[n_ / 2];                                                              \
    } while (0)

#define CHECK(expr)                                                                            \
    do {                                                                                       \
        hg_status s_ = (expr);                                                                 \
        if (s_ != HG_OK) {                                                                     \
            fprintf(stderr, "bench_ckks: %s: %s\n", hg_status_name(s_), hg_last_error());      \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static void run_set(const pset *ps) {
    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_ckks_eval *ev;
    hg_ckks_sk *sk;
    hg_ckks_pk *pk;
    hg_ckks_rlk *rlk;
    hg_ckks_gk *gk;
    CHECK(hg_ckks_params_new(&ps->lit, &p));
    CHECK(hg_ckks_ctx_new(p, &ctx));
    CHECK(hg_ckks_eval_new(ctx, &ev));
    CHECK(hg_ckks_sk_new(ctx, &sk));
    CHECK(hg_ckks_pk_new(ctx, sk, &pk));
    CHECK(hg_ckks_rlk_new(ctx, sk, &rlk));
    int one = 1;
    CHECK(hg_ckks_gk_new(ctx, sk, &one, 1, false, &gk));
    const int top = hg_ckks_ctx_max_level(ctx);
    const size_t slots = hg_ckks_params_slots(p), n = hg_ckks_params_n(p);
    const double scale = hg_ckks_params_scale(p);

    double complex *z = malloc(slots * sizeof *z);
    for (size_t i = 0; i < slots; i++)
        z[i] = sin((double)i) + cos((double)i * 0.5) * I;
    hg_ckks_pt *pt, *pt2;
    hg_ckks_ct *a, *b, *out, *prod;
    hg_ckks_scalar sc;
    CHECK(hg_ckks_pt_new(ctx, &pt));
    CHECK(hg_ckks_pt_new(ctx, &pt2));
    CHECK(hg_ckks_ct_new(ctx, &a));
    CHECK(hg_ckks_ct_new(ctx, &b));
    CHECK(hg_ckks_ct_new(ctx, &out));
    CHECK(hg_ckks_ct_new(ctx, &prod));
    CHECK(hg_ckks_encode(ev, z, slots, top, scale, pt));
    CHECK(hg_ckks_encrypt(ev, pk, pt, a));
    CHECK(hg_ckks_encrypt(ev, pk, pt, b));
    CHECK(hg_ckks_mul(ev, a, b, prod));
    CHECK(hg_ckks_ct_reserve(out, 3, top));

    uint64_t *limb = malloc(n * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++)
        limb[i] = (i * 2654435761u) % ctx->prime[0].mod.q;

    double t[R_COUNT] = {0};
    TIME(t[R_NTT], hg_ntt_forward(&ctx->prime[0], limb));
    TIME(t[R_ENCODE], CHECK(hg_ckks_encode(ev, z, slots, top, scale, pt2)));
    TIME(t[R_SCALAR], CHECK(hg_ckks_scalar_encode(ctx, 0.123, top, scale, &sc)));
    TIME(t[R_ENCRYPT], CHECK(hg_ckks_encrypt(ev, pk, pt, out)));
    TIME(t[R_ENCRYPT_SYM], CHECK(hg_ckks_encrypt_sym(ev, sk, pt, out)));
    TIME(t[R_DECRYPT], CHECK(hg_ckks_decrypt(ev, sk, a, pt2)));
    TIME(t[R_DECODE], CHECK(hg_ckks_decode(ev, pt, z, slots)));
    TIME(t[R_ADD], CHECK(hg_ckks_add(ev, a, b, out)));
    TIME(t[R_ADD_PLAIN], CHECK(hg_ckks_add_plain(ev, a, pt, out)));
    TIME(t[R_ADD_SCALAR], CHECK(hg_ckks_add_scalar_enc(ev, a, &sc, out)));
    TIME(t[R_MUL_PLAIN], CHECK(hg_ckks_mul_plain(ev, a, pt, out)));
    TIME(t[R_MUL_SCALAR], CHECK(hg_ckks_mul_scalar_enc(ev, a, &sc, out)));
    TIME(t[R_MUL], CHECK(hg_ckks_mul(ev, a, b, out)));
    TIME(t[R_RELIN], CHECK(hg_ckks_relinearize(ev, rlk, prod, out)));
    TIME(t[R_RESCALE], CHECK(hg_ckks_rescale(ev, a, out)));
    TIME(t[R_ROTATE], CHECK(hg_ckks_rotate(ev, gk, a, 1, out)));
    /* SEAL's *_inplace calls: two operands streamed instead of three. */
    CHECK(hg_ckks_ct_copy(a, out));
    TIME(t[R_ADD_INPLACE], CHECK(hg_ckks_add(ev, out, b, out)));
    TIME(t[R_ADD_PLAIN_INPLACE], CHECK(hg_ckks_add_plain(ev, out, pt, out)));
    TIME(t[R_MUL_PLAIN_INPLACE], CHECK(hg_ckks_mul_plain(ev, out, pt, out)));
    /* Serialization of a full (unseeded) ciphertext, bit-packed residues. */
    {
        size_t cap = hg_ckks_ct_size_bytes(a), wrote = 0;
        void *buf = malloc(cap);
        if (!buf) {
            fprintf(stderr, "bench_ckks: out of memory\n");
            exit(1);
        }
        TIME(t[R_WRITE], CHECK(hg_ckks_ct_write(a, buf, cap, &wrote)));
        TIME(t[R_READ], CHECK(hg_ckks_ct_read(ctx, buf, wrote, out)));
        free(buf);
    }

    printf("\nset %s: N = %zu, primes", ps->name, n);
    for (int i = 0; i < ps->lit.n_primes; i++)
        printf(" %d", ps->lit.bits[i]);
    printf(" (%d special), kernels %s, 1 thread\n", ps->lit.n_special, hg_ckks_ctx_simd(ctx));
    bool hexl = ps->ref[R_NTT].hexl > 0;
    printf("%-24s %12s %12s %9s", "operation (top level)", "hegraph us", "SEAL us", "speedup");
    if (hexl)
        printf(" %14s %9s", "SEAL+HEXL us", "speedup");
    printf("\n");
    for (int r = 0; r < R_COUNT; r++) {
        printf("%-24s %12.1f", row_name[r], t[r]);
        const seal_ref *ref = &ps->ref[r];
        if (ref->alone > 0)
            printf(" %12.1f %8.1fx", ref->alone, ref->alone / t[r]);
        else
            printf(" %12s %9s", "-", "");
        if (hexl) {
            if (ref->hexl > 0)
                printf(" %14.1f %8.1fx", ref->hexl, ref->hexl / t[r]);
            else
                printf(" %14s %9s", "-", "");
        }
        printf("\n");
    }
    printf("%-24s %12.0fx\n", "full / scalar encode", t[R_ENCODE] / t[R_SCALAR]);

    /* Sizes. */
    CHECK(hg_ckks_encrypt(ev, pk, pt, out));
    size_t ct_full = hg_ckks_ct_size_bytes(out);
    CHECK(hg_ckks_encrypt_sym(ev, sk, pt, out));
    size_t ct_seeded = hg_ckks_ct_size_bytes(out);
    printf("sizes (bytes): ciphertext %zu (seeded %zu), public key %zu, relinearization key %zu, "
           "one Galois key %zu\n",
           ct_full, ct_seeded, hg_ckks_pk_size_bytes(pk), hg_ckks_rlk_size_bytes(rlk),
           hg_ckks_gk_size_bytes(gk));
    if (!strcmp(ps->name, "c"))
        printf("SEAL sizes (bytes):    ciphertext 786545 (seeded 393410), public key 458946 "
               "(seeded), relinearization key 2753740 (seeded), one Galois key 5571294\n");

    free(z);
    free(limb);
    hg_ckks_pt_free(pt);
    hg_ckks_pt_free(pt2);
    hg_ckks_ct_free(a);
    hg_ckks_ct_free(b);
    hg_ckks_ct_free(out);
    hg_ckks_ct_free(prod);
    hg_ckks_gk_free(gk);
    hg_ckks_rlk_free(rlk);
    hg_ckks_pk_free(pk);
    hg_ckks_sk_free(sk);
    hg_ckks_eval_free(ev);
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
}

int main(int argc, char **argv) {
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds_per_row = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_ckks [--set a|b|c] [--seconds S]\n");
            return 2;
        }
    }
    omp_set_num_threads(1);
    printf("hegraph CKKS micro-benchmarks: medians of repeated single runs, one thread.\n"
           "SEAL 4.4.3 figures are from the reference page (same machine kind).\n");
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (!only || !strcmp(only, sets[i].name))
            run_set(&sets[i]);
    return 0;
}
