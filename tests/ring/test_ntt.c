/* NTT: schoolbook negacyclic products, round trips and evaluation points, for several N and
 * prime sizes, on every kernel path this CPU has; and every vector kernel against the portable
 * one, word for word, on random and extreme inputs, for primes on both sides of each bound the
 * vector code depends on (2^32, 2^46, 2^50, 2^61, 2^62). */
#include "test_common.h"

#include "ring/prime.h"
#include "ring/primes.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static const hg_simd paths[] = {HG_SIMD_PORTABLE, HG_SIMD_AVX512, HG_SIMD_IFMA};
#define N_PATHS (sizeof paths / sizeof paths[0])

/* The largest prime below top, and the smallest above bottom, that are 1 mod two_n (any size
 * the ring accepts, up to 2^62, unlike hg_primes_generate). */
static uint64_t prime_below(uint64_t top, uint64_t two_n) {
    uint64_t c = (top - 2) / two_n * two_n + 1;
    while (!hg_is_prime(c))
        c -= two_n;
    return c;
}

static uint64_t prime_above(uint64_t bottom, uint64_t two_n) {
    uint64_t c = bottom / two_n * two_n + 1;
    while (!hg_is_prime(c))
        c += two_n;
    return c;
}

/* c = a * b mod (X^n + 1, q), schoolbook. */
static void schoolbook(const uint64_t *a, const uint64_t *b, uint64_t *c, size_t n,
                       const hg_modulus *m) {
    memset(c, 0, n * sizeof *c);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            uint64_t t = hg_mul_mod(a[i], b[j], m);
            size_t k = i + j;
            if (k < n)
                c[k] = hg_add_mod(c[k], t, m->q);
            else
                c[k - n] = hg_sub_mod(c[k - n], t, m->q);
        }
}

static void check_prime(size_t n, uint64_t q, hg_simd simd, hg_test_rng *r) {
    hg_prime p;
    hg_assert_ok(hg_prime_init_simd(&p, q, n, simd));
    uint64_t *a = hg_alloc_array(n, 8), *b = hg_alloc_array(n, 8), *c = hg_alloc_array(n, 8),
             *want = hg_alloc_array(n, 8), *orig = hg_alloc_array(n, 8);
    for (size_t i = 0; i < n; i++) {
        a[i] = hg_test_rng_u64(r) % q;
        b[i] = hg_test_rng_u64(r) % q;
    }
    /* Extreme values too: all q-1 in the first few coefficients. */
    a[0] = q - 1;
    b[n - 1] = q - 1;
    memcpy(orig, a, n * 8);
    if (n <= 256)
        schoolbook(a, b, want, n, &p.mod);
    hg_ntt_forward(&p, a);
    hg_ntt_forward(&p, b);
    for (size_t i = 0; i < n; i++)
        assert_true(a[i] < q && b[i] < q);
    /* Evaluation points: a_hat[k] = a(psi^(2 brv(k) + 1)). */
    for (size_t k = 0; k < n; k += n / 4 + 1) {
        uint64_t x = hg_pow_mod(p.psi, 2 * hg_bitrev((uint32_t)k, p.log_n) + 1, &p.mod);
        uint64_t acc = 0, xp = 1;
        for (size_t i = 0; i < n; i++) {
            acc = hg_add_mod(acc, hg_mul_mod(orig[i], xp, &p.mod), q);
            xp = hg_mul_mod(xp, x, &p.mod);
        }
        assert_int_equal(a[k], acc);
    }
    for (size_t i = 0; i < n; i++)
        c[i] = hg_mul_mod(a[i], b[i], &p.mod);
    hg_ntt_inverse(&p, c);
    if (n <= 256)
        for (size_t i = 0; i < n; i++)
            assert_int_equal(c[i], want[i]);
    hg_ntt_inverse(&p, a);
    assert_memory_equal(a, orig, n * 8);
    /* Lazy inputs: forward accepts [0, 4q), inverse [0, 2q). */
    for (size_t i = 0; i < n; i++)
        a[i] = orig[i] + (i % 4) * q;
    hg_ntt_forward(&p, a);
    for (size_t i = 0; i < n; i++)
        a[i] += (i % 2) * q;
    hg_ntt_inverse(&p, a);
    assert_memory_equal(a, orig, n * 8);
    hg_free(a);
    hg_free(b);
    hg_free(c);
    hg_free(want);
    hg_free(orig);
    hg_prime_clear(&p);
}

static void test_ntt_all_paths(void **state) {
    (void)state;
    hg_test_rng r;
    hg_test_rng_init(&r, 2);
    static const size_t ns[] = {2, 4, 8, 16, 32, 64, 128, 256, 1024, 8192};
    static const int bits[] = {20, 24, 30, 36, 44, 49, 50, 52, 55, 60, 61, 62};
    for (size_t pi = 0; pi < N_PATHS; pi++) {
        if (paths[pi] > hg_simd_detect())
            continue;
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t bi = 0; bi < sizeof bits / sizeof bits[0]; bi++) {
                if (2 * ns[ni] >= (1ull << (bits[bi] - 2)))
                    continue;
                check_prime(ns[ni], prime_below(1ull << bits[bi], 2 * ns[ni]), paths[pi], &r);
            }
    }
}

/* Primes on both sides of each bound the vector code switches on: 2^32 (products of 64-bit
 * lanes fit in one word), about 2^46 (IFMA offset mode for N up to 2^17, see
 * kernels_avx512.c), 2^47..2^49 (IFMA corrections every few stages), 2^50 (IFMA), 2^61
 * (64-bit lanes keep values below 8q) and 2^62 (the largest primes the ring takes). */
static size_t boundary_primes(uint64_t two_n, uint64_t *out) {
    static const int below[] = {21, 30, 32, 33, 40, 45, 46, 47, 48, 49, 50, 51, 55, 60, 61, 62};
    static const int above[] = {32, 45, 46, 47, 48, 49, 50, 60, 61};
    size_t k = 0;
    for (size_t i = 0; i < sizeof below / sizeof below[0]; i++)
        if (two_n < (1ull << (below[i] - 3)))
            out[k++] = prime_below(1ull << below[i], two_n);
    for (size_t i = 0; i < sizeof above / sizeof above[0]; i++)
        if (two_n < (1ull << (above[i] - 3)))
            out[k++] = prime_above(1ull << above[i], two_n);
    return k;
}

/* Fills x with values below bound: random, then one of the patterns all-maximal, all-zero,
 * alternating, so that the vector code meets the ends of its documented input range. */
static void fill_range(uint64_t *x, size_t n, uint64_t bound, int pattern, hg_test_rng *r) {
    for (size_t i = 0; i < n; i++) {
        uint64_t v = hg_test_rng_u64(r) % bound;
        switch (pattern) {
        case 1:
            v = bound - 1;
            break;
        case 2:
            v = 0;
            break;
        case 3:
            v = (i & 1) ? bound - 1 : 0;
            break;
        case 4:
            v = (i % 3 == 0) ? bound - 1 - (v & 7) : v;
            break;
        default:
            break;
        }
        x[i] = v;
    }
}

/* The forward and inverse transforms of each vector path give exactly the portable outputs
 * on inputs over the whole documented ranges ([0, 4q) forward, [0, 2q) inverse). */
static void test_ntt_vs_portable(void **state) {
    (void)state;
    hg_test_rng r;
    hg_test_rng_init(&r, 4);
    static const size_t ns[] = {16, 32, 64, 128, 512, 2048, 4096, 16384, 65536, 131072};
    for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
        const size_t n = ns[ni];
        uint64_t qs[32];
        size_t n_q = boundary_primes(2 * n, qs);
        uint64_t *in = hg_alloc_array(n, 8), *want = hg_alloc_array(n, 8),
                 *got = hg_alloc_array(n, 8);
        for (size_t qi = 0; qi < n_q; qi++) {
            const uint64_t q = qs[qi];
            hg_prime ref;
            hg_assert_ok(hg_prime_init_simd(&ref, q, n, HG_SIMD_PORTABLE));
            for (size_t pi = 1; pi < N_PATHS; pi++) {
                if (paths[pi] > hg_simd_detect())
                    continue;
                hg_prime p;
                hg_assert_ok(hg_prime_init_simd(&p, q, n, paths[pi]));
                /* A path the prime is too large for falls back to a lower one. */
                if (p.k->simd != paths[pi]) {
                    hg_prime_clear(&p);
                    continue;
                }
                const int patterns = n <= 4096 ? 5 : 2;
                for (int pat = 0; pat < patterns; pat++) {
                    fill_range(in, n, 4 * q, pat, &r);
                    memcpy(want, in, n * 8);
                    memcpy(got, in, n * 8);
                    hg_ntt_forward(&ref, want);
                    hg_ntt_forward(&p, got);
                    if (memcmp(want, got, n * 8))
                        fail_msg("forward, %s, N = %zu, q = %llu, pattern %d differs",
                                 hg_simd_name(paths[pi]), n, (unsigned long long)q, pat);
                    fill_range(in, n, 2 * q, pat, &r);
                    memcpy(want, in, n * 8);
                    memcpy(got, in, n * 8);
                    hg_ntt_inverse(&ref, want);
                    hg_ntt_inverse(&p, got);
                    if (memcmp(want, got, n * 8))
                        fail_msg("inverse, %s, N = %zu, q = %llu, pattern %d differs",
                                 hg_simd_name(paths[pi]), n, (unsigned long long)q, pat);
                }
                hg_prime_clear(&p);
            }
            hg_prime_clear(&ref);
        }
        hg_free(in);
        hg_free(want);
        hg_free(got);
    }
}

/* Every kernel of every path agrees with the portable one on random and extreme inputs. */
static void test_kernels_agree(void **state) {
    (void)state;
    hg_test_rng r;
    hg_test_rng_init(&r, 3);
    const size_t n = 1024;
    uint64_t qs[32];
    size_t n_q = boundary_primes(2 * n, qs);
    for (size_t qi = 0; qi < n_q; qi++) {
        const uint64_t q = qs[qi];
        hg_prime ref;
        hg_assert_ok(hg_prime_init_simd(&ref, q, n, HG_SIMD_PORTABLE));
        for (size_t pi = 1; pi < N_PATHS; pi++) {
            if (paths[pi] > hg_simd_detect())
                continue;
            hg_prime p;
            hg_assert_ok(hg_prime_init_simd(&p, q, n, paths[pi]));
            for (size_t len = 0; len < 40; len += 7) {
                size_t m = len == 35 ? n : len; /* tails of every size, and a full limb */
                for (int pat = 0; pat < 5; pat++) {
                    uint64_t a[1024], b[1024], x[1024], y[1024], big[1024];
                    fill_range(a, m, q, pat, &r);
                    fill_range(b, m, q, pat == 3 ? 1 : pat, &r);
                    fill_range(big, m, UINT64_MAX, pat, &r);
                    if (pat == 1)
                        for (size_t i = 0; i < m; i++)
                            big[i] = UINT64_MAX - (i & 3);
                    if (m)
                        a[0] = q - 1, b[0] = q - 1;
                    uint64_t w = pat == 1 ? q - 1 : hg_test_rng_u64(&r) % q, ws = hg_shoup(w, q);
#define SAME(name, call_ref, call_vec)                                                             \
    do {                                                                                           \
        call_ref;                                                                                  \
        call_vec;                                                                                  \
        if (memcmp(x, y, m * 8))                                                                   \
            fail_msg("%s, %s, q = %llu, n = %zu, pattern %d differs", name,                        \
                     hg_simd_name(paths[pi]), (unsigned long long)q, m, pat);                      \
    } while (0)
                    SAME("add", ref.k->add(&ref, a, b, x, m), p.k->add(&p, a, b, y, m));
                    SAME("sub", ref.k->sub(&ref, a, b, x, m), p.k->sub(&p, a, b, y, m));
                    SAME("neg", ref.k->neg(&ref, a, x, m), p.k->neg(&p, a, y, m));
                    SAME("add_scalar", ref.k->add_scalar(&ref, a, w, x, m),
                         p.k->add_scalar(&p, a, w, y, m));
                    SAME("mul_scalar", ref.k->mul_scalar(&ref, a, w, ws, x, m),
                         p.k->mul_scalar(&p, a, w, ws, y, m));
                    SAME("mul", ref.k->mul(&ref, a, b, x, m), p.k->mul(&p, a, b, y, m));
                    SAME("reduce", ref.k->reduce(&ref, big, x, m), p.k->reduce(&p, big, y, m));
                    memcpy(x, b, m * 8);
                    memcpy(y, b, m * 8);
                    SAME("mul_add", ref.k->mul_add(&ref, a, a, x, m), p.k->mul_add(&p, a, a, y, m));
                    /* In place: out aliases an input. */
                    memcpy(x, a, m * 8);
                    memcpy(y, a, m * 8);
                    SAME("mul in place", ref.k->mul(&ref, x, b, x, m), p.k->mul(&p, y, b, y, m));
#undef SAME
                }
            }
            hg_prime_clear(&p);
        }
        hg_prime_clear(&ref);
    }
}

static void test_bad_tables(void **state) {
    (void)state;
    hg_prime p;
    hg_assert_fails(hg_prime_init(&p, 97, 1000), HG_ERR_INVALID_ARG, "power of two");
    hg_assert_fails(hg_prime_init(&p, 97, 1024), HG_ERR_PARAMS, "not an NTT prime");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ntt_all_paths),
        cmocka_unit_test(test_ntt_vs_portable),
        cmocka_unit_test(test_kernels_agree),
        cmocka_unit_test(test_bad_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
