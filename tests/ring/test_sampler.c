/* Samplers: determinism of seeded streams, ranges, and the moments of each distribution. */
#include "test_common.h"

#include "ring/rns.h"
#include "ring/primes.h"
#include "ring/sampler.h"
#include "util/util.h"

#include <math.h>
#include <string.h>

static void test_uniform(void **state) {
    (void)state;
    uint8_t seed[HG_SEED_BYTES] = {1, 2, 3};
    static const uint64_t qs[] = {(1u << 24) - 3 * 16384 + 1, 1152921504606584833ull, 97};
    for (size_t qi = 0; qi < 3; qi++) {
        hg_modulus m;
        hg_modulus_init(&m, qs[qi]);
        uint64_t a[4096], b[4096];
        hg_prng r1, r2;
        hg_prng_init(&r1, seed, 7, 3);
        hg_prng_init(&r2, seed, 7, 3);
        hg_sample_uniform(&r1, &m, a, 4096);
        hg_sample_uniform(&r2, &m, b, 4096);
        assert_memory_equal(a, b, sizeof a); /* same seed, domain and index: same values */
        hg_prng_init(&r2, seed, 7, 4);
        hg_sample_uniform(&r2, &m, b, 4096);
        assert_true(memcmp(a, b, sizeof a) != 0); /* another index: another stream */
        double mean = 0;
        for (int i = 0; i < 4096; i++) {
            assert_true(a[i] < m.q);
            mean += (double)a[i] / (double)m.q;
        }
        mean /= 4096;
        assert_true(fabs(mean - 0.5) < 0.03);
    }
}

static void test_ternary_gaussian(void **state) {
    (void)state;
    /* A stream from the run's test seed (HG_TEST_SEED): the moment checks below are 4-sigma
     * bounds, which fresh randomness would miss now and then. */
    uint8_t seed[HG_SEED_BYTES] = {0};
    const uint64_t ts = hg_test_seed();
    memcpy(seed, &ts, sizeof ts);
    hg_prng r;
    hg_prng_init(&r, seed, 1, 0);
    enum { n = 1 << 16 };
    static int8_t v[n];
    hg_sample_ternary(&r, v, n);
    int count[3] = {0};
    for (int i = 0; i < n; i++) {
        assert_true(v[i] >= -1 && v[i] <= 1);
        count[v[i] + 1]++;
    }
    for (int k = 0; k < 3; k++)
        assert_true(fabs(count[k] / (double)n - 1.0 / 3) < 0.01);
    hg_sample_gaussian(&r, v, n);
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++) {
        assert_true(v[i] >= -HG_GAUSSIAN_BOUND && v[i] <= HG_GAUSSIAN_BOUND);
        mean += v[i];
        var += (double)v[i] * v[i];
    }
    mean /= n;
    var /= n;
    assert_true(fabs(mean) < 0.05);
    /* The variance of the discrete Gaussian of parameter sigma is sigma^2 to within 1e-3 here. */
    assert_true(fabs(sqrt(var) - HG_GAUSSIAN_SIGMA) < 0.05);
    hg_modulus m;
    hg_modulus_init(&m, 97);
    uint64_t out[4];
    int8_t small[4] = {-1, 0, 1, -19};
    hg_small_to_mod(small, &m, out, 4);
    assert_int_equal(out[0], 96);
    assert_int_equal(out[1], 0);
    assert_int_equal(out[2], 1);
    assert_int_equal(out[3], 78);
    hg_prng_clear(&r);
}

/* Basis conversion against an exact computation with 128-bit integers. */
static void test_baseconv(void **state) {
    (void)state;
    const size_t n = 64;
    uint64_t qs[2], ps[2];
    hg_assert_ok(hg_primes_generate(40, 2, 2 * n, NULL, 0, qs));
    hg_assert_ok(hg_primes_generate(45, 2, 2 * n, NULL, 0, ps));
    hg_prime q[2], p[2];
    for (int i = 0; i < 2; i++) {
        hg_assert_ok(hg_prime_init(&q[i], qs[i], n));
        hg_assert_ok(hg_prime_init(&p[i], ps[i], n));
    }
    const hg_prime *in[2] = {&q[0], &q[1]}, *out[2] = {&p[0], &p[1]};
    for (int k = 1; k <= 2; k++) {
        hg_baseconv bc;
        hg_assert_ok(hg_baseconv_init(&bc, in, k, out, 2));
        hg_test_rng r;
        hg_test_rng_init(&r, 40 + (uint64_t)k);
        hg_u128 big_q = k == 1 ? qs[0] : (hg_u128)qs[0] * qs[1];
        uint64_t x[128], y[128], scratch[128];
        hg_u128 val[64];
        for (size_t j = 0; j < n; j++) {
            hg_u128 v = ((hg_u128)hg_test_rng_u64(&r) << 64 | hg_test_rng_u64(&r)) % big_q;
            val[j] = v;
            for (int i = 0; i < k; i++)
                x[(size_t)i * n + j] = (uint64_t)(v % qs[i]);
        }
        hg_baseconv_apply(&bc, x, y, scratch, n);
        for (size_t j = 0; j < n; j++)
            for (int o = 0; o < 2; o++) {
                /* The result is x + u Q with |u| <= k/2, and the centred x when k = 1. */
                uint64_t got = y[(size_t)o * n + j];
                bool ok = false;
                for (int u = -k; u <= k; u++) {
                    hg_i128 cand = (hg_i128)val[j] + (hg_i128)u * (hg_i128)big_q;
                    hg_i128 mod = cand % (hg_i128)ps[o];
                    if (mod < 0)
                        mod += ps[o];
                    if ((uint64_t)mod == got) {
                        ok = true;
                        if (k == 1)
                            assert_int_equal(u, val[j] > big_q / 2 ? -1 : 0);
                    }
                }
                assert_true(ok);
            }
        hg_baseconv_clear(&bc);
    }
    for (int i = 0; i < 2; i++) {
        hg_prime_clear(&q[i]);
        hg_prime_clear(&p[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_ternary_gaussian),
        cmocka_unit_test(test_baseconv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
