/* Parameter sets and helpers shared by the ckks tests. The small sets are insecure on purpose
 * (fast tests) and named so. */
#ifndef HG_CKKS_TEST_H
#define HG_CKKS_TEST_H

#include "test_common.h"

#include "hegraph/hg_ckks.h"

#include <complex.h>
#include <math.h>

/* N = 1024, 60/40-bit primes, scale 2^40. */
static inline hg_ckks_params_lit HG_PARAMS_TEST_INSECURE_N1024(void) {
    hg_ckks_params_lit l = {.log_n = 10, .n_primes = 5, .bits = {55, 40, 40, 40, 60},
                            .n_special = 1, .scale = 0x1p40, .insecure = true};
    return l;
}

/* N = 2048 with nGraph-HE2's CryptoNets prime sizes, scale 2^24. */
static inline hg_ckks_params_lit HG_PARAMS_TEST_INSECURE_N2048_SMALL_PRIMES(void) {
    hg_ckks_params_lit l = {.log_n = 11, .n_primes = 5, .bits = {30, 24, 24, 24, 30},
                            .n_special = 1, .scale = 0x1p24, .insecure = true};
    return l;
}

/* N = 1024 with two special primes: key-switching digits of two primes each. */
static inline hg_ckks_params_lit HG_PARAMS_TEST_INSECURE_N1024_TWO_SPECIAL(void) {
    hg_ckks_params_lit l = {.log_n = 10, .n_primes = 7, .bits = {50, 36, 36, 36, 36, 50, 50},
                            .n_special = 2, .scale = 0x1p36, .insecure = true};
    return l;
}

static inline void random_slots(hg_test_rng *r, double complex *z, size_t n, double amp) {
    for (size_t i = 0; i < n; i++)
        z[i] = hg_test_rng_uniform(r, -amp, amp) + hg_test_rng_uniform(r, -amp, amp) * I;
}

/* -log2 of the largest error between two complex vectors. */
static inline double precision_bits_c(const double complex *a, const double complex *b,
                                      size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = cabs(a[i] - b[i]);
        if (d > worst)
            worst = d;
    }
    return worst > 0 ? -log2(worst) : 64;
}

#endif
