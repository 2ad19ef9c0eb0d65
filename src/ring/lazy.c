#include "lazy.h"

void hg_mul_acc32(hg_simd simd, const uint64_t *a, const uint64_t *b, uint64_t *acc, size_t n) {
#if defined(HG_HAVE_AVX512)
    if (simd >= HG_SIMD_AVX512) {
        hg_mul_acc32_avx512(a, b, acc, n);
        return;
    }
#else
    (void)simd;
#endif
    for (size_t i = 0; i < n; i++)
        acc[i] += a[i] * b[i];
}

void hg_mul32(hg_simd simd, const uint64_t *a, const uint64_t *b, uint64_t *acc, size_t n) {
#if defined(HG_HAVE_AVX512)
    if (simd >= HG_SIMD_AVX512) {
        hg_mul32_avx512(a, b, acc, n);
        return;
    }
#else
    (void)simd;
#endif
    for (size_t i = 0; i < n; i++)
        acc[i] = a[i] * b[i];
}

void hg_center_shift(hg_simd simd, const uint64_t *y, uint64_t half, uint64_t shift,
                     uint64_t *out, size_t n) {
#if defined(HG_HAVE_AVX512)
    if (simd >= HG_SIMD_AVX512) {
        hg_center_shift_avx512(y, half, shift, out, n);
        return;
    }
#else
    (void)simd;
#endif
    for (size_t i = 0; i < n; i++)
        out[i] = y[i] + (y[i] > half ? shift : 0);
}
