/* Parameters: the security table, refusals with both bit counts, literals with explicit
 * primes, and serialization of parameters. */
#include "ckks_test.h"

#include "ckks/ckks.h"

#include <string.h>

static void test_security_table(void **state) {
    (void)state;
    assert_int_equal(hg_ckks_max_log_modulus(13, 128), 218);
    assert_int_equal(hg_ckks_max_log_modulus(14, 128), 438);
    assert_int_equal(hg_ckks_max_log_modulus(12, 192), 75);
    assert_int_equal(hg_ckks_max_log_modulus(15, 256), 476);
    assert_int_equal(hg_ckks_max_log_modulus(16, 128), 1747);
    assert_int_equal(hg_ckks_max_log_modulus(9, 128), 0);
    assert_int_equal(hg_ckks_max_log_modulus(13, 100), 0);
}

static void test_cryptonets_set(void **state) {
    (void)state;
    /* nGraph-HE2's CryptoNets set: 180 bits <= 218 at N = 8192. */
    hg_ckks_params_lit lit = {.log_n = 13, .n_primes = 7, .bits = {30, 24, 24, 24, 24, 24, 30},
                              .n_special = 1, .scale = 0x1p24};
    hg_ckks_params *p;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    assert_int_equal(hg_ckks_params_n_data(p), 6);
    assert_int_equal(hg_ckks_params_security(p), 128);
    assert_true(hg_ckks_params_log_modulus(p) <= 180);
    assert_true(hg_ckks_params_log_modulus(p) >= 175);
    for (int i = 0; i < 7; i++) {
        uint64_t q = hg_ckks_params_prime(p, i);
        assert_int_equal(q % 16384, 1);
        assert_int_equal(64 - __builtin_clzll(q), lit.bits[i]);
        for (int j = 0; j < i; j++)
            assert_true(q != hg_ckks_params_prime(p, j));
    }
    hg_ckks_params_free(p);
}

static void test_refusals(void **state) {
    (void)state;
    hg_ckks_params *p = NULL;
    /* 60 * 4 = 240 bits > 218 at N = 8192: refused, naming both numbers. */
    hg_ckks_params_lit lit = {.log_n = 13, .n_primes = 4, .bits = {60, 60, 60, 60},
                              .n_special = 1, .scale = 0x1p40};
    hg_assert_fails(hg_ckks_params_new(&lit, &p), HG_ERR_PARAMS, "240 bits");
    assert_non_null(strstr(hg_last_error(), "218"));
    assert_null(p);
    /* The same at 192 bits: 152 allowed. */
    lit.n_primes = 3;
    lit.bits[2] = 40;
    lit.security = 192;
    hg_assert_fails(hg_ckks_params_new(&lit, &p), HG_ERR_PARAMS, "152");
    /* Insecure on request: accepted, reporting the level the set does meet. */
    lit.insecure = true;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    assert_int_equal(hg_ckks_params_security(p), 128); /* 160 bits meets 128 */
    hg_ckks_params_free(p);
    lit = HG_PARAMS_TEST_INSECURE_N1024();
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    assert_int_equal(hg_ckks_params_security(p), 0);
    hg_ckks_params_free(p);
    lit.insecure = false;
    hg_assert_fails(hg_ckks_params_new(&lit, &p), HG_ERR_PARAMS, "27 bits");
    /* N = 2^16 has no 192-bit bound in the standard. */
    hg_ckks_params_lit big = {.log_n = 16, .n_primes = 2, .bits = {40, 40}, .n_special = 1,
                              .scale = 0x1p30, .security = 192};
    hg_assert_fails(hg_ckks_params_new(&big, &p), HG_ERR_PARAMS, "no modulus bound");
    /* Malformed literals. */
    hg_ckks_params_lit bad = HG_PARAMS_TEST_INSECURE_N1024();
    bad.log_n = 17;
    hg_assert_fails(hg_ckks_params_new(&bad, &p), HG_ERR_PARAMS, "log N = 17");
    bad = HG_PARAMS_TEST_INSECURE_N1024();
    bad.bits[1] = 61;
    hg_assert_fails(hg_ckks_params_new(&bad, &p), HG_ERR_PARAMS, "bit size 61");
    bad = HG_PARAMS_TEST_INSECURE_N1024();
    bad.n_special = 5; /* every prime special: no data prime */
    hg_assert_fails(hg_ckks_params_new(&bad, &p), HG_ERR_PARAMS, "special");
    bad = HG_PARAMS_TEST_INSECURE_N1024();
    bad.scale = 0x1p300;
    hg_assert_fails(hg_ckks_params_new(&bad, &p), HG_ERR_PARAMS, "scale");
    bad = HG_PARAMS_TEST_INSECURE_N1024();
    bad.security = 100;
    hg_assert_fails(hg_ckks_params_new(&bad, &p), HG_ERR_PARAMS, "security level 100");
    /* Explicit primes: a non-prime, a prime that is not 1 mod 2N, a repeat. */
    hg_ckks_params_lit ex = {.log_n = 10, .n_primes = 2, .n_special = 1, .scale = 0x1p20,
                             .insecure = true};
    ex.primes[0] = 1152921504606584833ull + 2;
    ex.primes[1] = 1152921504606584833ull;
    hg_assert_fails(hg_ckks_params_new(&ex, &p), HG_ERR_PARAMS, "prime 0");
    ex.primes[0] = 1000003; /* prime, but not 1 mod 2048 */
    hg_assert_fails(hg_ckks_params_new(&ex, &p), HG_ERR_PARAMS, "1 mod 2N");
    ex.primes[0] = ex.primes[1];
    hg_assert_fails(hg_ckks_params_new(&ex, &p), HG_ERR_PARAMS, "equal");
}

static void test_params_serialization(void **state) {
    (void)state;
    hg_ckks_params_lit lit = HG_PARAMS_TEST_INSECURE_N1024_TWO_SPECIAL();
    hg_ckks_params *p, *q;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    uint8_t buf[1024];
    size_t len;
    assert_true(hg_ckks_params_size(p) <= sizeof buf);
    hg_assert_ok(hg_ckks_params_write(p, buf, sizeof buf, &len));
    assert_int_equal(len, hg_ckks_params_size(p));
    assert_memory_equal(buf, "HGRA", 4);
    hg_assert_fails(hg_ckks_params_read(buf, len, false, &q), HG_ERR_PARAMS, "insecure");
    hg_assert_ok(hg_ckks_params_read(buf, len, true, &q));
    assert_int_equal(hg_ckks_params_n_special(q), 2);
    for (int i = 0; i < 7; i++)
        assert_int_equal(hg_ckks_params_prime(p, i), hg_ckks_params_prime(q, i));
    assert_true(hg_ckks_params_scale(q) == hg_ckks_params_scale(p));
    hg_ckks_params_free(q);
    /* Every truncation fails cleanly. */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(hg_ckks_params_read(buf, cut, true, &q), HG_ERR_FORMAT);
    /* Bad magic, wrong type, wrong version. */
    buf[0] ^= 1;
    hg_assert_fails(hg_ckks_params_read(buf, len, true, &q), HG_ERR_FORMAT, "magic");
    buf[0] ^= 1;
    buf[6] = 2;
    hg_assert_fails(hg_ckks_params_read(buf, len, true, &q), HG_ERR_FORMAT, "expected");
    buf[6] = 1;
    buf[4] = 9;
    hg_assert_fails(hg_ckks_params_read(buf, len, true, &q), HG_ERR_FORMAT, "version");
    buf[4] = 1;
    /* A corrupted prime is refused by the same checks as a literal. */
    buf[16 + 16] ^= 4;
    assert_int_equal(hg_ckks_params_read(buf, len, true, &q), HG_ERR_PARAMS);
    hg_ckks_params_free(p);
}

/* A chain without a special prime (models that never switch keys): every bit of the 128-bit
 * budget goes to data primes. Encryption, products by scalars and rescaling work; making a
 * key-switching key fails with a clear error; the parameters round-trip. */
static void test_no_special_prime(void **state) {
    (void)state;
    hg_ckks_params_lit lit = {.log_n = 12, .n_primes = 3, .bits = {39, 35, 35}, .n_special = 0,
                              .scale = 0x1p35};
    hg_ckks_params *p, *q;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    assert_int_equal(hg_ckks_params_n_special(p), 0);
    assert_int_equal(hg_ckks_params_n_data(p), 3);
    assert_int_equal(hg_ckks_params_security(p), 128);
    uint8_t buf[1024];
    size_t len;
    hg_assert_ok(hg_ckks_params_write(p, buf, sizeof buf, &len));
    hg_assert_ok(hg_ckks_params_read(buf, len, false, &q));
    assert_int_equal(hg_ckks_params_n_special(q), 0);
    hg_ckks_params_free(q);
    lit.n_special = -1;
    hg_assert_fails(hg_ckks_params_new(&lit, &q), HG_ERR_PARAMS, "need 0 to");

    hg_ckks_ctx *ctx;
    hg_ckks_sk *sk;
    hg_ckks_pk *pk;
    hg_ckks_eval *ev;
    hg_ckks_pt *pt;
    hg_ckks_ct *ct, *ct2;
    hg_assert_ok(hg_ckks_ctx_new(p, &ctx));
    hg_assert_ok(hg_ckks_sk_new(ctx, &sk));
    hg_assert_ok(hg_ckks_pk_new(ctx, sk, &pk));
    hg_assert_ok(hg_ckks_eval_new(ctx, &ev));
    hg_assert_ok(hg_ckks_pt_new(ctx, &pt));
    hg_assert_ok(hg_ckks_ct_new(ctx, &ct));
    hg_assert_ok(hg_ckks_ct_new(ctx, &ct2));
    enum { SLOTS = 2048 };
    static double complex z[SLOTS], got[SLOTS], want[SLOTS];
    hg_test_rng r;
    hg_test_rng_init(&r, 90);
    random_slots(&r, z, SLOTS, 1.0);
    for (int pub = 0; pub <= 1; pub++) {
        hg_assert_ok(hg_ckks_encode(ev, z, SLOTS, 2, 0x1p35, pt));
        if (pub)
            hg_assert_ok(hg_ckks_encrypt(ev, pk, pt, ct));
        else
            hg_assert_ok(hg_ckks_encrypt_sym(ev, sk, pt, ct));
        hg_assert_ok(hg_ckks_decrypt(ev, sk, ct, pt));
        hg_assert_ok(hg_ckks_decode(ev, pt, got, SLOTS));
        /* Public-key noise is not divided by a special prime: about 2^14 at scale 2^35. */
        double bits = precision_bits_c(got, z, SLOTS);
        print_message("# %s encryption: %.1f bits\n", pub ? "public-key" : "secret-key", bits);
        assert_true(bits > (pub ? 17 : 22));
        /* A product by a scalar at scale q_2, rescaled: back to 2^35, one level down. */
        double q2 = (double)hg_ckks_params_prime(p, 2);
        hg_assert_ok(hg_ckks_mul_scalar(ev, ct, -0.75, q2, ct2));
        hg_assert_ok(hg_ckks_rescale(ev, ct2, ct));
        hg_assert_ok(hg_ckks_decrypt(ev, sk, ct, pt));
        hg_assert_ok(hg_ckks_decode(ev, pt, got, SLOTS));
        for (size_t i = 0; i < SLOTS; i++)
            want[i] = -0.75 * z[i];
        assert_true(precision_bits_c(got, want, SLOTS) > (pub ? 17 : 20));
    }
    hg_ckks_rlk *rlk = NULL;
    hg_assert_fails(hg_ckks_rlk_new(ctx, sk, &rlk), HG_ERR_PARAMS, "no special prime");
    assert_null(rlk);
    hg_ckks_gk *gk = NULL;
    int step = 1;
    hg_assert_fails(hg_ckks_gk_new(ctx, sk, &step, 1, false, &gk), HG_ERR_PARAMS,
                    "no special prime");
    assert_null(gk);
    hg_ckks_ct_free(ct2);
    hg_ckks_ct_free(ct);
    hg_ckks_pt_free(pt);
    hg_ckks_eval_free(ev);
    hg_ckks_pk_free(pk);
    hg_ckks_sk_free(sk);
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_special_prime),
        cmocka_unit_test(test_security_table),
        cmocka_unit_test(test_cryptonets_set),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_params_serialization),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
