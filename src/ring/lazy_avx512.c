/* AVX-512 lazy multiply-accumulate: one vpmuludq (32 x 32 -> 64 bits) and one add per eight
 * lanes. Called only after a run-time CPU check. */
#include "lazy.h"

#include <immintrin.h>

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
