/*
 * The evaluator against the same computation on plaintext vectors, for three parameter sets
 * (60/40-bit primes; nGraph-HE2's small primes; two special primes), with the precision in bits
 * printed and asserted; and every error path.
 */
#include "ckks_test.h"

#include "ckks/ckks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    const char *name;
    hg_ckks_params_lit lit;
    double min_bits; /* precision a fresh encryption must reach */
    /* Precision after one key switch at scale `scale`: the switch adds noise of about
     * N * sigma * (largest digit / P) in slot units, independent of the scale, which costs
     * most with nGraph-HE2's small primes (digit q_0 and P of 30 bits, scale 2^24). */
    double rot_bits;
    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_ckks_eval *ev;
    hg_ckks_sk *sk;
    hg_ckks_pk *pk;
    hg_ckks_rlk *rlk;
    hg_ckks_gk *gk;
    size_t slots;
    int top;
    double scale;
    hg_test_rng rng;
} fixture;

static int setup(fixture *f) {
    if (hg_ckks_params_new(&f->lit, &f->p) || hg_ckks_ctx_new(f->p, &f->ctx) ||
        hg_ckks_eval_new(f->ctx, &f->ev) || hg_ckks_sk_new(f->ctx, &f->sk) ||
        hg_ckks_pk_new(f->ctx, f->sk, &f->pk) || hg_ckks_rlk_new(f->ctx, f->sk, &f->rlk))
        return -1;
    int steps[] = {1, -1, 3, 100};
    if (hg_ckks_gk_new(f->ctx, f->sk, steps, 4, true, &f->gk))
        return -1;
    f->slots = hg_ckks_params_slots(f->p);
    f->top = hg_ckks_ctx_max_level(f->ctx);
    f->scale = hg_ckks_params_scale(f->p);
    hg_test_rng_init(&f->rng, 20);
    print_message("# %s: simd %s\n", f->name, hg_ckks_ctx_simd(f->ctx));
    return 0;
}

static int setup_a(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->name = "N1024 55/40/60-bit primes";
    f->lit = HG_PARAMS_TEST_INSECURE_N1024();
    f->min_bits = 20;
    f->rot_bits = 16;
    *state = f;
    return setup(f);
}
static int setup_b(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->name = "N2048 30/24-bit primes";
    f->lit = HG_PARAMS_TEST_INSECURE_N2048_SMALL_PRIMES();
    f->min_bits = 10;
    f->rot_bits = 6;
    *state = f;
    return setup(f);
}
static int setup_c(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->name = "N1024 two special primes";
    f->lit = HG_PARAMS_TEST_INSECURE_N1024_TWO_SPECIAL();
    f->min_bits = 18;
    f->rot_bits = 14;
    *state = f;
    return setup(f);
}

static int teardown(void **state) {
    fixture *f = *state;
    hg_ckks_gk_free(f->gk);
    hg_ckks_rlk_free(f->rlk);
    hg_ckks_pk_free(f->pk);
    hg_ckks_sk_free(f->sk);
    hg_ckks_eval_free(f->ev);
    hg_ckks_ctx_free(f->ctx);
    hg_ckks_params_free(f->p);
    free(f);
    return 0;
}

/* Encrypts z at a level and scale with the public key. */
static hg_ckks_ct *enc(fixture *f, const double complex *z, int level, double scale) {
    hg_ckks_pt *pt;
    hg_ckks_ct *ct;
    hg_assert_ok(hg_ckks_pt_new(f->ctx, &pt));
    hg_assert_ok(hg_ckks_ct_new(f->ctx, &ct));
    hg_assert_ok(hg_ckks_encode(f->ev, z, f->slots, level, scale, pt));
    hg_assert_ok(hg_ckks_encrypt(f->ev, f->pk, pt, ct));
    hg_ckks_pt_free(pt);
    return ct;
}

/* Decrypts and returns the precision against want, asserting at least min bits. */
static double check(fixture *f, const hg_ckks_ct *ct, const double complex *want, double min,
                    const char *what) {
    hg_ckks_pt *pt;
    double complex *got = malloc(f->slots * sizeof *got);
    hg_assert_ok(hg_ckks_pt_new(f->ctx, &pt));
    hg_assert_ok(hg_ckks_decrypt(f->ev, f->sk, ct, pt));
    hg_assert_ok(hg_ckks_decode(f->ev, pt, got, f->slots));
    double bits = precision_bits_c(want, got, f->slots);
    print_message("#   %-28s level %d  %5.1f bits (need %.0f)\n", what, hg_ckks_ct_level(ct), bits,
                  min);
    if (bits < min)
        fail_msg("%s: %.1f bits of precision, %.1f required", what, bits, min);
    hg_ckks_pt_free(pt);
    free(got);
    return bits;
}

static double complex *vec(fixture *f, double amp) {
    double complex *z = malloc(f->slots * sizeof *z);
    random_slots(&f->rng, z, f->slots, amp);
    return z;
}

static void test_encrypt_decrypt(void **state) {
    fixture *f = *state;
    double complex *z = vec(f, 1);
    hg_ckks_ct *ct = enc(f, z, f->top, f->scale);
    assert_int_equal(hg_ckks_ct_size(ct), 2);
    assert_int_equal(hg_ckks_ct_level(ct), f->top);
    check(f, ct, z, f->min_bits, "public-key encryption");
    /* Symmetric, seeded. */
    hg_ckks_pt *pt;
    hg_assert_ok(hg_ckks_pt_new(f->ctx, &pt));
    hg_assert_ok(hg_ckks_encode(f->ev, z, f->slots, 1, f->scale, pt));
    hg_assert_ok(hg_ckks_encrypt_sym(f->ev, f->sk, pt, ct));
    assert_true(ct->seeded);
    check(f, ct, z, f->min_bits, "secret-key encryption");
    /* Two encryptions of the same plaintext differ (fresh randomness). */
    hg_ckks_ct *ct2;
    hg_assert_ok(hg_ckks_ct_new(f->ctx, &ct2));
    hg_assert_ok(hg_ckks_encrypt_sym(f->ev, f->sk, pt, ct2));
    assert_true(memcmp(ct->data, ct2->data, f->ctx->n * 8) != 0);
    hg_ckks_ct_free(ct2);
    hg_ckks_pt_free(pt);
    hg_ckks_ct_free(ct);
    free(z);
}

static void test_add_sub_neg(void **state) {
    fixture *f = *state;
    double complex *a = vec(f, 1), *b = vec(f, 1), *w = vec(f, 1);
    hg_ckks_ct *ca = enc(f, a, f->top, f->scale), *cb = enc(f, b, f->top, f->scale), *out;
    hg_assert_ok(hg_ckks_ct_new(f->ctx, &out));
    for (size_t i = 0; i < f->slots; i++)
        w[i] = a[i] + b[i];
    hg_assert_ok(hg_ckks_add(f->ev, ca, cb, out));
    check(f, out, w, f->min_bits - 1, "add");
    for (size_t i = 0; i < f->slots; i++)
        w[i] = a[i] - b[i];
    hg_assert_ok(hg_ckks_sub(f->ev, ca, cb, out));
    check(f, out, w, f->min_bits - 1, "sub");
    for (size_t i = 0; i < f->slots; i++)
        w[i] = -a[i];
    hg_assert_ok(hg_ckks_neg(f->ev, ca, out));
    check(f, out, w, f->min_bits, "negate");
    /* In place: a += b. */
    for (size_t i = 0; i < f->slots; i++)
        w[i] = a[i] + b[i];
    hg_assert_ok(hg_ckks_add(f->ev, ca, cb, ca));
    check(f, ca, w, f->min_bits - 1, "add in place");
    hg_ckks_ct_free(ca);
    hg_ckks_ct_free(cb);
    hg_ckks_ct_free(out);
    free(a);
    free(b);
    free(w);
}

static void test_plain_and_scalar(void **state) {
    fixture *f = *state;
    double complex *a = vec(f, 1), *b = vec(f, 1), *w = vec(f, 1);
    hg_ckks_ct *ca = enc(f, a, f->top, f->scale), *out;
    hg_ckks_pt *pb;
    hg_assert_ok(hg_ckks_ct_new(f->ctx, &out));
    hg_assert_ok(hg_ckks_pt_new(f->ctx, &pb));
    hg_assert_ok(hg_ckks_encode(f->ev, b, f->slots, f->top, f->scale, pb));
    for (size_t i = 0; i < f->slots; i++)
        w[i] = a[i] + b[i];
    hg_assert_ok(hg_ckks_add_plain(f->ev, ca, pb, out));
    check(f, out, w, f->min_bits - 1, "add plain");
    for (size_t i = 0; i < f->slots; i++)
        w[i] = a[i] - b[i];
    hg_assert_ok(hg_ckks_sub_plain(f->ev, ca, pb, out));
    check(f, out, w, f->min_bits - 1, "sub plain");
    for (size_t i = 0; i < f->slots; i++)
        w[i] = a[i] * b[i];
    hg_assert_ok(hg_ckks_mul_plain(f->ev, ca, pb, out));
    assert_true(hg_ckks_ct_scale(out) == f->scale * f->scale);
    hg_assert_ok(hg_ckks_rescale(f->ev, out, out));
    assert_int_equal(hg_ckks_ct_level(out), f->top - 1);
    check(f, out, w, f->min_bits - 2, "mul plain, rescale");
    for (size_t i = 0; i < f->slots; i++)
        w[i] = a[i] + 0.625;
    hg_assert_ok(hg_ckks_add_scalar(f->ev, ca, 0.625, out));
    check(f, out, w, f->min_bits, "add scalar");
    for (size_t i = 0; i < f->slots; i++)
        w[i] = a[i] * -1.75;
    hg_assert_ok(hg_ckks_mul_scalar(f->ev, ca, -1.75, f->scale, out));
    hg_assert_ok(hg_ckks_rescale(f->ev, out, out));
    check(f, out, w, f->min_bits - 2, "mul scalar, rescale");
    /* Depth-aware: a scalar encoded at scale q_top leaves the scale unchanged after the
     * rescale. */
    double q_top = (double)hg_ckks_params_prime(f->p, f->top);
    hg_ckks_scalar s;
    hg_assert_ok(hg_ckks_scalar_encode(f->ctx, 0.3, f->top, q_top, &s));
    hg_assert_ok(hg_ckks_mul_scalar_enc(f->ev, ca, &s, out));
    hg_assert_ok(hg_ckks_rescale(f->ev, out, out));
    assert_true(fabs(hg_ckks_ct_scale(out) - f->scale) < 1e-6 * f->scale);
    for (size_t i = 0; i < f->slots; i++)
        w[i] = a[i] * 0.3;
    check(f, out, w, f->min_bits - 2, "mul scalar at scale q_l");
    hg_ckks_ct_free(ca);
    hg_ckks_ct_free(out);
    hg_ckks_pt_free(pb);
    free(a);
    free(b);
    free(w);
}

static void test_mul_relin_rescale(void **state) {
    fixture *f = *state;
    double complex *a = vec(f, 1), *b = vec(f, 1), *w = vec(f, 1);
    hg_ckks_ct *ca = enc(f, a, f->top, f->scale), *cb = enc(f, b, f->top, f->scale), *out;
    hg_assert_ok(hg_ckks_ct_new(f->ctx, &out));
    for (size_t i = 0; i < f->slots; i++)
        w[i] = a[i] * b[i];
    hg_assert_ok(hg_ckks_mul(f->ev, ca, cb, out));
    assert_int_equal(hg_ckks_ct_size(out), 3);
    check(f, out, w, f->min_bits - 3, "mul (3 components)");
    /* A 3-component ciphertext flows through additions (lazy relinearization). */
    hg_ckks_ct *sum;
    hg_assert_ok(hg_ckks_ct_new(f->ctx, &sum));
    double complex *w2 = vec(f, 1);
    hg_ckks_pt *pb;
    hg_assert_ok(hg_ckks_pt_new(f->ctx, &pb));
    hg_assert_ok(hg_ckks_encode(f->ev, b, f->slots, f->top, f->scale * f->scale, pb));
    for (size_t i = 0; i < f->slots; i++)
        w2[i] = w[i] + b[i];
    hg_assert_ok(hg_ckks_add_plain(f->ev, out, pb, sum));
    check(f, sum, w2, f->min_bits - 3, "3 components + plain");
    hg_ckks_ct *ca2;
    hg_assert_ok(hg_ckks_ct_new(f->ctx, &ca2));
    hg_assert_ok(hg_ckks_mul_scalar(f->ev, ca, 1.0, f->scale, ca2));
    for (size_t i = 0; i < f->slots; i++)
        w2[i] = w[i] + a[i];
    hg_assert_ok(hg_ckks_add(f->ev, ca2, out, sum)); /* 2 + 3 components */
    assert_int_equal(hg_ckks_ct_size(sum), 3);
    check(f, sum, w2, f->min_bits - 3, "2 + 3 components");
    hg_assert_ok(hg_ckks_relinearize(f->ev, f->rlk, out, out));
    assert_int_equal(hg_ckks_ct_size(out), 2);
    check(f, out, w, f->min_bits - 3, "relinearize");
    hg_assert_ok(hg_ckks_rescale(f->ev, out, out));
    check(f, out, w, f->min_bits - 3, "rescale");
    /* Square, then a chain down to level 0. */
    hg_ckks_ct *x = enc(f, a, f->top, f->scale);
    double complex *cur = vec(f, 1);
    memcpy(cur, a, f->slots * sizeof *cur);
    for (int l = f->top; l > 0; l--) {
        hg_assert_ok(hg_ckks_square(f->ev, x, x));
        hg_assert_ok(hg_ckks_relinearize(f->ev, f->rlk, x, x));
        hg_assert_ok(hg_ckks_rescale(f->ev, x, x));
        for (size_t i = 0; i < f->slots; i++)
            cur[i] = cur[i] * cur[i];
        check(f, x, cur, f->min_bits - 4, "square, relinearize, rescale");
    }
    assert_int_equal(hg_ckks_ct_level(x), 0);
    hg_assert_fails(hg_ckks_rescale(f->ev, x, x), HG_ERR_LEVEL, "level 0");
    hg_ckks_ct_free(x);
    hg_ckks_ct_free(ca);
    hg_ckks_ct_free(ca2);
    hg_ckks_ct_free(cb);
    hg_ckks_ct_free(out);
    hg_ckks_ct_free(sum);
    hg_ckks_pt_free(pb);
    free(a);
    free(b);
    free(w);
    free(w2);
    free(cur);
}

static void test_rotate_conjugate(void **state) {
    fixture *f = *state;
    double complex *a = vec(f, 1), *w = vec(f, 1);
    hg_ckks_ct *ca = enc(f, a, f->top, f->scale), *out;
    hg_assert_ok(hg_ckks_ct_new(f->ctx, &out));
    const int steps[] = {1, -1, 3, 100, 0, (int)f->slots + 1};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        int64_t k = steps[s];
        for (size_t i = 0; i < f->slots; i++)
            w[i] = a[(size_t)(((int64_t)i + k) % (int64_t)f->slots + (int64_t)f->slots) %
                     f->slots];
        hg_assert_ok(hg_ckks_rotate(f->ev, f->gk, ca, steps[s], out));
        char what[64];
        snprintf(what, sizeof what, "rotate by %d", steps[s]);
        check(f, out, w, f->rot_bits, what);
    }
    /* Rotation by 4 = 3 + 1 is not composable from these keys (3 is not a power of two). */
    hg_assert_fails(hg_ckks_rotate(f->ev, f->gk, ca, 4, out), HG_ERR_MISSING_KEY, "rotation by 4");
    /* With power-of-two keys any rotation composes. */
    hg_ckks_gk *pow2;
    hg_assert_ok(hg_ckks_gk_new_pow2(f->ctx, f->sk, false, &pow2));
    for (int k = 5; k < (int)f->slots; k += 77) {
        for (size_t i = 0; i < f->slots; i++)
            w[i] = a[(i + (size_t)k) % f->slots];
        hg_assert_ok(hg_ckks_rotate(f->ev, pow2, ca, k, out));
        check(f, out, w, f->rot_bits - 2, "composed rotation");
    }
    hg_assert_fails(hg_ckks_conjugate(f->ev, pow2, ca, out), HG_ERR_MISSING_KEY, "conjugation");
    hg_ckks_gk_free(pow2);
    for (size_t i = 0; i < f->slots; i++)
        w[i] = conj(a[i]);
    hg_assert_ok(hg_ckks_conjugate(f->ev, f->gk, ca, out));
    check(f, out, w, f->rot_bits, "conjugate");
    /* Rotation at a lower level. */
    hg_assert_ok(hg_ckks_drop_level(f->ev, ca, 0, out));
    hg_assert_ok(hg_ckks_rotate(f->ev, f->gk, out, 1, out));
    for (size_t i = 0; i < f->slots; i++)
        w[i] = a[(i + 1) % f->slots];
    check(f, out, w, f->rot_bits, "rotate at level 0");
    hg_ckks_ct_free(ca);
    hg_ckks_ct_free(out);
    free(a);
    free(w);
}

static void test_levels(void **state) {
    fixture *f = *state;
    double complex *a = vec(f, 1);
    hg_ckks_ct *ca = enc(f, a, f->top, f->scale), *out;
    hg_assert_ok(hg_ckks_ct_new(f->ctx, &out));
    for (int l = f->top; l >= 0; l--) {
        hg_assert_ok(hg_ckks_drop_level(f->ev, ca, l, out));
        assert_int_equal(hg_ckks_ct_level(out), l);
        check(f, out, a, f->min_bits, "drop level");
    }
    hg_assert_ok(hg_ckks_drop_level(f->ev, ca, 0, ca));
    check(f, ca, a, f->min_bits, "drop level in place");
    hg_ckks_ct_free(ca);
    hg_ckks_ct_free(out);
    free(a);
}

static void test_errors(void **state) {
    fixture *f = *state;
    double complex *a = vec(f, 1);
    hg_ckks_ct *x = enc(f, a, f->top, f->scale), *y = enc(f, a, f->top - 1, f->scale), *out;
    hg_ckks_ct *z = enc(f, a, f->top, f->scale * 2);
    hg_assert_ok(hg_ckks_ct_new(f->ctx, &out));
    hg_assert_fails(hg_ckks_add(f->ev, x, y, out), HG_ERR_LEVEL, "level mismatch");
    hg_assert_fails(hg_ckks_sub(f->ev, x, y, out), HG_ERR_LEVEL, "level mismatch");
    hg_assert_fails(hg_ckks_mul(f->ev, x, y, out), HG_ERR_LEVEL, "level mismatch");
    hg_assert_fails(hg_ckks_add(f->ev, x, z, out), HG_ERR_SCALE, "scale mismatch");
    hg_ckks_pt *pt;
    hg_assert_ok(hg_ckks_pt_new(f->ctx, &pt));
    hg_assert_ok(hg_ckks_encode(f->ev, a, f->slots, f->top - 1, f->scale, pt));
    hg_assert_fails(hg_ckks_add_plain(f->ev, x, pt, out), HG_ERR_LEVEL, "level mismatch");
    hg_assert_fails(hg_ckks_mul_plain(f->ev, x, pt, out), HG_ERR_LEVEL, "level mismatch");
    hg_assert_ok(hg_ckks_encode(f->ev, a, f->slots, f->top, f->scale * 3, pt));
    hg_assert_fails(hg_ckks_add_plain(f->ev, x, pt, out), HG_ERR_SCALE, "scale mismatch");
    hg_ckks_scalar s;
    hg_assert_ok(hg_ckks_scalar_encode(f->ctx, 1.0, f->top - 1, f->scale, &s));
    hg_assert_fails(hg_ckks_mul_scalar_enc(f->ev, x, &s, out), HG_ERR_LEVEL, "level mismatch");
    hg_assert_fails(hg_ckks_add_scalar_enc(f->ev, x, &s, out), HG_ERR_LEVEL, "level mismatch");
    hg_assert_fails(hg_ckks_drop_level(f->ev, y, f->top, out), HG_ERR_LEVEL, "cannot go");
    /* Missing keys. */
    hg_assert_ok(hg_ckks_mul(f->ev, x, x, out));
    hg_assert_fails(hg_ckks_relinearize(f->ev, NULL, out, out), HG_ERR_MISSING_KEY,
                    "relinearization key");
    hg_assert_fails(hg_ckks_rotate(f->ev, NULL, x, 1, out), HG_ERR_MISSING_KEY, "Galois");
    /* Products of 3-component ciphertexts need relinearization first. */
    hg_assert_fails(hg_ckks_mul(f->ev, out, x, out), HG_ERR_INVALID_ARG, "relinearize first");
    hg_assert_fails(hg_ckks_rotate(f->ev, f->gk, out, 1, out), HG_ERR_INVALID_ARG,
                    "relinearize first");
    hg_ckks_pt_free(pt);
    hg_ckks_ct_free(x);
    hg_ckks_ct_free(y);
    hg_ckks_ct_free(z);
    hg_ckks_ct_free(out);
    free(a);
}

#define SUITE(setup_fn)                                                                        \
    cmocka_unit_test_setup_teardown(test_encrypt_decrypt, setup_fn, teardown),                 \
        cmocka_unit_test_setup_teardown(test_add_sub_neg, setup_fn, teardown),                 \
        cmocka_unit_test_setup_teardown(test_plain_and_scalar, setup_fn, teardown),            \
        cmocka_unit_test_setup_teardown(test_mul_relin_rescale, setup_fn, teardown),           \
        cmocka_unit_test_setup_teardown(test_rotate_conjugate, setup_fn, teardown),            \
        cmocka_unit_test_setup_teardown(test_levels, setup_fn, teardown),                      \
        cmocka_unit_test_setup_teardown(test_errors, setup_fn, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {SUITE(setup_a), SUITE(setup_b), SUITE(setup_c)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
