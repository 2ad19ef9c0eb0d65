/* Known answers and properties of the scalar modular arithmetic and the prime generator. */
#include "test_common.h"

#include "ring/modarith.h"
#include "ring/primes.h"

static void test_known_answers(void **state) {
    (void)state;
    hg_modulus m;
    hg_modulus_init(&m, 1152921504606584833ull); /* a 60-bit NTT prime */
    assert_int_equal(m.bits, 60);
    /* (q-1)^2 = 1 mod q */
    assert_int_equal(hg_mul_mod(m.q - 1, m.q - 1, &m), 1);
    assert_int_equal(hg_add_mod(m.q - 1, 5, m.q), 4);
    assert_int_equal(hg_sub_mod(3, 5, m.q), m.q - 2);
    assert_int_equal(hg_neg_mod(0, m.q), 0);
    hg_modulus s;
    hg_modulus_init(&s, 97);
    assert_int_equal(hg_mul_mod(50, 60, &s), 3000 % 97);
    assert_int_equal(hg_pow_mod(3, 96, &s), 1);
    assert_int_equal(hg_inv_mod(5, &s), 39); /* 5 * 39 = 195 = 2*97 + 1 */
    assert_int_equal(hg_reduce_u64(UINT64_MAX, &s), UINT64_MAX % 97);
    assert_int_equal(hg_from_i64(-1, &s), 96);
    assert_int_equal(hg_from_i64(INT64_MIN, &s), (uint64_t)(97 - (9223372036854775808ull % 97)));
    assert_int_equal(hg_center(96, 97), -1);
    assert_int_equal(hg_center(48, 97), 48);
}

static void test_random_against_u128(void **state) {
    (void)state;
    hg_test_rng r;
    hg_test_rng_init(&r, 1);
    for (int bits = 20; bits <= 61; bits++) {
        uint64_t q = (hg_test_rng_u64(&r) >> (64 - bits)) | (1ull << (bits - 1)) | 1;
        hg_modulus m;
        hg_modulus_init(&m, q);
        for (int i = 0; i < 2000; i++) {
            uint64_t a = hg_test_rng_u64(&r) % q, b = hg_test_rng_u64(&r) % q;
            uint64_t want = (uint64_t)(((hg_u128)a * b) % q);
            assert_int_equal(hg_mul_mod(a, b, &m), want);
            uint64_t x = hg_test_rng_u64(&r);
            assert_int_equal(hg_reduce_u64(x, &m), x % q);
            uint64_t ws = hg_shoup(b, q);
            uint64_t lazy = hg_mul_shoup_lazy(x, b, ws, q);
            assert_true(lazy < 2 * q);
            assert_int_equal(lazy % q, (uint64_t)(((hg_u128)x * b) % q));
            hg_u128 big = (hg_u128)(hg_test_rng_u64(&r) % q) << 64 |
                                    hg_test_rng_u64(&r);
            assert_int_equal(hg_reduce_u128(big, &m), (uint64_t)(big % q));
            /* q is odd but not always prime: an inverse, when one is returned, must be one. */
            uint64_t inv = hg_inv_mod(a, &m);
            if (inv)
                assert_int_equal(hg_mul_mod(a, inv, &m), 1);
        }
    }
}

static void test_primes(void **state) {
    (void)state;
    assert_true(hg_is_prime(2));
    assert_true(hg_is_prime(1152921504606584833ull));
    assert_false(hg_is_prime(1));
    assert_false(hg_is_prime(3215031751ull)); /* strong pseudoprime to bases 2, 3, 5, 7 */
    assert_false(hg_is_prime(18446744073709551615ull));
    assert_true(hg_is_prime(18446744073709551557ull)); /* largest 64-bit prime */
    uint64_t ps[6];
    hg_assert_ok(hg_primes_generate(30, 6, 16384, NULL, 0, ps));
    for (int i = 0; i < 6; i++) {
        assert_true(hg_is_prime(ps[i]));
        assert_int_equal(ps[i] % 16384, 1);
        assert_true(ps[i] < (1ull << 30) && ps[i] > (1ull << 29));
        if (i)
            assert_true(ps[i] < ps[i - 1]);
    }
    uint64_t ex[1] = {ps[0]}, ps2[1];
    hg_assert_ok(hg_primes_generate(30, 1, 16384, ex, 1, ps2));
    assert_int_equal(ps2[0], ps[1]);
    uint64_t many[64];
    hg_assert_fails(hg_primes_generate(20, 64, 1u << 17, NULL, 0, many), HG_ERR_PARAMS,
                    "20 bits");
    hg_assert_fails(hg_primes_generate(61, 1, 16384, NULL, 0, many), HG_ERR_PARAMS, "61 bits");
    uint64_t psi;
    hg_assert_ok(hg_primitive_root(16384, ps[0], &psi));
    hg_modulus m;
    hg_modulus_init(&m, ps[0]);
    assert_int_equal(hg_pow_mod(psi, 8192, &m), ps[0] - 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_random_against_u128),
        cmocka_unit_test(test_primes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
