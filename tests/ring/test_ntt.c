/* NTT: schoolbook negacyclic products, round trips and evaluation points, for several N and
 * prime sizes, on every kernel path this CPU has. */
#include "test_common.h"

#include "ring/prime.h"
#include "ring/primes.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static const hg_simd paths[] = {HG_SIMD_PORTABLE, HG_SIMD_AVX512, HG_SIMD_IFMA};

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

static void check_prime(size_t n, int bits, hg_simd simd, hg_test_rng *r) {
    uint64_t q;
    hg_assert_ok(hg_primes_generate(bits, 1, 2 * n, NULL, 0, &q));
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
    static const int bits[] = {20, 24, 30, 36, 44, 49, 50, 52, 55, 60};
    for (size_t pi = 0; pi < sizeof paths / sizeof paths[0]; pi++) {
        if (paths[pi] > hg_simd_detect())
            continue;
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t bi = 0; bi < sizeof bits / sizeof bits[0]; bi++) {
                if (2 * ns[ni] >= (1ull << (bits[bi] - 2)))
                    continue;
                check_prime(ns[ni], bits[bi], paths[pi], &r);
            }
    }
}

/* Every kernel of every path agrees with the portable one on random inputs. */
static void test_kernels_agree(void **state) {
    (void)state;
    hg_test_rng r;
    hg_test_rng_init(&r, 3);
    const size_t n = 1024;
    static const int bits[] = {20, 30, 49, 50, 60};
    for (size_t bi = 0; bi < sizeof bits / sizeof bits[0]; bi++) {
        uint64_t q;
        hg_assert_ok(hg_primes_generate(bits[bi], 1, 2 * n, NULL, 0, &q));
        hg_prime ref;
        hg_assert_ok(hg_prime_init_simd(&ref, q, n, HG_SIMD_PORTABLE));
        for (size_t pi = 1; pi < sizeof paths / sizeof paths[0]; pi++) {
            if (paths[pi] > hg_simd_detect())
                continue;
            hg_prime p;
            hg_assert_ok(hg_prime_init_simd(&p, q, n, paths[pi]));
            for (size_t len = 0; len < 40; len += 7) {
                size_t m = len == 35 ? n : len; /* tails of every size, and a full limb */
                uint64_t a[1024], b[1024], x[1024], y[1024], big[1024];
                for (size_t i = 0; i < m; i++) {
                    a[i] = hg_test_rng_u64(&r) % q;
                    b[i] = hg_test_rng_u64(&r) % q;
                    big[i] = hg_test_rng_u64(&r);
                }
                if (m)
                    a[0] = q - 1, b[0] = q - 1;
                uint64_t w = hg_test_rng_u64(&r) % q, ws = hg_shoup(w, q);
#define SAME(call_ref, call_vec)                                                               \
    do {                                                                                       \
        call_ref;                                                                              \
        call_vec;                                                                              \
        assert_memory_equal(x, y, m * 8);                                                      \
    } while (0)
                SAME(ref.k->add(&ref, a, b, x, m), p.k->add(&p, a, b, y, m));
                SAME(ref.k->sub(&ref, a, b, x, m), p.k->sub(&p, a, b, y, m));
                SAME(ref.k->neg(&ref, a, x, m), p.k->neg(&p, a, y, m));
                SAME(ref.k->add_scalar(&ref, a, w, x, m), p.k->add_scalar(&p, a, w, y, m));
                SAME(ref.k->mul_scalar(&ref, a, w, ws, x, m),
                     p.k->mul_scalar(&p, a, w, ws, y, m));
                SAME(ref.k->mul(&ref, a, b, x, m), p.k->mul(&p, a, b, y, m));
                SAME(ref.k->reduce(&ref, big, x, m), p.k->reduce(&p, big, y, m));
                memcpy(x, b, m * 8);
                memcpy(y, b, m * 8);
                ref.k->mul_add(&ref, a, a, x, m);
                p.k->mul_add(&p, a, a, y, m);
                assert_memory_equal(x, y, m * 8);
#undef SAME
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
        cmocka_unit_test(test_kernels_agree),
        cmocka_unit_test(test_bad_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
