/* The slow suite: a real 128-bit parameter set (N = 2^14, {60, 40 x 6, 60}) end to end: keys,
 * encryption, a depth-6 computation with relinearization and rescaling, rotations, conjugation
 * and serialization, with the precision asserted at each step. */
#include "ckks_test.h"

#include <stdlib.h>
#include <string.h>

static void test_real_parameters(void **state) {
    (void)state;
    hg_ckks_params_lit lit = {.log_n = 14, .n_primes = 8, .bits = {60, 40, 40, 40, 40, 40, 40, 60},
                              .n_special = 1, .scale = 0x1p40};
    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_ckks_eval *ev;
    hg_ckks_sk *sk;
    hg_ckks_pk *pk;
    hg_ckks_rlk *rlk;
    hg_ckks_gk *gk;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    assert_int_equal(hg_ckks_params_security(p), 128);
    assert_true(hg_ckks_params_log_modulus(p) <= 438);
    hg_assert_ok(hg_ckks_ctx_new(p, &ctx));
    hg_assert_ok(hg_ckks_eval_new(ctx, &ev));
    hg_assert_ok(hg_ckks_sk_new(ctx, &sk));
    hg_assert_ok(hg_ckks_pk_new(ctx, sk, &pk));
    hg_assert_ok(hg_ckks_rlk_new(ctx, sk, &rlk));
    int steps[] = {1, 7, -3};
    hg_assert_ok(hg_ckks_gk_new(ctx, sk, steps, 3, true, &gk));

    const size_t slots = 8192;
    double complex *z = malloc(slots * sizeof *z), *want = malloc(slots * sizeof *want),
                   *got = malloc(slots * sizeof *got);
    hg_test_rng r;
    hg_test_rng_init(&r, 50);
    random_slots(&r, z, slots, 1);
    hg_ckks_pt *pt;
    hg_ckks_ct *ct, *tmp;
    hg_assert_ok(hg_ckks_pt_new(ctx, &pt));
    hg_assert_ok(hg_ckks_ct_new(ctx, &ct));
    hg_assert_ok(hg_ckks_ct_new(ctx, &tmp));
    hg_assert_ok(hg_ckks_encode(ev, z, slots, 6, 0x1p40, pt));
    hg_assert_ok(hg_ckks_encrypt(ev, pk, pt, ct));
    memcpy(want, z, slots * sizeof *z);

    /* x^2 + rot(x, 1): the rotated copy is multiplied by 1 encoded at scale Delta, so that
     * after its rescale its scale is Delta^2 / q_6, the scale of the rescaled square. */
    hg_assert_ok(hg_ckks_rotate(ev, gk, ct, 1, tmp));
    hg_assert_ok(hg_ckks_mul_scalar(ev, tmp, 1.0, 0x1p40, tmp));
    hg_assert_ok(hg_ckks_rescale(ev, tmp, tmp));
    hg_assert_ok(hg_ckks_square(ev, ct, ct));
    hg_assert_ok(hg_ckks_relinearize(ev, rlk, ct, ct));
    hg_assert_ok(hg_ckks_rescale(ev, ct, ct));
    hg_assert_ok(hg_ckks_add(ev, ct, tmp, ct));
    for (size_t i = 0; i < slots; i++)
        want[i] = z[i] * z[i] + z[(i + 1) % slots];
    hg_assert_ok(hg_ckks_decrypt(ev, sk, ct, pt));
    hg_assert_ok(hg_ckks_decode(ev, pt, got, slots));
    double bits = precision_bits_c(want, got, slots);
    print_message("# N=2^14 x^2 + rot(x, 1): %.1f bits\n", bits);
    assert_true(bits > 20);

    /* A chain of squarings to the bottom, on values of modulus at most 1. */
    for (size_t i = 0; i < slots; i++)
        want[i] = z[i] * 0.7;
    hg_assert_ok(hg_ckks_encode(ev, want, slots, 6, 0x1p40, pt));
    hg_assert_ok(hg_ckks_encrypt(ev, pk, pt, ct));
    for (int l = 6; l > 0; l--) {
        hg_assert_ok(hg_ckks_square(ev, ct, ct));
        hg_assert_ok(hg_ckks_relinearize(ev, rlk, ct, ct));
        hg_assert_ok(hg_ckks_rescale(ev, ct, ct));
        for (size_t i = 0; i < slots; i++)
            want[i] *= want[i];
    }
    hg_assert_ok(hg_ckks_decrypt(ev, sk, ct, pt));
    hg_assert_ok(hg_ckks_decode(ev, pt, got, slots));
    bits = precision_bits_c(want, got, slots);
    print_message("# N=2^14 six squarings to level 0: %.1f bits\n", bits);
    assert_true(bits > 12);

    /* Rotations and conjugation at the top level. */
    hg_assert_ok(hg_ckks_encode(ev, z, slots, 6, 0x1p40, pt));
    hg_assert_ok(hg_ckks_encrypt(ev, pk, pt, ct));
    for (int s = 0; s < 3; s++) {
        hg_assert_ok(hg_ckks_rotate(ev, gk, ct, steps[s], tmp));
        hg_assert_ok(hg_ckks_decrypt(ev, sk, tmp, pt));
        hg_assert_ok(hg_ckks_decode(ev, pt, got, slots));
        for (size_t i = 0; i < slots; i++)
            want[i] = z[(i + slots + (size_t)(steps[s] + (int)slots)) % slots];
        bits = precision_bits_c(want, got, slots);
        print_message("# N=2^14 rotation by %d: %.1f bits\n", steps[s], bits);
        assert_true(bits > 20);
    }
    hg_assert_ok(hg_ckks_conjugate(ev, gk, ct, tmp));
    hg_assert_ok(hg_ckks_decrypt(ev, sk, tmp, pt));
    hg_assert_ok(hg_ckks_decode(ev, pt, got, slots));
    for (size_t i = 0; i < slots; i++)
        want[i] = conj(z[i]);
    assert_true(precision_bits_c(want, got, slots) > 20);

    /* Serialization round trip of a seeded ciphertext and of the relinearization key. */
    hg_assert_ok(hg_ckks_encode(ev, z, slots, 6, 0x1p40, pt));
    hg_assert_ok(hg_ckks_encrypt_sym(ev, sk, pt, ct));
    size_t len = hg_ckks_ct_size_bytes(ct), w;
    uint8_t *buf = malloc(len);
    hg_assert_ok(hg_ckks_ct_write(ct, buf, len, &w));
    /* Seeded: header, fingerprint and fields, c0 at 300 bits per coefficient, the seed. */
    assert_int_equal(w, 16 + 32 + 16384 * (60 + 6 * 40) / 8 + 32);
    hg_assert_ok(hg_ckks_ct_read(ctx, buf, w, tmp));
    hg_assert_ok(hg_ckks_decrypt(ev, sk, tmp, pt));
    hg_assert_ok(hg_ckks_decode(ev, pt, got, slots));
    assert_true(precision_bits_c(z, got, slots) > 20);
    free(buf);
    len = hg_ckks_rlk_size_bytes(rlk);
    buf = malloc(len);
    hg_ckks_rlk *rlk2;
    hg_assert_ok(hg_ckks_rlk_write(rlk, buf, len, &w));
    hg_assert_ok(hg_ckks_rlk_read(ctx, buf, w, &rlk2));
    hg_ckks_rlk_free(rlk2);
    free(buf);

    free(z);
    free(want);
    free(got);
    hg_ckks_ct_free(ct);
    hg_ckks_ct_free(tmp);
    hg_ckks_pt_free(pt);
    hg_ckks_gk_free(gk);
    hg_ckks_rlk_free(rlk);
    hg_ckks_pk_free(pk);
    hg_ckks_sk_free(sk);
    hg_ckks_eval_free(ev);
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_real_parameters)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
