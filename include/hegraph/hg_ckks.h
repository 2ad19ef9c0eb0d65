/*
 * hegraph CKKS: the RNS variant of the CKKS approximate homomorphic encryption scheme (Cheon,
 * Kim, Kim, Song 2017; RNS form by Cheon, Han, Kim, Kim, Song 2018), with hybrid key switching.
 *
 * Objects and threads:
 *   hg_ckks_params  checked parameters; immutable, shareable across threads.
 *   hg_ckks_ctx     the level chain and every precomputed table; immutable, shareable.
 *   hg_ckks_sk      the secret key (client side only); wiped when freed.
 *   hg_ckks_pk, hg_ckks_rlk, hg_ckks_gk
 *                   public key, relinearization key, Galois (rotation/conjugation) keys;
 *                   immutable once made, shareable.
 *   hg_ckks_pt, hg_ckks_ct
 *                   plaintexts and ciphertexts; mutable, one thread at a time.
 *   hg_ckks_eval    scratch memory for encoding, encryption and evaluation: one per thread.
 *
 * Levels: the data chain is q_0, ..., q_{L-1}; an object at level l lives modulo
 * q_0 * ... * q_l (l + 1 RNS limbs). Fresh ciphertexts are at level L - 1; rescaling divides by
 * q_l and moves to level l - 1. The special primes p_0..p_{K-1} appear only inside key switching.
 * Ciphertexts and plaintexts are kept in NTT form.
 *
 * Scales are tracked exactly as doubles. Operations on operands whose levels differ fail with
 * HG_ERR_LEVEL and whose scales differ (relative difference above 2^-40) with HG_ERR_SCALE:
 * never a silently wrong result. Outputs may alias inputs.
 */
#ifndef HEGRAPH_HG_CKKS_H
#define HEGRAPH_HG_CKKS_H

#include "hegraph/hg_common.h"

#include <complex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Most primes in a parameter set (data and special together), and most special primes. */
#define HG_CKKS_MAX_PRIMES 64
#define HG_CKKS_MAX_SPECIAL 8

/* ---- parameters ------------------------------------------------------------------------ */

/* A parameter literal, checked by hg_ckks_params_new. Give either bit sizes (bits[i] in
 * [20, 60]; the largest primes of that size that are 1 mod 2N are chosen, distinct) or explicit
 * primes (primes[i] nonzero for all i). Order: q_0 (the prime that is left at level 0) first,
 * the special primes last: the layout of SEAL's coeff_modulus and of nGraph-HE2's parameter
 * files, e.g. {30, 24, 24, 24, 24, 24, 30} with n_special = 1. */
typedef struct hg_ckks_params_lit {
    int log_n;    /* ring degree N = 2^log_n, in [10, 16] */
    int n_primes; /* data primes plus special primes */
    int bits[HG_CKKS_MAX_PRIMES];
    uint64_t primes[HG_CKKS_MAX_PRIMES];
    int n_special; /* special primes for hybrid key switching, in [1, 8] */
    double scale;  /* default encoding scale, e.g. 2^24 */
    int security;  /* 128, 192 or 256 bits (0 means 128) */
    bool insecure; /* allow a modulus above the security table: tests only */
} hg_ckks_params_lit;

typedef struct hg_ckks_params hg_ckks_params;

/* Checks a literal and builds parameters. HG_ERR_PARAMS when N is out of range, a bit size or
 * prime is invalid, primes repeat, or the modulus is larger than the HomomorphicEncryption.org
 * table allows for the security level (the message gives both bit counts) unless insecure. */
HG_API hg_status hg_ckks_params_new(const hg_ckks_params_lit *lit, hg_ckks_params **out) HG_WUR;
HG_API void hg_ckks_params_free(hg_ckks_params *p);
HG_API int hg_ckks_params_log_n(const hg_ckks_params *p);
HG_API size_t hg_ckks_params_n(const hg_ckks_params *p);
/* Number of complex slots, N/2. */
HG_API size_t hg_ckks_params_slots(const hg_ckks_params *p);
HG_API int hg_ckks_params_n_data(const hg_ckks_params *p);
HG_API int hg_ckks_params_n_special(const hg_ckks_params *p);
/* Prime i of the chain: data primes for i < n_data, special primes after. */
HG_API uint64_t hg_ckks_params_prime(const hg_ckks_params *p, int i);
HG_API double hg_ckks_params_scale(const hg_ckks_params *p);
/* Security level the set was checked against (0 when insecure and above the table). */
HG_API int hg_ckks_params_security(const hg_ckks_params *p);
/* Bit length of the whole modulus (data and special primes). */
HG_API int hg_ckks_params_log_modulus(const hg_ckks_params *p);
/* Largest whole-modulus bit length the standard allows for this N and security (0 if none). */
HG_API int hg_ckks_max_log_modulus(int log_n, int security);

/* ---- context and keys --------------------------------------------------------------------- */

typedef struct hg_ckks_ctx hg_ckks_ctx;
typedef struct hg_ckks_sk hg_ckks_sk;
typedef struct hg_ckks_pk hg_ckks_pk;
typedef struct hg_ckks_rlk hg_ckks_rlk;
typedef struct hg_ckks_gk hg_ckks_gk;

/* Builds the context (copies the parameters). */
HG_API hg_status hg_ckks_ctx_new(const hg_ckks_params *p, hg_ckks_ctx **out) HG_WUR;
HG_API void hg_ckks_ctx_free(hg_ckks_ctx *ctx);
HG_API const hg_ckks_params *hg_ckks_ctx_params(const hg_ckks_ctx *ctx);
/* Level of fresh ciphertexts, n_data - 1. */
HG_API int hg_ckks_ctx_max_level(const hg_ckks_ctx *ctx);
/* Name of the vector kernels in use ("portable", "avx512", "ifma"), for reports. */
HG_API const char *hg_ckks_ctx_simd(const hg_ckks_ctx *ctx);

/* A fresh uniform ternary secret key. */
HG_API hg_status hg_ckks_sk_new(const hg_ckks_ctx *ctx, hg_ckks_sk **out) HG_WUR;
/* Wipes and frees. */
HG_API void hg_ckks_sk_free(hg_ckks_sk *sk);
HG_API hg_status hg_ckks_pk_new(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk,
                                hg_ckks_pk **out) HG_WUR;
HG_API void hg_ckks_pk_free(hg_ckks_pk *pk);
HG_API hg_status hg_ckks_rlk_new(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk,
                                 hg_ckks_rlk **out) HG_WUR;
HG_API void hg_ckks_rlk_free(hg_ckks_rlk *rlk);
/* Galois keys for rotations by each of steps[0..n_steps) (positive: left, negative: right;
 * taken modulo N/2) and, if conjugate, for complex conjugation. Rotations by other amounts are
 * composed from these when possible (hg_ckks_rotate). */
HG_API hg_status hg_ckks_gk_new(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, const int *steps,
                                size_t n_steps, bool conjugate, hg_ckks_gk **out) HG_WUR;
HG_API void hg_ckks_gk_free(hg_ckks_gk *gk);
/* Galois keys for every power of two (both directions) and conjugation: any rotation. */
HG_API hg_status hg_ckks_gk_new_pow2(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk,
                                     bool conjugate, hg_ckks_gk **out) HG_WUR;

/* ---- plaintexts, ciphertexts, evaluators -------------------------------------------------- */

typedef struct hg_ckks_pt hg_ckks_pt;
typedef struct hg_ckks_ct hg_ckks_ct;
typedef struct hg_ckks_eval hg_ckks_eval;

HG_API hg_status hg_ckks_pt_new(const hg_ckks_ctx *ctx, hg_ckks_pt **out) HG_WUR;
/* Wipes (a plaintext may hold decrypted data) and frees. */
HG_API void hg_ckks_pt_free(hg_ckks_pt *pt);
HG_API int hg_ckks_pt_level(const hg_ckks_pt *pt);
HG_API double hg_ckks_pt_scale(const hg_ckks_pt *pt);

HG_API hg_status hg_ckks_ct_new(const hg_ckks_ctx *ctx, hg_ckks_ct **out) HG_WUR;
HG_API void hg_ckks_ct_free(hg_ckks_ct *ct);
HG_API int hg_ckks_ct_level(const hg_ckks_ct *ct);
HG_API double hg_ckks_ct_scale(const hg_ckks_ct *ct);
/* Number of components: 2, or 3 after a product before relinearization. */
HG_API int hg_ckks_ct_size(const hg_ckks_ct *ct);
HG_API hg_status hg_ckks_ct_copy(const hg_ckks_ct *src, hg_ckks_ct *dst) HG_WUR;
/* Overrides the scale the ciphertext is interpreted at (an exact reinterpretation, e.g. after
 * a multiplication by a constant whose encoding scale is known to the caller). */
HG_API void hg_ckks_ct_set_scale(hg_ckks_ct *ct, double scale);

/* Scratch for one thread. */
HG_API hg_status hg_ckks_eval_new(const hg_ckks_ctx *ctx, hg_ckks_eval **out) HG_WUR;
HG_API void hg_ckks_eval_free(hg_ckks_eval *ev);

/* ---- encoding ------------------------------------------------------------------------------ */

/* Encodes n <= N/2 complex values into the slots (the rest are zero), at a level and scale:
 * coefficients round(scale * IFFT(z)) in the canonical embedding. HG_ERR_SCALE when a
 * coefficient does not fit in the modulus at that level. */
HG_API hg_status hg_ckks_encode(hg_ckks_eval *ev, const double complex *z, size_t n, int level,
                                double scale, hg_ckks_pt *pt) HG_WUR;
HG_API hg_status hg_ckks_encode_real(hg_ckks_eval *ev, const double *x, size_t n, int level,
                                     double scale, hg_ckks_pt *pt) HG_WUR;
/* Decodes the first n <= N/2 slots. */
HG_API hg_status hg_ckks_decode(hg_ckks_eval *ev, const hg_ckks_pt *pt, double complex *z,
                                size_t n) HG_WUR;
HG_API hg_status hg_ckks_decode_real(hg_ckks_eval *ev, const hg_ckks_pt *pt, double *x,
                                     size_t n) HG_WUR;

/* A value shared by every slot, encoded as the constant polynomial round(value * scale): one
 * residue per prime and nothing else (no FFT, no NTT; in NTT form a constant is the same value
 * at every point). The encoding of nGraph-HE2's scalar optimization. */
typedef struct hg_ckks_scalar {
    int level;
    double scale;
    double value;
    uint64_t r[HG_CKKS_MAX_PRIMES]; /* residues mod q_0..q_level */
} hg_ckks_scalar;

HG_API hg_status hg_ckks_scalar_encode(const hg_ckks_ctx *ctx, double value, int level,
                                       double scale, hg_ckks_scalar *out) HG_WUR;

/* ---- encryption ------------------------------------------------------------------------------ */

/* Public-key encryption of pt at pt's level. */
HG_API hg_status hg_ckks_encrypt(hg_ckks_eval *ev, const hg_ckks_pk *pk, const hg_ckks_pt *pt,
                                 hg_ckks_ct *ct) HG_WUR;
/* Secret-key encryption: c1 is expanded from a fresh 32-byte seed, which the ciphertext keeps
 * so that it serializes as (c0, seed), half the bytes, until an operation changes it. */
HG_API hg_status hg_ckks_encrypt_sym(hg_ckks_eval *ev, const hg_ckks_sk *sk,
                                     const hg_ckks_pt *pt, hg_ckks_ct *ct) HG_WUR;
/* Decrypts a ciphertext of two or three components. */
HG_API hg_status hg_ckks_decrypt(hg_ckks_eval *ev, const hg_ckks_sk *sk, const hg_ckks_ct *ct,
                                 hg_ckks_pt *pt) HG_WUR;

/* ---- evaluation ------------------------------------------------------------------------------ */

HG_API hg_status hg_ckks_add(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_ct *b,
                             hg_ckks_ct *out) HG_WUR;
HG_API hg_status hg_ckks_sub(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_ct *b,
                             hg_ckks_ct *out) HG_WUR;
HG_API hg_status hg_ckks_neg(hg_ckks_eval *ev, const hg_ckks_ct *a, hg_ckks_ct *out) HG_WUR;
HG_API hg_status hg_ckks_add_plain(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_pt *p,
                                   hg_ckks_ct *out) HG_WUR;
HG_API hg_status hg_ckks_sub_plain(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_pt *p,
                                   hg_ckks_ct *out) HG_WUR;
/* Product with a plaintext at the same level; the scale is the product of the scales. */
HG_API hg_status hg_ckks_mul_plain(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_pt *p,
                                   hg_ckks_ct *out) HG_WUR;
/* Adds value to every slot, encoded at a's level and scale (c0 only, one residue per prime). */
HG_API hg_status hg_ckks_add_scalar(hg_ckks_eval *ev, const hg_ckks_ct *a, double value,
                                    hg_ckks_ct *out) HG_WUR;
/* Multiplies every slot by value encoded at scale `scale` at a's level (per prime, no NTT);
 * the result has scale a.scale * scale. */
HG_API hg_status hg_ckks_mul_scalar(hg_ckks_eval *ev, const hg_ckks_ct *a, double value,
                                    double scale, hg_ckks_ct *out) HG_WUR;
/* The same with a pre-encoded scalar (its level must equal a's; its scale must equal a's for
 * the addition). */
HG_API hg_status hg_ckks_add_scalar_enc(hg_ckks_eval *ev, const hg_ckks_ct *a,
                                        const hg_ckks_scalar *s, hg_ckks_ct *out) HG_WUR;
HG_API hg_status hg_ckks_mul_scalar_enc(hg_ckks_eval *ev, const hg_ckks_ct *a,
                                        const hg_ckks_scalar *s, hg_ckks_ct *out) HG_WUR;
/* Product of two 2-component ciphertexts at the same level: a 3-component ciphertext. */
HG_API hg_status hg_ckks_mul(hg_ckks_eval *ev, const hg_ckks_ct *a, const hg_ckks_ct *b,
                             hg_ckks_ct *out) HG_WUR;
HG_API hg_status hg_ckks_square(hg_ckks_eval *ev, const hg_ckks_ct *a, hg_ckks_ct *out) HG_WUR;
/* 3 components back to 2 (key switching of the s^2 part). */
HG_API hg_status hg_ckks_relinearize(hg_ckks_eval *ev, const hg_ckks_rlk *rlk,
                                     const hg_ckks_ct *a, hg_ckks_ct *out) HG_WUR;
/* Divides by the last prime of a's level, with rounding: level - 1, scale / q_level. */
HG_API hg_status hg_ckks_rescale(hg_ckks_eval *ev, const hg_ckks_ct *a, hg_ckks_ct *out) HG_WUR;
/* Drops limbs down to `level` (<= a's level); the scale is unchanged. */
HG_API hg_status hg_ckks_drop_level(hg_ckks_eval *ev, const hg_ckks_ct *a, int level,
                                    hg_ckks_ct *out) HG_WUR;
/* Rotates the slots left by steps (negative: right). */
HG_API hg_status hg_ckks_rotate(hg_ckks_eval *ev, const hg_ckks_gk *gk, const hg_ckks_ct *a,
                                int steps, hg_ckks_ct *out) HG_WUR;
/* Complex conjugation of every slot. */
HG_API hg_status hg_ckks_conjugate(hg_ckks_eval *ev, const hg_ckks_gk *gk, const hg_ckks_ct *a,
                                   hg_ckks_ct *out) HG_WUR;

/* ---- serialization --------------------------------------------------------------------------
 * Every object is a header (magic "HGRA", version, type, payload length) and a little-endian
 * payload; keys and ciphertexts carry a fingerprint of their parameters. Residues are packed
 * with as many bits as their prime has. Uniform parts (the `a` of keys, c1 of fresh symmetric
 * ciphertexts) are written as 32-byte seeds. Reading checks every length and every residue
 * against its prime: HG_ERR_FORMAT on a truncated, oversized or corrupted buffer.
 * _size gives the exact byte count _write needs. */
HG_API size_t hg_ckks_params_size(const hg_ckks_params *p);
HG_API hg_status hg_ckks_params_write(const hg_ckks_params *p, void *buf, size_t cap,
                                      size_t *written) HG_WUR;
HG_API hg_status hg_ckks_params_read(const void *buf, size_t len, bool allow_insecure,
                                     hg_ckks_params **out) HG_WUR;

HG_API size_t hg_ckks_ct_size_bytes(const hg_ckks_ct *ct);
HG_API hg_status hg_ckks_ct_write(const hg_ckks_ct *ct, void *buf, size_t cap,
                                  size_t *written) HG_WUR;
HG_API hg_status hg_ckks_ct_read(const hg_ckks_ctx *ctx, const void *buf, size_t len,
                                 hg_ckks_ct *ct) HG_WUR;

HG_API size_t hg_ckks_pk_size_bytes(const hg_ckks_pk *pk);
HG_API hg_status hg_ckks_pk_write(const hg_ckks_pk *pk, void *buf, size_t cap,
                                  size_t *written) HG_WUR;
HG_API hg_status hg_ckks_pk_read(const hg_ckks_ctx *ctx, const void *buf, size_t len,
                                 hg_ckks_pk **out) HG_WUR;

HG_API size_t hg_ckks_rlk_size_bytes(const hg_ckks_rlk *rlk);
HG_API hg_status hg_ckks_rlk_write(const hg_ckks_rlk *rlk, void *buf, size_t cap,
                                   size_t *written) HG_WUR;
HG_API hg_status hg_ckks_rlk_read(const hg_ckks_ctx *ctx, const void *buf, size_t len,
                                  hg_ckks_rlk **out) HG_WUR;

HG_API size_t hg_ckks_gk_size_bytes(const hg_ckks_gk *gk);
HG_API hg_status hg_ckks_gk_write(const hg_ckks_gk *gk, void *buf, size_t cap,
                                  size_t *written) HG_WUR;
HG_API hg_status hg_ckks_gk_read(const hg_ckks_ctx *ctx, const void *buf, size_t len,
                                 hg_ckks_gk **out) HG_WUR;

/* The secret key serializes as 2 bits per coefficient; the buffer holds a secret: wipe it. */
HG_API size_t hg_ckks_sk_size_bytes(const hg_ckks_sk *sk);
HG_API hg_status hg_ckks_sk_write(const hg_ckks_sk *sk, void *buf, size_t cap,
                                  size_t *written) HG_WUR;
HG_API hg_status hg_ckks_sk_read(const hg_ckks_ctx *ctx, const void *buf, size_t len,
                                 hg_ckks_sk **out) HG_WUR;

#ifdef __cplusplus
}
#endif
#endif
