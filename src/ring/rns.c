#include "rns.h"

#include "lazy.h"
#include "util/util.h"

#include <string.h>

hg_status hg_baseconv_init(hg_baseconv *bc, const hg_prime *const *in, int n_in,
                           const hg_prime *const *out, int n_out) {
    memset(bc, 0, sizeof *bc);
    if (n_in < 1 || n_out < 1 || n_in > 256 || n_out > 256)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: %d input and %d output primes", __func__, n_in,
                       n_out);
    size_t nin = (size_t)n_in, nout = (size_t)n_out;
    bc->n_in = n_in;
    bc->n_out = n_out;
    bc->in = hg_alloc_array(nin, sizeof *bc->in);
    bc->out = hg_alloc_array(nout, sizeof *bc->out);
    bc->qhat_inv = hg_alloc_array(2 * nin + nin * nout + nout, sizeof(uint64_t));
    if (!bc->in || !bc->out || !bc->qhat_inv) {
        hg_baseconv_clear(bc);
        return HG_ERR_NOMEM;
    }
    bc->qhat_inv_shoup = bc->qhat_inv + nin;
    bc->qhat_mod = bc->qhat_inv + 2 * nin;
    bc->big_q_mod = bc->qhat_mod + nin * nout;
    for (size_t j = 0; j < nout; j++) {
        const hg_modulus *mj = &out[j]->mod;
        uint64_t qm = 1;
        for (size_t k = 0; k < nin; k++)
            qm = hg_mul_mod(qm, hg_reduce_u64(in[k]->mod.q, mj), mj);
        bc->big_q_mod[j] = qm;
    }
    memcpy(bc->in, in, nin * sizeof *in);
    memcpy(bc->out, out, nout * sizeof *out);
    for (size_t i = 0; i < nin; i++) {
        const hg_modulus *mi = &in[i]->mod;
        uint64_t prod = 1; /* (Q/q_i) mod q_i */
        for (size_t k = 0; k < nin; k++)
            if (k != i)
                prod = hg_mul_mod(prod, hg_reduce_u64(in[k]->mod.q, mi), mi);
        uint64_t inv = hg_inv_mod(prod, mi);
        if (!inv) {
            hg_baseconv_clear(bc);
            return hg_fail(HG_ERR_PARAMS, "%s: input primes are not coprime", __func__);
        }
        bc->qhat_inv[i] = inv;
        bc->qhat_inv_shoup[i] = hg_shoup(inv, mi->q);
        for (size_t j = 0; j < nout; j++) {
            const hg_modulus *mj = &out[j]->mod;
            uint64_t p = 1;
            for (size_t k = 0; k < nin; k++)
                if (k != i)
                    p = hg_mul_mod(p, hg_reduce_u64(in[k]->mod.q, mj), mj);
            bc->qhat_mod[j * nin + i] = p;
        }
    }
    return HG_OK;
}

void hg_baseconv_clear(hg_baseconv *bc) {
    if (!bc)
        return;
    hg_free(bc->in);
    hg_free(bc->out);
    hg_free(bc->qhat_inv);
    memset(bc, 0, sizeof *bc);
}

void hg_baseconv_apply(const hg_baseconv *bc, const uint64_t *in, uint64_t *out,
                       uint64_t *scratch, size_t n) {
    /* y_i = x_i * (Q/q_i)^-1 mod q_i once, then each output prime from the same y. With one
     * input prime y is x itself. */
    const uint64_t *y = in;
    if (bc->n_in > 1) {
        hg_baseconv_prepare(bc, in, scratch, n);
        y = scratch;
    }
    for (int j = 0; j < bc->n_out; j++)
        hg_baseconv_one(bc, y, j, out + (size_t)j * n, n);
}

void hg_baseconv_prepare(const hg_baseconv *bc, const uint64_t *in, uint64_t *y, size_t n) {
    const size_t nin = (size_t)bc->n_in;
    if (nin == 1) {
        if (y != in)
            memcpy(y, in, n * sizeof *y);
        return;
    }
    for (size_t i = 0; i < nin; i++)
        bc->in[i]->k->mul_scalar(bc->in[i], in + i * n, bc->qhat_inv[i], bc->qhat_inv_shoup[i],
                                 y + i * n, n);
}

void hg_baseconv_one(const hg_baseconv *bc, const uint64_t *y, int j, uint64_t *out, size_t n) {
    const size_t nin = (size_t)bc->n_in;
    const hg_prime *p = bc->out[j];
    const hg_modulus *mj = &p->mod;
    if (nin == 1) {
        /* The centred lift y or y - q, mod p: when q <= p, y - q + p is already in [0, p). */
        const uint64_t q = bc->in[0]->mod.q, half = q >> 1;
        const uint64_t shift = hg_neg_mod(bc->big_q_mod[j], mj->q);
        hg_center_shift(p->k->simd, y, half, shift, out, n);
        if (q > mj->q)
            p->k->reduce(p, out, out, n);
        return;
    }
    const uint64_t *row = bc->qhat_mod + (size_t)j * nin;
    for (size_t k = 0; k < n; k++) {
        hg_u128 acc = 0;
        uint64_t carry = 0, above = 0;
        for (size_t i = 0; i < nin; i++) {
            uint64_t v = y[i * n + k];
            above += v > (bc->in[i]->mod.q >> 1);
            hg_u128 t = (hg_u128)v * row[i];
            hg_u128 s = acc + t;
            carry += s < acc;
            acc = s;
        }
        uint64_t hi = (uint64_t)(acc >> 64);
        uint64_t top = hg_reduce_u128(((hg_u128)hg_reduce_u64(carry, mj) << 64) | hi, mj);
        uint64_t v = hg_reduce_u128(((hg_u128)top << 64) | (uint64_t)acc, mj);
        out[k] = hg_sub_mod(v, hg_mul_mod(above, bc->big_q_mod[j], mj), mj->q);
    }
}
