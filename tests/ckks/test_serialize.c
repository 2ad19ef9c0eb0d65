/* Serialization of ciphertexts and keys: round trips (seeded forms included), sizes, and every
 * kind of bad buffer: truncated, oversized, corrupted residues, wrong type, other parameters. */
#include "ckks_test.h"

#include "ckks/ckks.h"

#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_ckks_eval *ev;
    hg_ckks_sk *sk;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    hg_ckks_params_lit lit = HG_PARAMS_TEST_INSECURE_N1024();
    if (hg_ckks_params_new(&lit, &f->p) || hg_ckks_ctx_new(f->p, &f->ctx) ||
        hg_ckks_eval_new(f->ctx, &f->ev) || hg_ckks_sk_new(f->ctx, &f->sk))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    hg_ckks_sk_free(f->sk);
    hg_ckks_eval_free(f->ev);
    hg_ckks_ctx_free(f->ctx);
    hg_ckks_params_free(f->p);
    free(f);
    return 0;
}

static hg_ckks_ct *make_ct(fixture *f, bool sym, double complex *z) {
    hg_ckks_pt *pt;
    hg_ckks_ct *ct;
    hg_assert_ok(hg_ckks_pt_new(f->ctx, &pt));
    hg_assert_ok(hg_ckks_ct_new(f->ctx, &ct));
    hg_test_rng r;
    hg_test_rng_init(&r, 30);
    random_slots(&r, z, 512, 1);
    hg_assert_ok(hg_ckks_encode(f->ev, z, 512, 2, 0x1p40, pt));
    if (sym) {
        hg_assert_ok(hg_ckks_encrypt_sym(f->ev, f->sk, pt, ct));
    } else {
        hg_ckks_pk *pk;
        hg_assert_ok(hg_ckks_pk_new(f->ctx, f->sk, &pk));
        hg_assert_ok(hg_ckks_encrypt(f->ev, pk, pt, ct));
        hg_ckks_pk_free(pk);
    }
    hg_ckks_pt_free(pt);
    return ct;
}

static double decrypt_bits(fixture *f, const hg_ckks_ct *ct, const double complex *z) {
    hg_ckks_pt *pt;
    double complex out[512];
    hg_assert_ok(hg_ckks_pt_new(f->ctx, &pt));
    hg_assert_ok(hg_ckks_decrypt(f->ev, f->sk, ct, pt));
    hg_assert_ok(hg_ckks_decode(f->ev, pt, out, 512));
    hg_ckks_pt_free(pt);
    return precision_bits_c(z, out, 512);
}

static void test_ciphertext(void **state) {
    fixture *f = *state;
    double complex z[512];
    for (int sym = 0; sym <= 1; sym++) {
        hg_ckks_ct *ct = make_ct(f, sym, z), *back;
        hg_assert_ok(hg_ckks_ct_new(f->ctx, &back));
        size_t size = hg_ckks_ct_size_bytes(ct), len;
        /* Residues take their prime's bits: 3 limbs of 55/40/40 bits, 1024 coefficients. */
        size_t limbs = (1024 * (55 + 40 + 40)) / 8;
        assert_int_equal(size, 16 + 32 + (sym ? limbs + 32 : 2 * limbs));
        uint8_t *buf = malloc(size + 8);
        hg_assert_ok(hg_ckks_ct_write(ct, buf, size, &len));
        assert_int_equal(len, size);
        hg_assert_fails(hg_ckks_ct_write(ct, buf, size - 1, &len), HG_ERR_INVALID_ARG, "small");
        hg_assert_ok(hg_ckks_ct_read(f->ctx, buf, size, back));
        assert_int_equal(hg_ckks_ct_level(back), 2);
        assert_memory_equal(back->data, ct->data, 2 * 3 * 1024 * 8);
        assert_true(decrypt_bits(f, back, z) > 20);
        /* Truncations at every length of the header and a sample of the rest. */
        for (size_t cut = 0; cut < size; cut += cut < 64 ? 1 : 997)
            assert_int_equal(hg_ckks_ct_read(f->ctx, buf, cut, back), HG_ERR_FORMAT);
        /* Oversized: trailing bytes. */
        hg_assert_fails(hg_ckks_ct_read(f->ctx, buf, size + 8, back), HG_ERR_FORMAT,
                        "payload length");
        /* A residue >= its prime: set the first 55-bit residue to all ones. */
        uint8_t save[8];
        memcpy(save, buf + 48, 8);
        memset(buf + 48, 0xff, 7);
        hg_assert_fails(hg_ckks_ct_read(f->ctx, buf, size, back), HG_ERR_FORMAT, "not below");
        memcpy(buf + 48, save, 8);
        /* Header fields. */
        buf[16 + 16] = 9; /* level */
        hg_assert_fails(hg_ckks_ct_read(f->ctx, buf, size, back), HG_ERR_FORMAT, "level 9");
        buf[16 + 16] = 2;
        buf[16 + 20] = 7; /* components */
        hg_assert_fails(hg_ckks_ct_read(f->ctx, buf, size, back), HG_ERR_FORMAT, "components");
        buf[16 + 20] = 2;
        buf[16 + 21] ^= 1; /* seeded flag flipped: the length no longer fits */
        hg_assert_fails(hg_ckks_ct_read(f->ctx, buf, size, back), HG_ERR_FORMAT, "expected");
        buf[16 + 21] ^= 1;
        double bad = -1;
        memcpy(buf + 16 + 24, &bad, 8);
        hg_assert_fails(hg_ckks_ct_read(f->ctx, buf, size, back), HG_ERR_FORMAT, "scale");
        free(buf);
        hg_ckks_ct_free(back);
        hg_ckks_ct_free(ct);
    }
}

static void test_other_params(void **state) {
    fixture *f = *state;
    double complex z[512];
    hg_ckks_ct *ct = make_ct(f, true, z);
    size_t size = hg_ckks_ct_size_bytes(ct), len;
    uint8_t *buf = malloc(size);
    hg_assert_ok(hg_ckks_ct_write(ct, buf, size, &len));
    /* Same N and sizes, but scale differs: another fingerprint. */
    hg_ckks_params_lit lit = HG_PARAMS_TEST_INSECURE_N1024();
    lit.scale = 0x1p30;
    hg_ckks_params *p2;
    hg_ckks_ctx *ctx2;
    hg_ckks_ct *ct2;
    hg_assert_ok(hg_ckks_params_new(&lit, &p2));
    hg_assert_ok(hg_ckks_ctx_new(p2, &ctx2));
    hg_assert_ok(hg_ckks_ct_new(ctx2, &ct2));
    hg_assert_fails(hg_ckks_ct_read(ctx2, buf, size, ct2), HG_ERR_FORMAT, "other parameters");
    /* A public key is not a ciphertext. */
    hg_ckks_pk *pk;
    hg_assert_ok(hg_ckks_pk_new(f->ctx, f->sk, &pk));
    size_t pks = hg_ckks_pk_size_bytes(pk);
    uint8_t *pkb = malloc(pks);
    hg_assert_ok(hg_ckks_pk_write(pk, pkb, pks, &len));
    hg_assert_fails(hg_ckks_ct_read(f->ctx, pkb, pks, ct), HG_ERR_FORMAT, "expected a ciphertext");
    free(pkb);
    hg_ckks_pk_free(pk);
    hg_ckks_ct_free(ct2);
    hg_ckks_ctx_free(ctx2);
    hg_ckks_params_free(p2);
    hg_ckks_ct_free(ct);
    free(buf);
}

static void test_keys(void **state) {
    fixture *f = *state;
    size_t len;
    /* Public key: seeded, so one polynomial over the whole modulus plus 32 bytes. */
    hg_ckks_pk *pk, *pk2;
    hg_assert_ok(hg_ckks_pk_new(f->ctx, f->sk, &pk));
    size_t all_bits = 55 + 40 + 40 + 40 + 60;
    assert_int_equal(hg_ckks_pk_size_bytes(pk), 16 + 16 + 32 + 1024 * all_bits / 8);
    uint8_t *buf = malloc(hg_ckks_pk_size_bytes(pk));
    hg_assert_ok(hg_ckks_pk_write(pk, buf, hg_ckks_pk_size_bytes(pk), &len));
    hg_assert_ok(hg_ckks_pk_read(f->ctx, buf, len, &pk2));
    assert_memory_equal(pk->a, pk2->a, 5 * 1024 * 8);
    assert_memory_equal(pk->b, pk2->b, 5 * 1024 * 8);
    hg_ckks_pk_free(pk2);
    for (size_t cut = 0; cut < len; cut += 777)
        assert_int_equal(hg_ckks_pk_read(f->ctx, buf, cut, &pk2), HG_ERR_FORMAT);
    free(buf);
    /* Relinearization key. */
    hg_ckks_rlk *rlk, *rlk2;
    hg_assert_ok(hg_ckks_rlk_new(f->ctx, f->sk, &rlk));
    len = hg_ckks_rlk_size_bytes(rlk);
    assert_int_equal(len, 16 + 16 + 4 + 32 + 4 * (1024 * all_bits / 8));
    buf = malloc(len);
    hg_assert_ok(hg_ckks_rlk_write(rlk, buf, len, &len));
    hg_assert_ok(hg_ckks_rlk_read(f->ctx, buf, len, &rlk2));
    assert_memory_equal(rlk->key.a, rlk2->key.a, 4 * 5 * 1024 * 8);
    assert_memory_equal(rlk->key.b, rlk2->key.b, 4 * 5 * 1024 * 8);
    hg_ckks_rlk_free(rlk2);
    buf[16 + 16] = 3; /* digit count */
    hg_assert_fails(hg_ckks_rlk_read(f->ctx, buf, len, &rlk2), HG_ERR_FORMAT, "digits");
    free(buf);
    /* Galois keys. */
    hg_ckks_gk *gk, *gk2;
    int steps[] = {1, 2};
    hg_assert_ok(hg_ckks_gk_new(f->ctx, f->sk, steps, 2, true, &gk));
    len = hg_ckks_gk_size_bytes(gk);
    buf = malloc(len);
    hg_assert_ok(hg_ckks_gk_write(gk, buf, len, &len));
    hg_assert_ok(hg_ckks_gk_read(f->ctx, buf, len, &gk2));
    assert_int_equal(gk2->n_keys, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(gk->keys[i].g, gk2->keys[i].g);
        assert_memory_equal(gk->keys[i].perm, gk2->keys[i].perm, 1024 * 4);
        assert_memory_equal(gk->keys[i].key.b, gk2->keys[i].key.b, 4 * 5 * 1024 * 8);
    }
    hg_ckks_gk_free(gk2);
    /* A count that does not match the bytes is refused before any allocation. */
    uint32_t huge = 0x7fffffff;
    memcpy(buf + 32, &huge, 4);
    hg_assert_fails(hg_ckks_gk_read(f->ctx, buf, len, &gk2), HG_ERR_FORMAT, "announced");
    uint32_t three = 3;
    memcpy(buf + 32, &three, 4);
    uint64_t even = 4;
    memcpy(buf + 36, &even, 8);
    hg_assert_fails(hg_ckks_gk_read(f->ctx, buf, len, &gk2), HG_ERR_FORMAT, "odd");
    free(buf);
    /* Secret key: 2 bits per coefficient; a code 3 is refused. */
    len = hg_ckks_sk_size_bytes(f->sk);
    assert_int_equal(len, 16 + 16 + 256);
    buf = malloc(len);
    hg_ckks_sk *sk2;
    hg_assert_ok(hg_ckks_sk_write(f->sk, buf, len, &len));
    hg_assert_ok(hg_ckks_sk_read(f->ctx, buf, len, &sk2));
    assert_memory_equal(f->sk->coeffs, sk2->coeffs, 1024);
    assert_memory_equal(f->sk->s, sk2->s, 5 * 1024 * 8);
    hg_ckks_sk_free(sk2);
    buf[40] = 0xff;
    hg_assert_fails(hg_ckks_sk_read(f->ctx, buf, len, &sk2), HG_ERR_FORMAT, "code 3");
    free(buf);
    /* Keys read back still work: rotate and relinearize with them. */
    double complex z[512], out[512];
    hg_ckks_ct *ct = make_ct(f, false, z);
    hg_ckks_ct *r;
    hg_assert_ok(hg_ckks_ct_new(f->ctx, &r));
    hg_assert_ok(hg_ckks_rotate(f->ev, gk, ct, 1, r));
    hg_ckks_pt *pt;
    hg_assert_ok(hg_ckks_pt_new(f->ctx, &pt));
    hg_assert_ok(hg_ckks_decrypt(f->ev, f->sk, r, pt));
    hg_assert_ok(hg_ckks_decode(f->ev, pt, out, 512));
    for (int i = 0; i < 512; i++)
        assert_true(cabs(out[i] - z[(i + 1) % 512]) < 1e-4);
    hg_ckks_pt_free(pt);
    hg_ckks_ct_free(r);
    hg_ckks_ct_free(ct);
    hg_ckks_gk_free(gk);
    hg_ckks_rlk_free(rlk);
    hg_ckks_pk_free(pk);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ciphertext),
        cmocka_unit_test(test_other_params),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
