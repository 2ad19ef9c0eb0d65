/*
 * The CKKS object readers on untrusted bytes, against one context (fuzz_common.h): the first
 * input byte picks the reader (ciphertext, public key, relinearization key, Galois keys, secret
 * key), the rest is the object. An object that reads must write back to exactly the bytes it
 * was read from, and must be usable: a ciphertext decrypts and decodes, a public key encrypts,
 * a relinearization key relinearizes, a conjugation key conjugates, a secret key encrypts and
 * decrypts. (Plaintexts have no serialized form: they never leave the process.)
 */
#include "fuzz_common.h"

#include <complex.h>
#include <string.h>

static const hg_ckks_ctx *ctx;
static hg_ckks_sk *sk;
static hg_ckks_eval *ev;
static hg_ckks_pt *pt;
static hg_ckks_ct *ct, *ct3, *tmp;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    ctx = fuzz_ctx();
    fuzz_check(hg_ckks_sk_new(ctx, &sk), "secret key");
    fuzz_check(hg_ckks_eval_new(ctx, &ev), "evaluator");
    fuzz_check(hg_ckks_pt_new(ctx, &pt), "plaintext");
    fuzz_check(hg_ckks_ct_new(ctx, &ct), "ciphertext");
    fuzz_check(hg_ckks_ct_new(ctx, &ct3), "ciphertext");
    fuzz_check(hg_ckks_ct_new(ctx, &tmp), "ciphertext");
    double x[4] = {0.5, -0.25, 1, 0};
    fuzz_check(hg_ckks_encode_real(ev, x, 4, hg_ckks_ctx_max_level(ctx), 0x1p20, pt), "encode");
    fuzz_check(hg_ckks_encrypt_sym(ev, sk, pt, tmp), "encrypt");
    fuzz_check(hg_ckks_mul(ev, tmp, tmp, ct3), "multiply");
    return 0;
}

/* The object, written again, must be the bytes it came from. */
static void same_bytes(hg_status s, const uint8_t *buf, size_t n, size_t w, const uint8_t *in,
                       size_t len, const char *what) {
    if (s != HG_OK || w != n || w != len || memcmp(buf, in, len) != 0) {
        size_t at = 0;
        while (at < len && at < w && buf[at] == in[at])
            at++;
        fprintf(stderr,
                "%s: read then written, the bytes differ from byte %zu (%zu and %zu "
                "bytes; %s)\n",
                what, at, w, len, s != HG_OK ? hg_last_error() : "");
        abort();
    }
}

#define ROUND_TRIP(kind, obj, in, len)                                                             \
    do {                                                                                           \
        size_t n_ = hg_ckks_##kind##_size_bytes(obj), w_ = 0;                                      \
        uint8_t *b_ = malloc(n_ ? n_ : 1);                                                         \
        if (!b_)                                                                                   \
            abort();                                                                               \
        hg_status s_ = hg_ckks_##kind##_write(obj, b_, n_, &w_);                                   \
        same_bytes(s_, b_, n_, w_, in, len, #kind);                                                \
        free(b_);                                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const uint8_t *in = data + 1;
    const size_t len = size - 1;
    double complex z[8];
    switch (data[0] % 5) {
    case 0:
        if (hg_ckks_ct_read(ctx, in, len, ct) != HG_OK)
            break;
        ROUND_TRIP(ct, ct, in, len);
        if (hg_ckks_decrypt(ev, sk, ct, pt) == HG_OK)
            fuzz_ignore(hg_ckks_decode(ev, pt, z, 8));
        break;
    case 1: {
        hg_ckks_pk *pk = NULL;
        if (hg_ckks_pk_read(ctx, in, len, &pk) != HG_OK)
            break;
        ROUND_TRIP(pk, pk, in, len);
        double x[2] = {1, 2};
        if (hg_ckks_encode_real(ev, x, 2, hg_ckks_ctx_max_level(ctx), 0x1p20, pt) == HG_OK)
            fuzz_ignore(hg_ckks_encrypt(ev, pk, pt, tmp));
        hg_ckks_pk_free(pk);
        break;
    }
    case 2: {
        hg_ckks_rlk *rlk = NULL;
        if (hg_ckks_rlk_read(ctx, in, len, &rlk) != HG_OK)
            break;
        ROUND_TRIP(rlk, rlk, in, len);
        fuzz_ignore(hg_ckks_relinearize(ev, rlk, ct3, tmp));
        hg_ckks_rlk_free(rlk);
        break;
    }
    case 3: {
        hg_ckks_gk *gk = NULL;
        if (hg_ckks_gk_read(ctx, in, len, &gk) != HG_OK)
            break;
        ROUND_TRIP(gk, gk, in, len);
        if (hg_ckks_encrypt_sym(ev, sk, pt, tmp) == HG_OK) {
            fuzz_ignore(hg_ckks_conjugate(ev, gk, tmp, ct));
            fuzz_ignore(hg_ckks_rotate(ev, gk, tmp, 1, ct));
        }
        hg_ckks_gk_free(gk);
        break;
    }
    default: {
        hg_ckks_sk *k = NULL;
        if (hg_ckks_sk_read(ctx, in, len, &k) != HG_OK)
            break;
        ROUND_TRIP(sk, k, in, len);
        if (hg_ckks_encrypt_sym(ev, k, pt, tmp) == HG_OK &&
            hg_ckks_decrypt(ev, k, tmp, pt) == HG_OK)
            fuzz_ignore(hg_ckks_decode(ev, pt, z, 8));
        hg_ckks_sk_free(k);
        break;
    }
    }
    return 0;
}
