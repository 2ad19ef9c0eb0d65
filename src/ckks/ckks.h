/*
 * Internal definitions of the ckks layer. The he layer includes this header to work on the
 * limbs of ciphertexts directly (the linear engine); everything else uses hg_ckks.h.
 *
 * Layout: a polynomial at level l is l + 1 limbs of N words, limb i modulo q_i. A ciphertext of
 * k components at level l is k * (l + 1) consecutive limbs: component c, limb i at
 * data + (c * (l + 1) + i) * N. Everything is in NTT form unless a comment says otherwise.
 */
#ifndef HG_CKKS_INTERNAL_H
#define HG_CKKS_INTERNAL_H

#include "hegraph/hg_ckks.h"
#include "ring/prime.h"
#include "ring/rns.h"
#include "ring/sampler.h"
#include "util/util.h"

#include <complex.h>

/* Relative tolerance of scale comparisons. */
#define HG_CKKS_SCALE_TOL 0x1p-40

struct hg_ckks_params {
    int log_n;
    size_t n;
    int n_data, n_special, n_primes;
    uint64_t primes[HG_CKKS_MAX_PRIMES]; /* data primes, then special primes */
    double scale;
    int security; /* level checked against; 0 if insecure and above the table */
    bool insecure;
    int log_modulus;
};

/* Key-switching digit: the data primes [first, first + count). */
typedef struct hg_ckks_digit {
    int first, count;
} hg_ckks_digit;

struct hg_ckks_ctx {
    hg_ckks_params params;
    size_t n;
    int log_n;
    int L, K; /* data primes, special primes */
    hg_prime prime[HG_CKKS_MAX_PRIMES]; /* q_0..q_{L-1}, p_0..p_{K-1} */
    const hg_prime *prime_ptr[HG_CKKS_MAX_PRIMES];
    uint8_t fingerprint[16]; /* BLAKE2b of the serialized parameters */

    /* Rescale at level l (dropping q_l): inv[l * L + i] = q_l^-1 mod q_i, i < l. */
    uint64_t *rescale_inv, *rescale_inv_shoup;

    /* Hybrid key switching: beta digits of (up to) alpha = K data primes each. */
    int beta;
    hg_ckks_digit digit[HG_CKKS_MAX_PRIMES];
    /* modup[l * beta + j]: from the primes of digit j present at level l to the other primes of
     * the extended basis (q_0..q_l except the digit's, then the special primes). */
    hg_baseconv *modup;
    /* moddown[l]: from the special primes to q_0..q_l. */
    hg_baseconv *moddown;
    uint64_t p_inv[HG_CKKS_MAX_PRIMES], p_inv_shoup[HG_CKKS_MAX_PRIMES]; /* P^-1 mod q_i */
    uint64_t p_mod[HG_CKKS_MAX_PRIMES];      /* P mod q_i, for the key's gadget */

    /* Encoder: the special FFT's twiddles, stage by stage (see encoder.c): for the block length
     * len (half = len / 2), entries half - 1 + j, j < half, hold exp(2 pi i g / 4 len) with
     * g = 5^j mod 4 len, as (re, im) pairs. */
    double *fft_tw;
    size_t slots; /* N / 2 */
};

struct hg_ckks_sk {
    const hg_ckks_ctx *ctx;
    int8_t *coeffs; /* N values in {-1, 0, 1} */
    uint64_t *s;    /* NTT form over all L + K primes */
    uint64_t *s2;   /* s^2, NTT form over the data primes */
};

/* A key-switching key from s' to s: beta pairs (b_j, a_j) over all L + K primes, with
 * b_j = -a_j s + e_j + [P]_{q_i} s' on the primes of digit j, -a_j s + e_j elsewhere.
 * The a_j come from one seed (stream domain HG_DOMAIN_KSK, index j * 256 + prime). */
typedef struct hg_ckks_ksk {
    uint8_t seed[HG_SEED_BYTES];
    uint64_t *b; /* beta * (L + K) limbs */
    uint64_t *a;
} hg_ckks_ksk;

struct hg_ckks_pk {
    const hg_ckks_ctx *ctx;
    uint8_t seed[HG_SEED_BYTES];
    uint64_t *b, *a; /* L + K limbs each */
};

struct hg_ckks_rlk {
    const hg_ckks_ctx *ctx;
    hg_ckks_ksk key;
};

typedef struct hg_ckks_galois {
    uint64_t g;      /* Galois element, odd, < 2N */
    uint32_t *perm;  /* NTT-domain index map: out[i] = in[perm[i]] */
    hg_ckks_ksk key; /* from sigma_g(s) to s */
} hg_ckks_galois;

struct hg_ckks_gk {
    const hg_ckks_ctx *ctx;
    size_t n_keys;
    hg_ckks_galois *keys;
};

struct hg_ckks_pt {
    const hg_ckks_ctx *ctx;
    int level;
    double scale;
    uint64_t *data; /* level + 1 limbs */
    size_t cap;     /* words allocated */
};

struct hg_ckks_ct {
    const hg_ckks_ctx *ctx;
    int level;
    int size; /* components: 2 or 3 */
    double scale;
    bool seeded; /* c1 is the expansion of seed (fresh symmetric encryption) */
    uint8_t seed[HG_SEED_BYTES];
    uint64_t *data;
    size_t cap; /* words allocated */
};

struct hg_ckks_eval {
    const hg_ckks_ctx *ctx;
    /* Scratch, each sized for the largest use: (L + K) limbs per buffer. */
    uint64_t *t0, *t1, *t2, *t3, *t4, *t5;
    uint64_t *big; /* 4 * L limbs: products and rotations before they are copied out */
    double complex *fft;
    double *coef;
};

/* Stream domains (nonce prefixes) of the seeded uniform polynomials. */
enum {
    HG_DOMAIN_PK = 1,
    HG_DOMAIN_KSK = 2,
    HG_DOMAIN_SYM = 3,
    HG_DOMAIN_FRESH = 4,
};

/* Limb pointer helpers. */
static inline uint64_t *hg_ct_limb(const hg_ckks_ct *ct, int comp, int limb) {
    return ct->data + ((size_t)comp * (size_t)(ct->level + 1) + (size_t)limb) * ct->ctx->n;
}

/* Makes room for `size` components at `level`; keeps no data. */
hg_status hg_ckks_ct_reserve(hg_ckks_ct *ct, int size, int level) HG_WUR;
hg_status hg_ckks_pt_reserve(hg_ckks_pt *pt, int level) HG_WUR;

/* Expands the uniform polynomial of (seed, domain, index_base) on primes [first, first + count)
 * of the context, writing count limbs. Index of prime i in the stream: index_base + i. */
void hg_ckks_expand_uniform(const hg_ckks_ctx *ctx, const uint8_t seed[HG_SEED_BYTES],
                            uint32_t domain, uint64_t index_base, int first, int count,
                            uint64_t *out);

/* Key switching: (out0, out1) = sum_j ModUp(d_j) * key_j / P, for d at `level` in NTT form
 * (level + 1 limbs). Outputs are level + 1 limbs each, NTT form; they may not alias d. */
void hg_ckks_keyswitch(hg_ckks_eval *ev, const hg_ckks_ksk *key, const uint64_t *d, int level,
                       uint64_t *out0, uint64_t *out1);

/* Generates a key-switching key from s' (NTT form over all L + K primes) to sk. */
hg_status hg_ckks_ksk_gen(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, const uint64_t *s_prime,
                          hg_ckks_ksk *key) HG_WUR;
void hg_ckks_ksk_clear(const hg_ckks_ctx *ctx, hg_ckks_ksk *key);

/* NTT-domain permutation of the automorphism X -> X^g. */
void hg_ckks_galois_perm(const hg_ckks_ctx *ctx, uint64_t g, uint32_t *perm);

/* Fresh error polynomial (Gaussian), fresh ternary polynomial: sampled once, written in NTT
 * form to the primes [0, n_lo) and [L, L + n_sp) of the context into out (n_lo + n_sp limbs). */
void hg_ckks_sample_error_ntt(const hg_ckks_ctx *ctx, hg_prng *rng, int n_lo, int n_sp,
                              uint64_t *out);
void hg_ckks_sample_ternary_ntt(const hg_ckks_ctx *ctx, hg_prng *rng, int n_lo, int n_sp,
                                uint64_t *out);

/* Checks shared by the evaluator: same context, same level, scales equal. */
hg_status hg_ckks_check_scale(const char *fn, double a, double b) HG_WUR;

#endif
