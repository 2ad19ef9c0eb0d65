/* Tables of one prime, and the choice of kernels for this CPU. */
#include "prime.h"

#include "primes.h"
#include "util/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static hg_simd detected = HG_SIMD_PORTABLE;
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

static void detect(void) {
    hg_simd s = HG_SIMD_PORTABLE;
#if defined(HG_HAVE_AVX512) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")) {
        s = HG_SIMD_AVX512;
        if (__builtin_cpu_supports("avx512ifma"))
            s = HG_SIMD_IFMA;
    }
#endif
    const char *env = getenv("HG_SIMD");
    if (env) {
        hg_simd want = s;
        if (!strcmp(env, "portable"))
            want = HG_SIMD_PORTABLE;
        else if (!strcmp(env, "avx512"))
            want = HG_SIMD_AVX512;
        else if (!strcmp(env, "ifma"))
            want = HG_SIMD_IFMA;
        if (want < s)
            s = want;
    }
    detected = s;
}

hg_simd hg_simd_detect(void) {
    pthread_once(&detect_once, detect);
    return detected;
}

const char *hg_simd_name(hg_simd s) {
    switch (s) {
    case HG_SIMD_PORTABLE: return "portable";
    case HG_SIMD_AVX512: return "avx512";
    case HG_SIMD_IFMA: return "ifma";
    }
    return "?";
}

const hg_ring_kernels *hg_ring_kernels_select(hg_simd simd, uint64_t q) {
#if defined(HG_HAVE_AVX512)
    /* IFMA works on 52-bit lanes; lazy butterflies keep values below 4q, so q < 2^50. The
     * 64-bit AVX-512 path keeps values below 4q < 2^64. */
    if (simd >= HG_SIMD_IFMA && q < (1ull << 50))
        return &hg_kernels_ifma;
    if (simd >= HG_SIMD_AVX512 && q < (1ull << 62))
        return &hg_kernels_avx512;
#else
    (void)simd;
    (void)q;
#endif
    return &hg_kernels_portable;
}

static uint64_t shoup52(uint64_t w, uint64_t q) {
    return (uint64_t)(((hg_u128)w << 52) / q);
}

hg_status hg_prime_init_simd(hg_prime *p, uint64_t q, size_t n, hg_simd simd) {
    memset(p, 0, sizeof *p);
    if (n < 2 || n > (1u << 17) || (n & (n - 1)))
        return hg_fail(HG_ERR_INVALID_ARG, "%s: degree %zu is not a power of two in [2, 2^17]",
                       __func__, n);
    if (q < 3 || q >= (1ull << 62) || (q - 1) % (2 * n) != 0)
        return hg_fail(HG_ERR_PARAMS, "%s: %llu is not an NTT prime for N = %zu (q = 1 mod 2N, "
                       "q < 2^62)", __func__, (unsigned long long)q, n);
    hg_modulus_init(&p->mod, q);
    p->n = n;
    p->log_n = __builtin_ctzll(n);
    HG_TRY(hg_primitive_root(2 * n, q, &p->psi));

    uint64_t *buf = hg_alloc_array(6 * n, sizeof(uint64_t));
    if (!buf)
        return HG_ERR_NOMEM;
    p->root = buf;
    p->root_shoup = buf + n;
    p->root_shoup52 = buf + 2 * n;
    p->iroot = buf + 3 * n;
    p->iroot_shoup = buf + 4 * n;
    p->iroot_shoup52 = buf + 5 * n;

    const hg_modulus *m = &p->mod;
    uint64_t psi_inv = hg_inv_mod(p->psi, m);
    uint64_t pw = 1, ipw = 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = hg_bitrev((uint32_t)i, p->log_n);
        p->root[r] = pw;
        p->iroot[r] = ipw;
        pw = hg_mul_mod(pw, p->psi, m);
        ipw = hg_mul_mod(ipw, psi_inv, m);
    }
    bool small = q < (1ull << 50);
    for (size_t i = 0; i < n; i++) {
        p->root_shoup[i] = hg_shoup(p->root[i], q);
        p->iroot_shoup[i] = hg_shoup(p->iroot[i], q);
        if (small) {
            p->root_shoup52[i] = shoup52(p->root[i], q);
            p->iroot_shoup52[i] = shoup52(p->iroot[i], q);
        }
    }
    p->n_inv = hg_inv_mod(n, m);
    p->n_inv_shoup = hg_shoup(p->n_inv, q);
    p->last_w = hg_mul_mod(p->iroot[1], p->n_inv, m);
    p->last_w_shoup = hg_shoup(p->last_w, q);
    if (small) {
        p->n_inv_shoup52 = shoup52(p->n_inv, q);
        p->last_w_shoup52 = shoup52(p->last_w, q);
        p->one_shoup52 = shoup52(1, q);
        p->mu52 = (uint64_t)(((hg_u128)1 << (m->bits + 51)) / q);
        p->pow40 = (1ull << 40) % q;
        p->pow40_shoup52 = shoup52(p->pow40, q);
    }
    if (m->bits >= 33)
        p->mu64 = (uint64_t)(((hg_u128)1 << (m->bits + 63)) / q);
    p->k = hg_ring_kernels_select(simd, q);
    return HG_OK;
}

hg_status hg_prime_init(hg_prime *p, uint64_t q, size_t n) {
    return hg_prime_init_simd(p, q, n, hg_simd_detect());
}

void hg_prime_clear(hg_prime *p) {
    if (!p)
        return;
    hg_free(p->root);
    memset(p, 0, sizeof *p);
}
