/* Encoder: round trips, agreement with the canonical embedding computed naively, scalar
 * encoding, levels, and the errors for values that do not fit. */
#include "ckks_test.h"

#include "ckks/ckks.h"

#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_ckks_eval *ev;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    hg_ckks_params_lit lit = HG_PARAMS_TEST_INSECURE_N1024();
    if (hg_ckks_params_new(&lit, &f->p) || hg_ckks_ctx_new(f->p, &f->ctx) ||
        hg_ckks_eval_new(f->ctx, &f->ev))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    hg_ckks_eval_free(f->ev);
    hg_ckks_ctx_free(f->ctx);
    hg_ckks_params_free(f->p);
    free(f);
    return 0;
}

static void test_round_trip(void **state) {
    fixture *f = *state;
    hg_test_rng r;
    hg_test_rng_init(&r, 10);
    const size_t slots = 512;
    double complex z[512], out[512];
    random_slots(&r, z, slots, 100);
    hg_ckks_pt *pt;
    hg_assert_ok(hg_ckks_pt_new(f->ctx, &pt));
    for (int level = 0; level <= 3; level++) {
        hg_assert_ok(hg_ckks_encode(f->ev, z, slots, level, 0x1p40, pt));
        assert_int_equal(hg_ckks_pt_level(pt), level);
        hg_assert_ok(hg_ckks_decode(f->ev, pt, out, slots));
        double bits = precision_bits_c(z, out, slots);
        print_message("level %d: %.1f bits\n", level, bits);
        /* rounding error ~ sqrt(N) / 2^40 */
        assert_true(bits > 25);
    }
    /* Fewer values than slots: the rest decode to zero. */
    hg_assert_ok(hg_ckks_encode(f->ev, z, 10, 3, 0x1p40, pt));
    hg_assert_ok(hg_ckks_decode(f->ev, pt, out, slots));
    for (size_t i = 10; i < slots; i++)
        assert_true(cabs(out[i]) < 1e-6);
    /* Real values. */
    double x[512], y[512];
    for (size_t i = 0; i < slots; i++)
        x[i] = hg_test_rng_uniform(&r, -1, 1);
    hg_assert_ok(hg_ckks_encode_real(f->ev, x, slots, 2, 0x1p40, pt));
    hg_assert_ok(hg_ckks_decode_real(f->ev, pt, y, slots));
    assert_true(hg_precision_bits(x, y, slots) > 30);
    /* A large scale across several primes (coefficients beyond 2^64). */
    hg_assert_ok(hg_ckks_encode(f->ev, z, slots, 3, 0x1p80, pt));
    hg_assert_ok(hg_ckks_decode(f->ev, pt, out, slots));
    assert_true(precision_bits_c(z, out, slots) > 40);
    hg_ckks_pt_free(pt);
}

/* slot j = m(zeta^(5^j)) with m the decoded coefficient vector, computed in long double. */
static void test_canonical_embedding(void **state) {
    fixture *f = *state;
    const hg_ckks_ctx *ctx = f->ctx;
    hg_test_rng r;
    hg_test_rng_init(&r, 11);
    const size_t slots = 512, n = 1024;
    double complex z[512];
    random_slots(&r, z, slots, 1);
    hg_ckks_pt *pt;
    hg_assert_ok(hg_ckks_pt_new(f->ctx, &pt));
    hg_assert_ok(hg_ckks_encode(f->ev, z, slots, 0, 0x1p40, pt));
    /* coefficients of the plaintext, centred, from limb 0 */
    uint64_t c[1024];
    memcpy(c, pt->data, sizeof c);
    hg_ntt_inverse(&ctx->prime[0], c);
    for (size_t j = 0; j < slots; j += 37) {
        uint64_t g = 1;
        for (size_t k = 0; k < j; k++)
            g = g * 5 % (2 * n);
        long double complex acc = 0;
        for (size_t k = 0; k < n; k++) {
            long double ang = (long double)M_PI * (long double)((g * k) % (2 * n)) / (long double)n;
            acc += (long double)hg_center(c[k], ctx->prime[0].mod.q) * (cosl(ang) + I * sinl(ang));
        }
        acc /= 0x1p40L;
        assert_true(cabsl(acc - z[j]) < 1e-8);
    }
    hg_ckks_pt_free(pt);
}

static void test_scalar(void **state) {
    fixture *f = *state;
    hg_ckks_scalar s;
    hg_assert_ok(hg_ckks_scalar_encode(f->ctx, -2.5, 2, 0x1p40, &s));
    assert_int_equal(s.level, 2);
    for (int i = 0; i <= 2; i++) {
        uint64_t q = hg_ckks_params_prime(f->p, i);
        assert_int_equal(s.r[i], q - (uint64_t)(2.5 * 0x1p40) % q);
    }
    /* Its polynomial is the constant, which the full encoder gives for a constant vector. */
    hg_ckks_pt *pt;
    hg_assert_ok(hg_ckks_pt_new(f->ctx, &pt));
    double complex z[512];
    for (int i = 0; i < 512; i++)
        z[i] = -2.5;
    hg_assert_ok(hg_ckks_encode(f->ev, z, 512, 2, 0x1p40, pt));
    for (int i = 0; i <= 2; i++)
        for (size_t k = 0; k < 1024; k += 101) {
            uint64_t q = hg_ckks_params_prime(f->p, i);
            int64_t d = (int64_t)pt->data[(size_t)i * 1024 + k] - (int64_t)s.r[i];
            assert_true(llabs(d) <= 2 || llabs(d) >= (int64_t)q - 2);
        }
    hg_ckks_pt_free(pt);
    /* Beyond 2^64 and negative. */
    hg_assert_ok(hg_ckks_scalar_encode(f->ctx, -3.0, 3, 0x1p70, &s));
    uint64_t q0 = hg_ckks_params_prime(f->p, 0);
    hg_u128 v = (hg_u128)3 << 70;
    assert_int_equal(s.r[0], q0 - (uint64_t)(v % q0));
}

static void test_errors(void **state) {
    fixture *f = *state;
    hg_ckks_pt *pt;
    hg_assert_ok(hg_ckks_pt_new(f->ctx, &pt));
    double complex z[513] = {1e30};
    hg_assert_fails(hg_ckks_encode(f->ev, z, 1, 0, 0x1p40, pt), HG_ERR_SCALE, "level 0");
    hg_assert_fails(hg_ckks_encode(f->ev, z, 513, 0, 0x1p40, pt), HG_ERR_INVALID_ARG, "513");
    z[0] = 1;
    hg_assert_fails(hg_ckks_encode(f->ev, z, 1, 4, 0x1p40, pt), HG_ERR_LEVEL, "level 4");
    hg_assert_fails(hg_ckks_encode(f->ev, z, 1, -1, 0x1p40, pt), HG_ERR_LEVEL, "level -1");
    z[0] = NAN;
    hg_assert_fails(hg_ckks_encode(f->ev, z, 1, 0, 0x1p40, pt), HG_ERR_SCALE, "not finite");
    hg_ckks_scalar s;
    hg_assert_fails(hg_ckks_scalar_encode(f->ctx, 1e20, 0, 0x1p40, &s), HG_ERR_SCALE,
                    "does not fit");
    hg_ckks_pt_free(pt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_canonical_embedding),
        cmocka_unit_test(test_scalar),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
