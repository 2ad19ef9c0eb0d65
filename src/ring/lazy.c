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

void hg_add_const_lazy(hg_simd simd, const uint64_t *in, uint64_t c, uint64_t *out, size_t n) {
#if defined(HG_HAVE_AVX512)
    if (simd >= HG_SIMD_AVX512) {
        hg_add_const_lazy_avx512(in, c, out, n);
        return;
    }
#else
    (void)simd;
#endif
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] + c;
}

void hg_signed_offset(hg_simd simd, const int64_t *v, uint64_t offset, uint64_t *out, size_t n) {
#if defined(HG_HAVE_AVX512)
    if (simd >= HG_SIMD_AVX512) {
        hg_signed_offset_avx512(v, offset, out, n);
        return;
    }
#else
    (void)simd;
#endif
    for (size_t i = 0; i < n; i++)
        out[i] = (uint64_t)v[i] + offset;
}

void hg_sub_mul_scalar(const hg_prime *p, const uint64_t *x, const uint64_t *t, uint64_t w,
                       uint64_t w_shoup, uint64_t *out, size_t n) {
    const uint64_t q = p->mod.q;
#if defined(HG_HAVE_AVX512)
    if (p->k->simd >= HG_SIMD_IFMA && q < (1ull << 50)) {
        hg_sub_mul_scalar_ifma(x, t, q, w, (uint64_t)(((hg_u128)w << 52) / q), out, n);
        return;
    }
    if (p->k->simd >= HG_SIMD_AVX512) {
        p->k->sub(p, x, t, out, n);
        p->k->mul_scalar(p, out, w, w_shoup, out, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        out[i] = hg_mul_shoup(x[i] + q - t[i], w, w_shoup, q);
}
