/*
 * The linear engine's block kernel for AVX-512, called only after a run-time CPU check.
 *
 * Products w * x with |w| < 2^31 and x < q < 2^31 use vpmuldq (signed 32 x 32 -> 64 bits, one
 * per eight lanes); larger weights use vpmullq. Accumulators stay in registers: 64 lanes of one
 * row, or, when the rows of a layer share their columns (Gemm, MatMul), 32 lanes of four rows,
 * so that each load of an input serves four rows. Sums are reduced once per `chunk` terms and
 * at the end, by a Barrett step whose quotient comes from double precision (exact to within
 * one for |a| < 2^63 and q < 2^40, which the correction absorbs).
 */
#include "he.h"

#include <immintrin.h>
#include <math.h>

/* a mod q for signed 64-bit lanes, result in [0, q). */
static inline __m512i reduce_signed(__m512i a, __m512i q, __m512d q_inv) {
    __m512d d = _mm512_mul_pd(_mm512_cvtepi64_pd(a), q_inv);
    d = _mm512_roundscale_pd(d, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512i e = _mm512_cvtpd_epi64(d);
    __m512i r = _mm512_sub_epi64(a, _mm512_mullo_epi64(e, q));
    /* r in [-q, 2q): fold into [0, q) */
    r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, _mm512_setzero_si512()), r, q);
    r = _mm512_mask_sub_epi64(r, _mm512_cmpge_epi64_mask(r, q), r, q);
    return r;
}

/* (a + b) mod q for a, b < q. */
static inline __m512i add_mod(__m512i a, __m512i b, __m512i q) {
    __m512i s = _mm512_add_epi64(a, b);
    return _mm512_mask_sub_epi64(s, _mm512_cmpge_epu64_mask(s, q), s, q);
}

static inline __m512i mul(__m512i w, __m512i x, int narrow) {
    return narrow ? _mm512_mul_epi32(w, x) : _mm512_mullo_epi64(w, x);
}

/* Adds the bias of row r to the reduced lanes [j, j + 8) of limb-relative index lane0 + j. */
static inline __m512i add_bias(const he_block *b, size_t r, size_t j, __m512i v, __m512i q) {
    const he_linear *lin = b->lin;
    uint64_t add = b->bias[r * (size_t)lin->n_limbs];
    if (b->bias_i) {
        uint64_t bi = b->bias_i[r * (size_t)lin->n_limbs];
        /* lanes below N/2 take +i's residue, the others -i's; a block of 8 never straddles */
        bi = b->lane0 + j < b->half ? bi : (bi ? b->q - bi : 0);
        add += bi;
        add -= add >= b->q ? b->q : 0;
    }
    v = _mm512_add_epi64(v, _mm512_set1_epi64((long long)add));
    return _mm512_mask_sub_epi64(v, _mm512_cmpge_epu64_mask(v, q), v, q);
}

/* One row, 64 lanes (8 registers) at a time. */
static void rows_single(const he_block *b, size_t chunk, int narrow) {
    const he_linear *lin = b->lin;
    const __m512i q = _mm512_set1_epi64((long long)b->q);
    const __m512d q_inv = _mm512_set1_pd(b->q_inv);
    for (size_t r = b->r0; r < b->r1; r++) {
        const uint32_t k0 = lin->row_ptr[r], k1 = lin->row_ptr[r + 1];
        uint64_t *y = b->y + r * b->y_stride + b->slab;
        for (size_t j = 0; j < b->lanes; j += 64) {
            __m512i acc[8];
            for (int v = 0; v < 8; v++)
                acc[v] = _mm512_setzero_si512();
            size_t since = 0;
            for (uint32_t k = k0; k < k1; k++) {
                const int64_t wk = lin->w[k];
                if (b->skip_zero && wk == 0)
                    continue;
                const __m512i w = _mm512_set1_epi64(wk);
                const uint64_t *x = b->x + (size_t)lin->col[k] * b->x_stride + b->slab + j;
                for (int v = 0; v < 8; v++)
                    acc[v] = _mm512_add_epi64(acc[v], mul(w, _mm512_load_si512(x + 8 * v), narrow));
                if (++since == chunk) {
                    for (int v = 0; v < 8; v++)
                        acc[v] = reduce_signed(acc[v], q, q_inv);
                    since = 0;
                }
            }
            for (int v = 0; v < 8; v++) {
                __m512i o = reduce_signed(acc[v], q, q_inv);
                if (b->bias)
                    o = add_bias(b, r, j + 8 * (size_t)v, o, q);
                if (b->accumulate)
                    o = add_mod(o, _mm512_load_si512(y + j + 8 * v), q);
                _mm512_store_si512(y + j + 8 * v, o);
            }
        }
    }
}

/* Rows that share their column list: four rows and 32 lanes per step, each input load used
 * four times. */
static void rows_dense(const he_block *b, size_t chunk, int narrow) {
    const he_linear *lin = b->lin;
    const __m512i q = _mm512_set1_epi64((long long)b->q);
    const __m512d q_inv = _mm512_set1_pd(b->q_inv);
    size_t r = b->r0;
    for (; r + 4 <= b->r1; r += 4) {
        const uint32_t k0 = lin->row_ptr[r], len = lin->row_ptr[r + 1] - k0;
        const int64_t *w0 = lin->w + k0, *w1 = lin->w + lin->row_ptr[r + 1],
                      *w2 = lin->w + lin->row_ptr[r + 2], *w3 = lin->w + lin->row_ptr[r + 3];
        const uint32_t *col = lin->col + k0;
        for (size_t j = 0; j < b->lanes; j += 32) {
            __m512i acc[4][4];
            for (int a = 0; a < 4; a++)
                for (int v = 0; v < 4; v++)
                    acc[a][v] = _mm512_setzero_si512();
            size_t since = 0;
            for (uint32_t k = 0; k < len; k++) {
                const uint64_t *x = b->x + (size_t)col[k] * b->x_stride + b->slab + j;
                const __m512i x0 = _mm512_load_si512(x), x1 = _mm512_load_si512(x + 8),
                              x2 = _mm512_load_si512(x + 16), x3 = _mm512_load_si512(x + 24);
                const __m512i ws[4] = {_mm512_set1_epi64(w0[k]), _mm512_set1_epi64(w1[k]),
                                       _mm512_set1_epi64(w2[k]), _mm512_set1_epi64(w3[k])};
                for (int a = 0; a < 4; a++) {
                    acc[a][0] = _mm512_add_epi64(acc[a][0], mul(ws[a], x0, narrow));
                    acc[a][1] = _mm512_add_epi64(acc[a][1], mul(ws[a], x1, narrow));
                    acc[a][2] = _mm512_add_epi64(acc[a][2], mul(ws[a], x2, narrow));
                    acc[a][3] = _mm512_add_epi64(acc[a][3], mul(ws[a], x3, narrow));
                }
                if (++since == chunk) {
                    for (int a = 0; a < 4; a++)
                        for (int v = 0; v < 4; v++)
                            acc[a][v] = reduce_signed(acc[a][v], q, q_inv);
                    since = 0;
                }
            }
            for (int a = 0; a < 4; a++) {
                uint64_t *y = b->y + (r + (size_t)a) * b->y_stride + b->slab + j;
                for (int v = 0; v < 4; v++) {
                    __m512i o = reduce_signed(acc[a][v], q, q_inv);
                    if (b->bias)
                        o = add_bias(b, r + (size_t)a, j + 8 * (size_t)v, o, q);
                    if (b->accumulate)
                        o = add_mod(o, _mm512_load_si512(y + 8 * v), q);
                    _mm512_store_si512(y + 8 * v, o);
                }
            }
        }
    }
    if (r < b->r1) {
        he_block rest = *b;
        rest.r0 = r;
        rows_single(&rest, chunk, narrow);
    }
}

void he_block_avx512(const he_block *b) {
    const he_linear *lin = b->lin;
    /* Terms a signed 64-bit accumulator holds: |w| q each, with room for the value below 2q a
     * reduction leaves. Primes of 40 bits or more, or weights that do not fit, take the
     * portable kernel's wide path. */
    if (b->q >= ((uint64_t)1 << 40) || (b->lanes & 63) != 0 || b->skip_zero) {
        he_block_portable(b);
        return;
    }
    size_t chunk = SIZE_MAX;
    if (lin->max_abs_w > 0) {
        hg_u128 t = (hg_u128)lin->max_abs_w * b->q;
        hg_u128 room = ((hg_u128)1 << 63) - ((hg_u128)1 << 40);
        if (t >= room) {
            he_block_portable(b);
            return;
        }
        chunk = (size_t)(room / t);
        if (chunk > 1)
            chunk--;
    }
    const int narrow = lin->max_abs_w < ((int64_t)1 << 31) && b->q < ((uint64_t)1 << 31);
    if (lin->dense)
        rows_dense(b, chunk, narrow);
    else
        rows_single(b, chunk, narrow);
}
