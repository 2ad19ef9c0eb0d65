#include "sampler.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

void hg_sample_uniform(hg_prng *rng, const hg_modulus *m, uint64_t *out, size_t n) {
    const uint64_t q = m->q;
    const uint64_t mask = m->bits >= 64 ? ~0ull : (1ull << m->bits) - 1;
    if (q < (1ull << 32)) {
        uint32_t buf[256];
        size_t i = 0;
        while (i < n) {
            hg_prng_bytes(rng, buf, sizeof buf);
            for (size_t j = 0; j < 256 && i < n; j++) {
                uint64_t v = buf[j] & mask;
                if (v < q)
                    out[i++] = v;
            }
        }
    } else {
        uint64_t buf[128];
        size_t i = 0;
        while (i < n) {
            hg_prng_bytes(rng, buf, sizeof buf);
            for (size_t j = 0; j < 128 && i < n; j++) {
                uint64_t v = buf[j] & mask;
                if (v < q)
                    out[i++] = v;
            }
        }
    }
}

void hg_sample_ternary(hg_prng *rng, int8_t *out, size_t n) {
    uint8_t buf[512];
    size_t i = 0;
    while (i < n) {
        hg_prng_bytes(rng, buf, sizeof buf);
        for (size_t j = 0; j < sizeof buf && i < n; j++) {
            /* 255 = 3 * 85: rejecting it leaves each residue mod 3 equally likely. */
            if (buf[j] < 255)
                out[i++] = (int8_t)((int)(buf[j] % 3) - 1);
        }
    }
    hg_wipe(buf, sizeof buf);
}

/* cdt[k] = round(2^63 * P(|x| <= k)) for the half distribution of |x|, k = 0..BOUND-1.
 * |x| = number of entries below the uniform 63-bit draw. */
static uint64_t cdt[HG_GAUSSIAN_BOUND];
static pthread_once_t cdt_once = PTHREAD_ONCE_INIT;

static void cdt_build(void) {
    double rho[HG_GAUSSIAN_BOUND + 1], total = 0;
    for (int k = 0; k <= HG_GAUSSIAN_BOUND; k++) {
        /* weight of |x| = k: both signs except for 0 */
        rho[k] = exp(-(double)(k * k) / (2 * HG_GAUSSIAN_SIGMA * HG_GAUSSIAN_SIGMA)) *
                 (k ? 2.0 : 1.0);
        total += rho[k];
    }
    double acc = 0;
    for (int k = 0; k < HG_GAUSSIAN_BOUND; k++) {
        acc += rho[k] / total;
        double t = ldexp(acc, 63);
        cdt[k] = t >= 0x1p63 ? (1ull << 63) : (uint64_t)t;
    }
}

void hg_sample_gaussian(hg_prng *rng, int8_t *out, size_t n) {
    pthread_once(&cdt_once, cdt_build);
    uint64_t buf[256];
    for (size_t i = 0; i < n; i += 256) {
        size_t len = n - i < 256 ? n - i : 256;
        hg_prng_bytes(rng, buf, len * sizeof(uint64_t));
        uint8_t mag[256];
        memset(mag, 0, sizeof mag);
        /* Loop over the table outside, samples inside: no branch depends on a sample, and the
         * compiler vectorises the inner loop. */
        for (int k = 0; k < HG_GAUSSIAN_BOUND; k++) {
            const uint64_t t = cdt[k];
            for (size_t j = 0; j < len; j++)
                mag[j] = (uint8_t)(mag[j] + ((buf[j] >> 1) >= t));
        }
        for (size_t j = 0; j < len; j++) {
            int sign = (int)(buf[j] & 1);
            int v = mag[j];
            out[i + j] = (int8_t)(sign ? -v : v);
        }
        hg_wipe(mag, sizeof mag);
    }
    hg_wipe(buf, sizeof buf);
}

void hg_small_to_mod(const int8_t *v, const hg_modulus *m, uint64_t *out, size_t n) {
    const uint64_t q = m->q;
    for (size_t i = 0; i < n; i++) {
        int64_t x = v[i];
        /* add q when negative, without a branch on the (secret) value */
        out[i] = (uint64_t)x + (q & (uint64_t)-(int64_t)(x < 0));
    }
}
