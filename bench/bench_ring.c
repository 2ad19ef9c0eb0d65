/*
 * Ring kernels: median time of the forward and inverse NTT and of each element-wise kernel,
 * for N in {4096, 8192, 16384}, primes of 30, 49, 50 and 60 bits (the largest NTT prime below
 * 2^bits, so the 50-bit one sits just under the IFMA bound q < 2^50), on every kernel path this
 * CPU supports. Single thread. Each sample times a batch of calls long enough for the clock to
 * be accurate; the median over the samples is reported in microseconds per call.
 *
 * Usage: bench_ring [samples]   (default 201; HG_SIMD=portable|avx512 limits the paths)
 */
#include "ring/prime.h"
#include "ring/primes.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { K_FWD, K_INV, K_ADD, K_SUB, K_NEG, K_ADDS, K_MULS, K_MUL, K_MULADD, K_RED, K_COUNT };
static const char *const kernel_names[K_COUNT] = {"ntt_fwd", "ntt_inv", "add", "sub",     "neg",
                                                  "add_s",   "mul_s",   "mul", "mul_add", "reduce"};

typedef struct bench_data {
    const hg_prime *p;
    uint64_t *a, *b, *c, *big;
    uint64_t w, ws;
} bench_data;

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static void run_kernel(int k, const bench_data *d) {
    const hg_prime *p = d->p;
    const hg_ring_kernels *kt = p->k;
    size_t n = p->n;
    switch (k) {
    case K_FWD:
        kt->ntt_forward(p, d->c);
        break;
    case K_INV:
        kt->ntt_inverse(p, d->c);
        break;
    case K_ADD:
        kt->add(p, d->a, d->b, d->c, n);
        break;
    case K_SUB:
        kt->sub(p, d->a, d->b, d->c, n);
        break;
    case K_NEG:
        kt->neg(p, d->a, d->c, n);
        break;
    case K_ADDS:
        kt->add_scalar(p, d->a, d->w, d->c, n);
        break;
    case K_MULS:
        kt->mul_scalar(p, d->a, d->w, d->ws, d->c, n);
        break;
    case K_MUL:
        kt->mul(p, d->a, d->b, d->c, n);
        break;
    case K_MULADD:
        kt->mul_add(p, d->a, d->b, d->c, n);
        break;
    case K_RED:
        kt->reduce(p, d->big, d->c, n);
        break;
    }
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Median over `samples` batches of the time of one call, in microseconds. */
static double median_us(int k, const bench_data *d, double *times, int samples) {
    /* Warm up and size the batch so that one sample lasts about 50 us. */
    int batch = 1;
    for (;;) {
        double t0 = now_us();
        for (int i = 0; i < batch; i++)
            run_kernel(k, d);
        double dt = now_us() - t0;
        if (dt >= 50.0 || batch >= (1 << 20))
            break;
        batch *= 2;
    }
    for (int s = 0; s < samples; s++) {
        double t0 = now_us();
        for (int i = 0; i < batch; i++)
            run_kernel(k, d);
        times[s] = (now_us() - t0) / batch;
    }
    qsort(times, (size_t)samples, sizeof *times, cmp_double);
    return times[samples / 2];
}

int main(int argc, char **argv) {
    int samples = argc > 1 ? atoi(argv[1]) : 201;
    if (samples < 1)
        samples = 1;
    static const size_t ns[] = {4096, 8192, 16384};
    static const int bits[] = {30, 49, 50, 60};
    static const hg_simd paths[] = {HG_SIMD_PORTABLE, HG_SIMD_AVX512, HG_SIMD_IFMA};
    double *times = malloc((size_t)samples * sizeof *times);
    if (!times)
        return 1;
    printf("# median microseconds per call, single thread; CPU level: %s\n",
           hg_simd_name(hg_simd_detect()));
    printf("%-8s %4s %6s", "path", "bits", "N");
    for (int k = 0; k < K_COUNT; k++)
        printf(" %8s", kernel_names[k]);
    printf("\n");
    for (size_t pi = 0; pi < sizeof paths / sizeof paths[0]; pi++) {
        if (paths[pi] > hg_simd_detect())
            continue;
        for (size_t bi = 0; bi < sizeof bits / sizeof bits[0]; bi++)
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                size_t n = ns[ni];
                uint64_t q;
                hg_prime p;
                if (hg_primes_generate(bits[bi], 1, 2 * n, NULL, 0, &q) != HG_OK ||
                    hg_prime_init_simd(&p, q, n, paths[pi]) != HG_OK) {
                    fprintf(stderr, "bench_ring: %s\n", hg_last_error());
                    free(times);
                    return 1;
                }
                /* A path the prime is too large for falls back to a lower one: skip it
                 * rather than print the lower path's numbers twice. */
                if (p.k->simd != paths[pi]) {
                    hg_prime_clear(&p);
                    continue;
                }
                bench_data d = {.p = &p};
                d.a = hg_alloc_array(n, 8);
                d.b = hg_alloc_array(n, 8);
                d.c = hg_alloc_array(n, 8);
                d.big = hg_alloc_array(n, 8);
                if (!d.a || !d.b || !d.c || !d.big) {
                    fprintf(stderr, "bench_ring: out of memory\n");
                    return 1;
                }
                uint64_t s = 0x9e3779b97f4a7c15ull * (n + (size_t)bits[bi]);
                for (size_t i = 0; i < n; i++) {
                    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                    d.a[i] = s % q;
                    d.b[i] = (s >> 17) % q;
                    d.c[i] = (s >> 5) % q;
                    d.big[i] = s * 0xd6e8feb86659fd93ull;
                }
                d.w = d.b[1];
                d.ws = hg_shoup(d.w, q);
                printf("%-8s %4d %6zu", hg_simd_name(paths[pi]), bits[bi], n);
                for (int k = 0; k < K_COUNT; k++) {
                    printf(" %8.2f", median_us(k, &d, times, samples));
                    fflush(stdout);
                }
                printf("\n");
                hg_free(d.a);
                hg_free(d.b);
                hg_free(d.c);
                hg_free(d.big);
                hg_prime_clear(&p);
            }
    }
    free(times);
    return 0;
}
