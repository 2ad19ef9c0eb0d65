/*
 * Serialization. Every object: "HGRA", u16 version, u16 type, u64 payload length, payload.
 * Keys and ciphertexts start their payload with the 16-byte fingerprint of their parameters
 * (BLAKE2b of the serialized parameter payload) and are refused by a context with other
 * parameters. Residues modulo a b-bit prime take b bits each, packed least significant bit
 * first; every residue read is checked against its prime.
 */
#include "ckks.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "HGRA"
#define VERSION 1
#define HEADER_BYTES 16
#define FP_BYTES 16

enum { T_PARAMS = 1, T_CT = 2, T_PK = 3, T_RLK = 4, T_GK = 5, T_SK = 6 };

static const char *type_name(int t) {
    static const char *names[] = {"?", "parameters", "ciphertext", "public key",
                                  "relinearization key", "Galois keys", "secret key"};
    return t >= 1 && t <= 6 ? names[t] : names[0];
}

static hg_status write_header(hg_writer *w, int type, size_t payload) {
    HG_TRY(hg_write_bytes(w, MAGIC, 4));
    HG_TRY(hg_write_u16(w, VERSION));
    HG_TRY(hg_write_u16(w, (uint16_t)type));
    return hg_write_u64(w, payload);
}

/* Checks the header and that the payload is exactly the rest of the buffer. */
static hg_status read_header(hg_reader *r, int type) {
    uint8_t magic[4];
    uint16_t version, t;
    uint64_t len;
    HG_TRY(hg_read_bytes(r, magic, 4));
    if (memcmp(magic, MAGIC, 4) != 0)
        return hg_fail(HG_ERR_FORMAT, "%s: bad magic (not a hegraph object)", type_name(type));
    HG_TRY(hg_read_u16(r, &version));
    HG_TRY(hg_read_u16(r, &t));
    HG_TRY(hg_read_u64(r, &len));
    if (version != VERSION)
        return hg_fail(HG_ERR_FORMAT, "%s: unsupported version %u (this build reads %d)",
                       type_name(type), version, VERSION);
    if (t != type)
        return hg_fail(HG_ERR_FORMAT, "expected a %s, found a %s (type %u)", type_name(type),
                       type_name(t), t);
    if (len != hg_reader_left(r))
        return hg_fail(HG_ERR_FORMAT, "%s: payload length %llu does not match the %zu bytes given",
                       type_name(type), (unsigned long long)len, hg_reader_left(r));
    return HG_OK;
}

/* ---- bit packing ------------------------------------------------------------------------ */

static size_t packed_bytes(size_t n, int bits) {
    return (n * (size_t)bits + 7) / 8;
}

/* Little-endian 64-bit words, whatever the host's byte order. */
static inline void store_le64(uint8_t *o, uint64_t x) {
    for (int k = 0; k < 8; k++)
        o[k] = (uint8_t)(x >> (8 * k));
}

static inline uint64_t load_le64(const uint8_t *p) {
    uint64_t x = 0;
    for (int k = 0; k < 8; k++)
        x |= (uint64_t)p[k] << (8 * k);
    return x;
}

/* n residues of `bits` bits each, least significant bit first, through a 128-bit accumulator
 * that leaves 64 bits at a time. */
static hg_status write_limb(hg_writer *w, const uint64_t *v, size_t n, int bits) {
    size_t bytes = packed_bytes(n, bits);
    if (bytes > w->cap - w->pos)
        return hg_fail(HG_ERR_INVALID_ARG, "output buffer too small");
    if (w->p) {
        uint8_t *o = w->p + w->pos;
        const uint64_t mask = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
        hg_u128 acc = 0;
        int have = 0;
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            acc |= (hg_u128)(v[i] & mask) << have;
            have += bits;
            if (have >= 64) {
                store_le64(o + at, (uint64_t)acc);
                at += 8;
                acc >>= 64;
                have -= 64;
            }
        }
        for (; have > 0; have -= 8, acc >>= 8)
            o[at++] = (uint8_t)acc;
    }
    w->pos += bytes;
    return HG_OK;
}

static hg_status read_limb(hg_reader *r, uint64_t *v, size_t n, const hg_modulus *m,
                           const char *what, int limb) {
    const uint8_t *p;
    const size_t bytes = packed_bytes(n, m->bits);
    HG_TRY(hg_read_view(r, &p, bytes));
    const int bits = m->bits;
    const uint64_t mask = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    hg_u128 acc = 0;
    int have = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (have < bits) {
            if (bytes - at >= 8) {
                acc |= (hg_u128)load_le64(p + at) << have;
                at += 8;
                have += 64;
            } else {
                while (have < bits && at < bytes) {
                    acc |= (hg_u128)p[at++] << have;
                    have += 8;
                }
            }
        }
        const uint64_t x = (uint64_t)acc & mask;
        acc >>= bits;
        have -= bits;
        if (x >= m->q)
            return hg_fail(HG_ERR_FORMAT, "%s: residue %zu of limb %d is %llu, not below %llu",
                           what, i, limb, (unsigned long long)x, (unsigned long long)m->q);
        v[i] = x;
    }
    /* The padding bits of the last byte are zero in a well-formed limb. */
    if (have > 0 && (uint64_t)acc != 0)
        return hg_fail(HG_ERR_FORMAT, "%s: limb %d has nonzero padding bits", what, limb);
    return HG_OK;
}

/* ---- parameters ------------------------------------------------------------------------- */

static size_t params_payload(const hg_ckks_params *p) {
    return 8 + 8 + 8 * (size_t)p->n_primes;
}

static hg_status params_write_payload(const hg_ckks_params *p, hg_writer *w) {
    HG_TRY(hg_write_u8(w, (uint8_t)p->log_n));
    HG_TRY(hg_write_u8(w, (uint8_t)p->n_primes));
    HG_TRY(hg_write_u8(w, (uint8_t)p->n_special));
    HG_TRY(hg_write_u8(w, p->insecure ? 1 : 0));
    HG_TRY(hg_write_u32(w, (uint32_t)p->security));
    HG_TRY(hg_write_f64(w, p->scale));
    for (int i = 0; i < p->n_primes; i++)
        HG_TRY(hg_write_u64(w, p->primes[i]));
    return HG_OK;
}

hg_status hg_ckks_params_fingerprint(const hg_ckks_params *p, uint8_t out[16]);
hg_status hg_ckks_params_fingerprint(const hg_ckks_params *p, uint8_t out[16]) {
    uint8_t buf[16 + 8 * HG_CKKS_MAX_PRIMES];
    hg_writer w;
    hg_writer_init(&w, buf, sizeof buf);
    HG_TRY(params_write_payload(p, &w));
    crypto_generichash(out, FP_BYTES, buf, w.pos, NULL, 0);
    return HG_OK;
}

size_t hg_ckks_params_size(const hg_ckks_params *p) {
    return HEADER_BYTES + params_payload(p);
}

hg_status hg_ckks_params_write(const hg_ckks_params *p, void *buf, size_t cap, size_t *written) {
    hg_writer w;
    hg_writer_init(&w, buf, cap);
    HG_TRY(write_header(&w, T_PARAMS, params_payload(p)));
    HG_TRY(params_write_payload(p, &w));
    *written = w.pos;
    return HG_OK;
}

hg_status hg_ckks_params_read(const void *buf, size_t len, bool allow_insecure,
                              hg_ckks_params **out) {
    *out = NULL;
    hg_reader r;
    hg_reader_init(&r, buf, len, "parameters");
    HG_TRY(read_header(&r, T_PARAMS));
    uint8_t log_n, n_primes, n_special, flags;
    uint32_t security;
    hg_ckks_params_lit lit;
    memset(&lit, 0, sizeof lit);
    HG_TRY(hg_read_u8(&r, &log_n));
    HG_TRY(hg_read_u8(&r, &n_primes));
    HG_TRY(hg_read_u8(&r, &n_special));
    HG_TRY(hg_read_u8(&r, &flags));
    HG_TRY(hg_read_u32(&r, &security));
    HG_TRY(hg_read_f64(&r, &lit.scale));
    if (n_primes == 0 || n_primes > HG_CKKS_MAX_PRIMES || flags > 1)
        return hg_fail(HG_ERR_FORMAT, "parameters: %u primes, flags %u", n_primes, flags);
    if (hg_reader_left(&r) != 8 * (size_t)n_primes)
        return hg_fail(HG_ERR_FORMAT, "parameters: %zu bytes of primes for %u primes",
                       hg_reader_left(&r), n_primes);
    for (int i = 0; i < n_primes; i++)
        HG_TRY(hg_read_u64(&r, &lit.primes[i]));
    lit.log_n = log_n;
    lit.n_primes = n_primes;
    lit.n_special = n_special;
    lit.security = (int)(security ? security : 128);
    lit.insecure = flags & 1;
    if (lit.insecure && !allow_insecure)
        return hg_fail(HG_ERR_PARAMS, "parameters are marked insecure and are refused");
    hg_status s = hg_ckks_params_new(&lit, out);
    if (s == HG_ERR_INVALID_ARG || s == HG_ERR_PARAMS) {
        /* Keep the original reason; the status says the object itself was unacceptable. */
        return s;
    }
    return s;
}

/* ---- ciphertexts -------------------------------------------------------------------------- */

static size_t limbs_bytes(const hg_ckks_ctx *ctx, int first, int count) {
    size_t b = 0;
    for (int i = first; i < first + count; i++)
        b += packed_bytes(ctx->n, ctx->prime[i].mod.bits);
    return b;
}

static size_t ct_payload(const hg_ckks_ct *ct) {
    const hg_ckks_ctx *ctx = ct->ctx;
    size_t b = FP_BYTES + 4 + 4 + 8;
    size_t limbs = limbs_bytes(ctx, 0, ct->level + 1);
    if (ct->seeded)
        b += limbs + HG_SEED_BYTES;
    else
        b += (size_t)ct->size * limbs;
    return b;
}

size_t hg_ckks_ct_size_bytes(const hg_ckks_ct *ct) {
    return HEADER_BYTES + ct_payload(ct);
}

hg_status hg_ckks_ct_write(const hg_ckks_ct *ct, void *buf, size_t cap, size_t *written) {
    const hg_ckks_ctx *ctx = ct->ctx;
    hg_writer w;
    hg_writer_init(&w, buf, cap);
    HG_TRY(write_header(&w, T_CT, ct_payload(ct)));
    HG_TRY(hg_write_bytes(&w, ctx->fingerprint, FP_BYTES));
    HG_TRY(hg_write_u32(&w, (uint32_t)ct->level));
    HG_TRY(hg_write_u8(&w, (uint8_t)ct->size));
    HG_TRY(hg_write_u8(&w, ct->seeded ? 1 : 0));
    HG_TRY(hg_write_u16(&w, 0));
    HG_TRY(hg_write_f64(&w, ct->scale));
    for (int c = 0; c < ct->size; c++) {
        if (c == 1 && ct->seeded) {
            HG_TRY(hg_write_bytes(&w, ct->seed, HG_SEED_BYTES));
            continue;
        }
        for (int i = 0; i <= ct->level; i++)
            HG_TRY(write_limb(&w, hg_ct_limb(ct, c, i), ctx->n, ctx->prime[i].mod.bits));
    }
    *written = w.pos;
    return HG_OK;
}

static hg_status read_fingerprint(hg_reader *r, const hg_ckks_ctx *ctx, const char *what) {
    uint8_t fp[FP_BYTES];
    HG_TRY(hg_read_bytes(r, fp, FP_BYTES));
    if (sodium_memcmp(fp, ctx->fingerprint, FP_BYTES) != 0)
        return hg_fail(HG_ERR_FORMAT, "%s: made with other parameters than this context's",
                       what);
    return HG_OK;
}

hg_status hg_ckks_ct_read(const hg_ckks_ctx *ctx, const void *buf, size_t len, hg_ckks_ct *ct) {
    if (ct->ctx != ctx)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: ciphertext of another context", __func__);
    hg_reader r;
    hg_reader_init(&r, buf, len, "ciphertext");
    HG_TRY(read_header(&r, T_CT));
    HG_TRY(read_fingerprint(&r, ctx, "ciphertext"));
    uint32_t level;
    uint8_t size, flags;
    uint16_t reserved;
    double scale;
    HG_TRY(hg_read_u32(&r, &level));
    HG_TRY(hg_read_u8(&r, &size));
    HG_TRY(hg_read_u8(&r, &flags));
    HG_TRY(hg_read_u16(&r, &reserved));
    HG_TRY(hg_read_f64(&r, &scale));
    if (level >= (uint32_t)ctx->L)
        return hg_fail(HG_ERR_FORMAT, "ciphertext: level %u, the chain has levels 0 to %d",
                       level, ctx->L - 1);
    if (size != 2 && size != 3)
        return hg_fail(HG_ERR_FORMAT, "ciphertext: %u components", size);
    if (flags > 1 || (flags && size != 2) || reserved)
        return hg_fail(HG_ERR_FORMAT, "ciphertext: bad flags %u", flags);
    if (!isfinite(scale) || !(scale > 0))
        return hg_fail(HG_ERR_FORMAT, "ciphertext: scale %g", scale);
    size_t limbs = limbs_bytes(ctx, 0, (int)level + 1);
    size_t want = flags ? limbs + HG_SEED_BYTES : size * limbs;
    if (hg_reader_left(&r) != want)
        return hg_fail(HG_ERR_FORMAT, "ciphertext: %zu bytes of data, %zu expected",
                       hg_reader_left(&r), want);
    HG_TRY(hg_ckks_ct_reserve(ct, size, (int)level));
    for (int c = 0; c < size; c++) {
        if (c == 1 && flags) {
            HG_TRY(hg_read_bytes(&r, ct->seed, HG_SEED_BYTES));
            hg_ckks_expand_uniform(ctx, ct->seed, HG_DOMAIN_SYM, 0, 0, (int)level + 1,
                                   hg_ct_limb(ct, 1, 0));
            continue;
        }
        for (int i = 0; i <= (int)level; i++)
            HG_TRY(read_limb(&r, hg_ct_limb(ct, c, i), ctx->n, &ctx->prime[i].mod, "ciphertext",
                             i));
    }
    ct->seeded = flags != 0;
    ct->scale = scale;
    return HG_OK;
}

/* ---- keys ----------------------------------------------------------------------------------- */

static int all_primes(const hg_ckks_ctx *ctx) {
    return ctx->L + ctx->K;
}

static size_t ksk_bytes(const hg_ckks_ctx *ctx) {
    return HG_SEED_BYTES + (size_t)ctx->beta * limbs_bytes(ctx, 0, all_primes(ctx));
}

static hg_status ksk_write(const hg_ckks_ctx *ctx, const hg_ckks_ksk *k, hg_writer *w) {
    const size_t n = ctx->n;
    HG_TRY(hg_write_bytes(w, k->seed, HG_SEED_BYTES));
    for (int j = 0; j < ctx->beta; j++)
        for (int i = 0; i < all_primes(ctx); i++)
            HG_TRY(write_limb(w, k->b + ((size_t)j * (size_t)all_primes(ctx) + (size_t)i) * n, n,
                              ctx->prime[i].mod.bits));
    return HG_OK;
}

static hg_status ksk_read(const hg_ckks_ctx *ctx, hg_reader *r, hg_ckks_ksk *k,
                          const char *what) {
    const size_t n = ctx->n, all = (size_t)all_primes(ctx);
    const size_t words = (size_t)ctx->beta * all * n;
    memset(k, 0, sizeof *k);
    k->a = hg_alloc_array(words, sizeof(uint64_t));
    k->b = hg_alloc_array(words, sizeof(uint64_t));
    if (!k->a || !k->b) {
        hg_ckks_ksk_clear(ctx, k);
        return HG_ERR_NOMEM;
    }
    hg_status s = hg_read_bytes(r, k->seed, HG_SEED_BYTES);
    for (int j = 0; j < ctx->beta && s == HG_OK; j++)
        for (size_t i = 0; i < all && s == HG_OK; i++)
            s = read_limb(r, k->b + ((size_t)j * all + i) * n, n, &ctx->prime[i].mod, what,
                          (int)i);
    if (s != HG_OK) {
        hg_ckks_ksk_clear(ctx, k);
        return s;
    }
    for (int j = 0; j < ctx->beta; j++)
        hg_ckks_expand_uniform(ctx, k->seed, HG_DOMAIN_KSK, (uint64_t)j * 256, 0, (int)all,
                               k->a + (size_t)j * all * n);
    return HG_OK;
}

size_t hg_ckks_pk_size_bytes(const hg_ckks_pk *pk) {
    return HEADER_BYTES + FP_BYTES + HG_SEED_BYTES + limbs_bytes(pk->ctx, 0, all_primes(pk->ctx));
}

hg_status hg_ckks_pk_write(const hg_ckks_pk *pk, void *buf, size_t cap, size_t *written) {
    const hg_ckks_ctx *ctx = pk->ctx;
    hg_writer w;
    hg_writer_init(&w, buf, cap);
    HG_TRY(write_header(&w, T_PK, hg_ckks_pk_size_bytes(pk) - HEADER_BYTES));
    HG_TRY(hg_write_bytes(&w, ctx->fingerprint, FP_BYTES));
    HG_TRY(hg_write_bytes(&w, pk->seed, HG_SEED_BYTES));
    for (int i = 0; i < all_primes(ctx); i++)
        HG_TRY(write_limb(&w, pk->b + (size_t)i * ctx->n, ctx->n, ctx->prime[i].mod.bits));
    *written = w.pos;
    return HG_OK;
}

hg_status hg_ckks_pk_read(const hg_ckks_ctx *ctx, const void *buf, size_t len,
                          hg_ckks_pk **out) {
    *out = NULL;
    hg_reader r;
    hg_reader_init(&r, buf, len, "public key");
    HG_TRY(read_header(&r, T_PK));
    HG_TRY(read_fingerprint(&r, ctx, "public key"));
    size_t want = HG_SEED_BYTES + limbs_bytes(ctx, 0, all_primes(ctx));
    if (hg_reader_left(&r) != want)
        return hg_fail(HG_ERR_FORMAT, "public key: %zu bytes of data, %zu expected",
                       hg_reader_left(&r), want);
    hg_ckks_pk *pk = calloc(1, sizeof *pk);
    if (!pk)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    pk->ctx = ctx;
    const size_t words = (size_t)all_primes(ctx) * ctx->n;
    pk->a = hg_alloc_array(words, sizeof(uint64_t));
    pk->b = hg_alloc_array(words, sizeof(uint64_t));
    hg_status s = pk->a && pk->b ? hg_read_bytes(&r, pk->seed, HG_SEED_BYTES) : HG_ERR_NOMEM;
    for (int i = 0; i < all_primes(ctx) && s == HG_OK; i++)
        s = read_limb(&r, pk->b + (size_t)i * ctx->n, ctx->n, &ctx->prime[i].mod, "public key",
                      i);
    if (s != HG_OK) {
        hg_ckks_pk_free(pk);
        return s;
    }
    hg_ckks_expand_uniform(ctx, pk->seed, HG_DOMAIN_PK, 0, 0, all_primes(ctx), pk->a);
    *out = pk;
    return HG_OK;
}

size_t hg_ckks_rlk_size_bytes(const hg_ckks_rlk *rlk) {
    return HEADER_BYTES + FP_BYTES + 4 + ksk_bytes(rlk->ctx);
}

hg_status hg_ckks_rlk_write(const hg_ckks_rlk *rlk, void *buf, size_t cap, size_t *written) {
    const hg_ckks_ctx *ctx = rlk->ctx;
    hg_writer w;
    hg_writer_init(&w, buf, cap);
    HG_TRY(write_header(&w, T_RLK, hg_ckks_rlk_size_bytes(rlk) - HEADER_BYTES));
    HG_TRY(hg_write_bytes(&w, ctx->fingerprint, FP_BYTES));
    HG_TRY(hg_write_u32(&w, (uint32_t)ctx->beta));
    HG_TRY(ksk_write(ctx, &rlk->key, &w));
    *written = w.pos;
    return HG_OK;
}

hg_status hg_ckks_rlk_read(const hg_ckks_ctx *ctx, const void *buf, size_t len,
                           hg_ckks_rlk **out) {
    *out = NULL;
    hg_reader r;
    hg_reader_init(&r, buf, len, "relinearization key");
    HG_TRY(read_header(&r, T_RLK));
    HG_TRY(read_fingerprint(&r, ctx, "relinearization key"));
    if (ctx->K == 0)
        return hg_fail(HG_ERR_FORMAT, "relinearization key: the parameters have no special "
                                      "prime, so they have no key-switching keys");
    uint32_t beta;
    HG_TRY(hg_read_u32(&r, &beta));
    if (beta != (uint32_t)ctx->beta || hg_reader_left(&r) != ksk_bytes(ctx))
        return hg_fail(HG_ERR_FORMAT,
                       "relinearization key: %u digits and %zu bytes, %d and %zu expected", beta,
                       hg_reader_left(&r), ctx->beta, ksk_bytes(ctx));
    hg_ckks_rlk *rlk = calloc(1, sizeof *rlk);
    if (!rlk)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    rlk->ctx = ctx;
    hg_status s = ksk_read(ctx, &r, &rlk->key, "relinearization key");
    if (s != HG_OK) {
        free(rlk);
        return s;
    }
    *out = rlk;
    return HG_OK;
}

size_t hg_ckks_gk_size_bytes(const hg_ckks_gk *gk) {
    return HEADER_BYTES + FP_BYTES + 4 + gk->n_keys * (8 + ksk_bytes(gk->ctx));
}

hg_status hg_ckks_gk_write(const hg_ckks_gk *gk, void *buf, size_t cap, size_t *written) {
    const hg_ckks_ctx *ctx = gk->ctx;
    hg_writer w;
    hg_writer_init(&w, buf, cap);
    HG_TRY(write_header(&w, T_GK, hg_ckks_gk_size_bytes(gk) - HEADER_BYTES));
    HG_TRY(hg_write_bytes(&w, ctx->fingerprint, FP_BYTES));
    HG_TRY(hg_write_u32(&w, (uint32_t)gk->n_keys));
    for (size_t i = 0; i < gk->n_keys; i++) {
        HG_TRY(hg_write_u64(&w, gk->keys[i].g));
        HG_TRY(ksk_write(ctx, &gk->keys[i].key, &w));
    }
    *written = w.pos;
    return HG_OK;
}

hg_status hg_ckks_gk_read(const hg_ckks_ctx *ctx, const void *buf, size_t len,
                          hg_ckks_gk **out) {
    *out = NULL;
    hg_reader r;
    hg_reader_init(&r, buf, len, "Galois keys");
    HG_TRY(read_header(&r, T_GK));
    HG_TRY(read_fingerprint(&r, ctx, "Galois keys"));
    if (ctx->K == 0)
        return hg_fail(HG_ERR_FORMAT, "Galois keys: the parameters have no special prime, so "
                                      "they have no key-switching keys");
    uint32_t n_keys;
    HG_TRY(hg_read_u32(&r, &n_keys));
    const size_t per = 8 + ksk_bytes(ctx);
    /* The count is checked against the bytes present before anything is allocated. */
    if (hg_reader_left(&r) / per != n_keys || hg_reader_left(&r) % per != 0)
        return hg_fail(HG_ERR_FORMAT, "Galois keys: %u keys announced, %zu bytes present", n_keys,
                       hg_reader_left(&r));
    hg_ckks_gk *gk = calloc(1, sizeof *gk);
    if (!gk)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    gk->ctx = ctx;
    gk->keys = n_keys ? hg_alloc_array(n_keys, sizeof *gk->keys) : NULL;
    hg_status s = n_keys && !gk->keys ? HG_ERR_NOMEM : HG_OK;
    for (uint32_t i = 0; i < n_keys && s == HG_OK; i++) {
        hg_ckks_galois *k = &gk->keys[i];
        uint64_t g;
        s = hg_read_u64(&r, &g);
        if (s != HG_OK)
            break;
        if ((g & 1) == 0 || g >= 2 * (uint64_t)ctx->n || g == 1) {
            s = hg_fail(HG_ERR_FORMAT, "Galois keys: element %llu is not an odd number in (1, 2N)",
                        (unsigned long long)g);
            break;
        }
        for (uint32_t j = 0; j < i; j++)
            if (gk->keys[j].g == g)
                s = hg_fail(HG_ERR_FORMAT, "Galois keys: element %llu appears twice",
                            (unsigned long long)g);
        if (s != HG_OK)
            break;
        k->g = g;
        k->perm = hg_alloc_array(ctx->n, sizeof(uint32_t));
        if (!k->perm) {
            s = HG_ERR_NOMEM;
            break;
        }
        hg_ckks_galois_perm(ctx, g, k->perm);
        s = ksk_read(ctx, &r, &k->key, "Galois keys");
        if (s != HG_OK) {
            hg_free(k->perm);
            break;
        }
        gk->n_keys++;
    }
    if (s != HG_OK) {
        hg_ckks_gk_free(gk);
        return s;
    }
    *out = gk;
    return HG_OK;
}

size_t hg_ckks_sk_size_bytes(const hg_ckks_sk *sk) {
    return HEADER_BYTES + FP_BYTES + sk->ctx->n / 4;
}

hg_status hg_ckks_sk_write(const hg_ckks_sk *sk, void *buf, size_t cap, size_t *written) {
    const hg_ckks_ctx *ctx = sk->ctx;
    hg_writer w;
    hg_writer_init(&w, buf, cap);
    HG_TRY(write_header(&w, T_SK, FP_BYTES + ctx->n / 4));
    HG_TRY(hg_write_bytes(&w, ctx->fingerprint, FP_BYTES));
    if (ctx->n / 4 > w.cap - w.pos)
        return hg_fail(HG_ERR_INVALID_ARG, "output buffer too small");
    if (w.p) {
        /* 2 bits per coefficient: 0 -> 0, 1 -> 1, -1 -> 2. */
        uint8_t *o = w.p + w.pos;
        for (size_t i = 0; i < ctx->n; i += 4) {
            uint8_t b = 0;
            for (size_t k = 0; k < 4; k++) {
                int8_t c = sk->coeffs[i + k];
                b |= (uint8_t)((c == 1 ? 1 : c == -1 ? 2 : 0) << (2 * k));
            }
            o[i / 4] = b;
        }
    }
    w.pos += ctx->n / 4;
    *written = w.pos;
    return HG_OK;
}

hg_status hg_ckks_sk_expand(hg_ckks_sk *sk);

hg_status hg_ckks_sk_read(const hg_ckks_ctx *ctx, const void *buf, size_t len,
                          hg_ckks_sk **out) {
    *out = NULL;
    hg_reader r;
    hg_reader_init(&r, buf, len, "secret key");
    HG_TRY(read_header(&r, T_SK));
    HG_TRY(read_fingerprint(&r, ctx, "secret key"));
    const uint8_t *p;
    if (hg_reader_left(&r) != ctx->n / 4)
        return hg_fail(HG_ERR_FORMAT, "secret key: %zu bytes of data, %zu expected",
                       hg_reader_left(&r), ctx->n / 4);
    HG_TRY(hg_read_view(&r, &p, ctx->n / 4));
    hg_ckks_sk *sk = calloc(1, sizeof *sk);
    if (!sk)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    sk->ctx = ctx;
    sk->coeffs = hg_alloc_array(ctx->n, 1);
    hg_status s = sk->coeffs ? HG_OK : HG_ERR_NOMEM;
    for (size_t i = 0; i < ctx->n && s == HG_OK; i++) {
        unsigned v = (p[i / 4] >> (2 * (i % 4))) & 3;
        if (v == 3)
            s = hg_fail(HG_ERR_FORMAT, "secret key: coefficient %zu has the invalid code 3", i);
        else
            sk->coeffs[i] = (int8_t)(v == 2 ? -1 : (int)v);
    }
    if (s == HG_OK)
        s = hg_ckks_sk_expand(sk);
    if (s != HG_OK) {
        hg_ckks_sk_free(sk);
        return s;
    }
    *out = sk;
    return HG_OK;
}
