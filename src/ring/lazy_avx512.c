/* AVX-512 lazy multiply-accumulate: one vpmuludq (32 x 32 -> 64 bits) and one add per eight
 * lanes. Called only after a run-time CPU check. */
#include "lazy.h"

#include <immintrin.h>

#include "modarith.h"

void hg_mul_acc32_avx512(const uint64_t *a, const uint64_t *b, uint64_t *acc, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i x0 = _mm512_loadu_si512(a + i), y0 = _mm512_loadu_si512(b + i);
        __m512i x1 = _mm512_loadu_si512(a + i + 8), y1 = _mm512_loadu_si512(b + i + 8);
        __m512i s0 = _mm512_add_epi64(_mm512_loadu_si512(acc + i), _mm512_mul_epu32(x0, y0));
        __m512i s1 = _mm512_add_epi64(_mm512_loadu_si512(acc + i + 8), _mm512_mul_epu32(x1, y1));
        _mm512_storeu_si512(acc + i, s0);
        _mm512_storeu_si512(acc + i + 8, s1);
    }
    for (; i < n; i++)
        acc[i] += a[i] * b[i];
}

void hg_mul32_avx512(const uint64_t *a, const uint64_t *b, uint64_t *acc, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm512_storeu_si512(acc + i, _mm512_mul_epu32(_mm512_loadu_si512(a + i),
                                                      _mm512_loadu_si512(b + i)));
    for (; i < n; i++)
        acc[i] = a[i] * b[i];
}

void hg_center_shift_avx512(const uint64_t *y, uint64_t half, uint64_t shift, uint64_t *out,
                            size_t n) {
    const __m512i h = _mm512_set1_epi64((long long)half), sh = _mm512_set1_epi64((long long)shift);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i v = _mm512_loadu_si512(y + i);
        __mmask8 above = _mm512_cmpgt_epu64_mask(v, h);
        _mm512_storeu_si512(out + i, _mm512_mask_add_epi64(v, above, v, sh));
    }
    for (; i < n; i++)
        out[i] = y[i] + (y[i] > half ? shift : 0);
}

void hg_add_const_lazy_avx512(const uint64_t *in, uint64_t c, uint64_t *out, size_t n) {
    const __m512i cv = _mm512_set1_epi64((long long)c);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm512_storeu_si512(out + i, _mm512_add_epi64(_mm512_loadu_si512(in + i), cv));
    for (; i < n; i++)
        out[i] = in[i] + c;
}

void hg_signed_offset_avx512(const int64_t *v, uint64_t offset, uint64_t *out, size_t n) {
    const __m512i ov = _mm512_set1_epi64((long long)offset);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm512_storeu_si512(out + i, _mm512_add_epi64(_mm512_loadu_si512(v + i), ov));
    for (; i < n; i++)
        out[i] = (uint64_t)v[i] + offset;
}

/* Shoup on 52-bit lanes: for a < 2^52, w < q < 2^50 and w' = floor(w 2^52 / q),
 * a w - floor(a w' / 2^52) q lies in [0, 2q) and is computed modulo 2^52 by IFMA's low and
 * high halves. */
void hg_sub_mul_scalar_ifma(const uint64_t *x, const uint64_t *t, uint64_t q, uint64_t w,
                            uint64_t w_shoup52, uint64_t *out, size_t n) {
    const __m512i qv = _mm512_set1_epi64((long long)q), wv = _mm512_set1_epi64((long long)w),
                  wsv = _mm512_set1_epi64((long long)w_shoup52),
                  mask52 = _mm512_set1_epi64((long long)((1ull << 52) - 1)),
                  zero = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i a = _mm512_sub_epi64(_mm512_add_epi64(_mm512_loadu_si512(x + i), qv),
                                     _mm512_loadu_si512(t + i)); /* [0, 2q) */
        __m512i hi = _mm512_madd52hi_epu64(zero, a, wsv);
        __m512i r = _mm512_madd52lo_epu64(zero, a, wv);
        r = _mm512_sub_epi64(r, _mm512_madd52lo_epu64(zero, hi, qv));
        r = _mm512_and_si512(r, mask52);
        r = _mm512_min_epu64(r, _mm512_sub_epi64(r, qv));
        _mm512_storeu_si512(out + i, r);
    }
    for (; i < n; i++) {
        uint64_t a = x[i] + q - t[i];
        uint64_t est = (uint64_t)(((hg_u128)a * w_shoup52) >> 52);
        uint64_t r = (a * w - est * q) & ((1ull << 52) - 1);
        out[i] = r >= q ? r - q : r;
    }
}
