/*
 * Parameter literals -> checked, immutable parameters, and the security table.
 *
 * The table is the HomomorphicEncryption.org standard (Albrecht et al., 2018) for a uniform
 * ternary secret and error of deviation 3.2: the largest bit length of the whole modulus
 * (data and special primes: the key-switching keys live modulo their product) for each ring
 * degree and security level. For N = 2^16 the standard gives no row: 1747 bits at 128-bit
 * security is the bound in common use; at 192 and 256 bits there is none, and such sets are
 * refused.
 */
#include "ckks.h"

#include "ring/primes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int security_table[3][7] = {
    /* N =   1024 2048 4096 8192 16384 32768 65536 */
    /* 128 */ {27, 54, 109, 218, 438, 881, 1747},
    /* 192 */ {19, 37, 75, 152, 305, 611, 0},
    /* 256 */ {14, 29, 58, 118, 237, 476, 0},
};

int hg_ckks_max_log_modulus(int log_n, int security) {
    if (log_n < 10 || log_n > 16)
        return 0;
    int row = security == 128 ? 0 : security == 192 ? 1 : security == 256 ? 2 : -1;
    if (row < 0)
        return 0;
    return security_table[row][log_n - 10];
}

/* Bit length of the product of the primes, exactly (multi-word product). */
static int product_bits(const uint64_t *primes, int n) {
    uint64_t w[HG_CKKS_MAX_PRIMES + 1] = {1};
    int len = 1;
    for (int i = 0; i < n; i++) {
        uint64_t carry = 0;
        for (int k = 0; k < len; k++) {
            hg_u128 t = (hg_u128)w[k] * primes[i] + carry;
            w[k] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        if (carry)
            w[len++] = carry;
    }
    return 64 * (len - 1) + (64 - __builtin_clzll(w[len - 1]));
}

hg_status hg_ckks_params_new(const hg_ckks_params_lit *lit, hg_ckks_params **out) {
    *out = NULL;
    if (!lit)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: no literal", __func__);
    if (lit->log_n < 10 || lit->log_n > 16)
        return hg_fail(HG_ERR_PARAMS, "log N = %d is outside [10, 16]", lit->log_n);
    /* No special prime is allowed: a chain for models that never switch keys (no
     * relinearization, rotation or conjugation) spends every bit on the data primes. */
    if (lit->n_special < 0 || lit->n_special > HG_CKKS_MAX_SPECIAL)
        return hg_fail(HG_ERR_PARAMS, "%d special primes: need 0 to %d", lit->n_special,
                       HG_CKKS_MAX_SPECIAL);
    if (lit->n_primes <= lit->n_special || lit->n_primes > HG_CKKS_MAX_PRIMES)
        return hg_fail(HG_ERR_PARAMS,
                       "%d primes with %d special: need at least one data prime and at most %d "
                       "primes in all",
                       lit->n_primes, lit->n_special, HG_CKKS_MAX_PRIMES);
    if (!(lit->scale >= 1.0) || !isfinite(lit->scale))
        return hg_fail(HG_ERR_PARAMS, "scale %g is not a finite value >= 1", lit->scale);
    int security = lit->security ? lit->security : 128;
    if (security != 128 && security != 192 && security != 256)
        return hg_fail(HG_ERR_PARAMS, "security level %d is not 128, 192 or 256", security);

    hg_ckks_params *p = calloc(1, sizeof *p);
    if (!p)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    p->log_n = lit->log_n;
    p->n = (size_t)1 << lit->log_n;
    p->n_primes = lit->n_primes;
    p->n_special = lit->n_special;
    p->n_data = lit->n_primes - lit->n_special;
    p->scale = lit->scale;
    p->insecure = lit->insecure;
    const uint64_t two_n = 2 * (uint64_t)p->n;

    bool explicit_primes = lit->primes[0] != 0;
    hg_status s = HG_OK;
    for (int i = 0; i < p->n_primes && s == HG_OK; i++) {
        if (explicit_primes) {
            uint64_t q = lit->primes[i];
            if (q >= (1ull << 61) || q < (1ull << 19) || !hg_is_prime(q) || (q - 1) % two_n)
                s = hg_fail(HG_ERR_PARAMS,
                            "prime %d (%llu) is not a prime of 20 to 61 bits equal to 1 mod 2N "
                            "= %llu",
                            i, (unsigned long long)q, (unsigned long long)two_n);
            else
                p->primes[i] = q;
        } else {
            /* Primes of one bit size are generated together, largest first, distinct from
             * every prime chosen so far. */
            if (lit->bits[i] < 20 || lit->bits[i] > 60) {
                s = hg_fail(HG_ERR_PARAMS, "prime %d: bit size %d is outside [20, 60]", i,
                            lit->bits[i]);
                break;
            }
            s = hg_primes_generate(lit->bits[i], 1, two_n, p->primes, (size_t)i, &p->primes[i]);
        }
    }
    for (int i = 0; i < p->n_primes && s == HG_OK; i++)
        for (int j = 0; j < i; j++)
            if (p->primes[i] == p->primes[j])
                s = hg_fail(HG_ERR_PARAMS, "primes %d and %d are equal (%llu)", j, i,
                            (unsigned long long)p->primes[i]);
    if (s != HG_OK) {
        free(p);
        return s;
    }

    p->log_modulus = product_bits(p->primes, p->n_primes);
    int limit = hg_ckks_max_log_modulus(p->log_n, security);
    int data_bits = product_bits(p->primes, p->n_data);
    if (limit == 0 && !lit->insecure) {
        s = hg_fail(HG_ERR_PARAMS,
                    "insecure parameters: the standard gives no modulus bound for N = %zu at "
                    "%d-bit security",
                    p->n, security);
    } else if (p->log_modulus > limit && !lit->insecure) {
        s = hg_fail(HG_ERR_PARAMS,
                    "insecure parameters: the modulus has %d bits, but N = %zu allows at most %d "
                    "bits for %d-bit security (HomomorphicEncryption.org table)",
                    p->log_modulus, p->n, limit, security);
    } else if (log2(p->scale) >= (double)data_bits - 1) {
        /* A scale may exceed one prime (values live modulo the whole chain) but not the chain. */
        s = hg_fail(HG_ERR_PARAMS, "scale 2^%.1f does not fit below the data modulus (%d bits)",
                    log2(lit->scale), data_bits);
    }
    if (s != HG_OK) {
        free(p);
        return s;
    }
    if (p->log_modulus <= limit) {
        p->security = security;
    } else {
        /* Insecure on request: record the strongest level the set still meets, if any. */
        p->security = 0;
        for (int sec = 256; sec >= 128; sec -= 64)
            if (p->log_modulus <= hg_ckks_max_log_modulus(p->log_n, sec) && !p->security)
                p->security = sec;
    }
    *out = p;
    return HG_OK;
}

void hg_ckks_params_free(hg_ckks_params *p) {
    free(p);
}

int hg_ckks_params_log_n(const hg_ckks_params *p) {
    return p->log_n;
}
size_t hg_ckks_params_n(const hg_ckks_params *p) {
    return p->n;
}
size_t hg_ckks_params_slots(const hg_ckks_params *p) {
    return p->n / 2;
}
int hg_ckks_params_n_data(const hg_ckks_params *p) {
    return p->n_data;
}
int hg_ckks_params_n_special(const hg_ckks_params *p) {
    return p->n_special;
}
uint64_t hg_ckks_params_prime(const hg_ckks_params *p, int i) {
    return i >= 0 && i < p->n_primes ? p->primes[i] : 0;
}
double hg_ckks_params_scale(const hg_ckks_params *p) {
    return p->scale;
}
int hg_ckks_params_security(const hg_ckks_params *p) {
    return p->security;
}
int hg_ckks_params_log_modulus(const hg_ckks_params *p) {
    return p->log_modulus;
}
