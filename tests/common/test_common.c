#include "test_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t hg_test_seed(void) {
    static int printed;
    static uint64_t seed = 0x6865677261706821ull;
    if (!printed) {
        const char *e = getenv("HG_TEST_SEED");
        if (e && *e)
            seed = strtoull(e, NULL, 0);
        fprintf(stderr, "# HG_TEST_SEED=0x%llx\n", (unsigned long long)seed);
        printed = 1;
    }
    return seed;
}

void hg_test_rng_init(hg_test_rng *r, uint64_t stream) {
    r->s = hg_test_seed() ^ (stream * 0x9e3779b97f4a7c15ull);
}

uint64_t hg_test_rng_u64(hg_test_rng *r) {
    /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double hg_test_rng_uniform(hg_test_rng *r, double lo, double hi) {
    double u = (double)(hg_test_rng_u64(r) >> 11) * 0x1.0p-53;
    return lo + (hi - lo) * u;
}

void hg_assert_close_impl(double a, double b, double tol, const char *file, int line) {
    if (!(fabs(a - b) <= tol)) {
        fprintf(stderr, "%s:%d: |%.17g - %.17g| = %.3g > %.3g\n", file, line, a, b, fabs(a - b),
                tol);
        _fail(file, line);
    }
}

void hg_assert_ok_impl(hg_status s, const char *expr, const char *file, int line) {
    if (s != HG_OK) {
        fprintf(stderr, "%s:%d: %s returned %s: %s\n", file, line, expr, hg_status_name(s),
                hg_last_error());
        _fail(file, line);
    }
}

void hg_assert_fails_impl(hg_status s, hg_status want, const char *needle, const char *expr,
                          const char *file, int line) {
    if (s != want) {
        fprintf(stderr, "%s:%d: %s returned %s (%s), expected %s\n", file, line, expr,
                hg_status_name(s), hg_last_error(), hg_status_name(want));
        _fail(file, line);
    }
    if (needle && !strstr(hg_last_error(), needle)) {
        fprintf(stderr, "%s:%d: %s: message \"%s\" does not mention \"%s\"\n", file, line, expr,
                hg_last_error(), needle);
        _fail(file, line);
    }
}

double hg_precision_bits(const double *a, const double *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (d > worst)
            worst = d;
    }
    return worst > 0 ? -log2(worst) : 64.0;
}
