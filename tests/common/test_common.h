/* Helpers shared by the test executables (cmocka). */
#ifndef HG_TEST_COMMON_H
#define HG_TEST_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hegraph/hg_ckks.h"
#include "hegraph/hg_common.h"

/* N = 1024, primes of 40 and 30 bits and a 40-bit special prime (one level), scale 2^30:
 * insecure on purpose, for fast tests of the layers above ckks (the ckks tests' own sets are
 * in tests/ckks/ckks_test.h). */
static inline hg_ckks_params_lit HG_PARAMS_TEST_INSECURE_N1024_DEPTH1(void) {
    hg_ckks_params_lit l = {.log_n = 10, .n_primes = 3, .bits = {40, 30, 40},
                            .n_special = 1, .scale = 0x1p30, .insecure = true};
    return l;
}

/* The seed of this run's deterministic test randomness: HG_TEST_SEED from the environment,
 * or a fixed default. Printed once per executable so that a failure can be replayed. */
uint64_t hg_test_seed(void);

/* A small deterministic generator for test data (not for keys). */
typedef struct hg_test_rng {
    uint64_t s;
} hg_test_rng;
void hg_test_rng_init(hg_test_rng *r, uint64_t stream);
uint64_t hg_test_rng_u64(hg_test_rng *r);
/* Uniform in [lo, hi). */
double hg_test_rng_uniform(hg_test_rng *r, double lo, double hi);

/* Fails the test when |a - b| > tol, printing both values. */
#define hg_assert_close(a, b, tol) hg_assert_close_impl((a), (b), (tol), __FILE__, __LINE__)
void hg_assert_close_impl(double a, double b, double tol, const char *file, int line);

/* Fails when a status is not HG_OK, printing the library's error detail. */
#define hg_assert_ok(expr) hg_assert_ok_impl((expr), #expr, __FILE__, __LINE__)
void hg_assert_ok_impl(hg_status s, const char *expr, const char *file, int line);

/* Fails unless expr returns status want and the error detail contains needle. */
#define hg_assert_fails(expr, want, needle)                                                    \
    hg_assert_fails_impl((expr), (want), (needle), #expr, __FILE__, __LINE__)
void hg_assert_fails_impl(hg_status s, hg_status want, const char *needle, const char *expr,
                          const char *file, int line);

/* log2 of the worst absolute error, as bits of precision: -log2(max|a-b|). */
double hg_precision_bits(const double *a, const double *b, size_t n);

#endif
