#include "primes.h"

#include "modarith.h"
#include "util/util.h"

static uint64_t mulmod_slow(uint64_t a, uint64_t b, uint64_t n) {
    return (uint64_t)(((hg_u128)a * b) % n);
}

static uint64_t powmod_slow(uint64_t a, uint64_t e, uint64_t n) {
    uint64_t r = 1;
    a %= n;
    while (e) {
        if (e & 1)
            r = mulmod_slow(r, a, n);
        a = mulmod_slow(a, a, n);
        e >>= 1;
    }
    return r;
}

bool hg_is_prime(uint64_t n) {
    if (n < 2)
        return false;
    static const uint64_t small[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        if (n == small[i])
            return true;
        if (n % small[i] == 0)
            return false;
    }
    uint64_t d = n - 1;
    int s = 0;
    while ((d & 1) == 0) {
        d >>= 1;
        s++;
    }
    /* These twelve bases decide primality for every n < 2^64 (Sorenson and Webster, 2015). */
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        uint64_t x = powmod_slow(small[i], d, n);
        if (x == 1 || x == n - 1)
            continue;
        bool composite = true;
        for (int r = 1; r < s; r++) {
            x = mulmod_slow(x, x, n);
            if (x == n - 1) {
                composite = false;
                break;
            }
        }
        if (composite)
            return false;
    }
    return true;
}

hg_status hg_primes_generate(int bits, size_t count, uint64_t two_n, const uint64_t *exclude,
                             size_t n_exclude, uint64_t *out) {
    if (bits < 20 || bits > 60)
        return hg_fail(HG_ERR_PARAMS, "prime size of %d bits is outside [20, 60]", bits);
    if (two_n == 0 || (two_n & (two_n - 1)) != 0 || two_n >= (1ull << bits))
        return hg_fail(HG_ERR_PARAMS, "no %d-bit primes are 1 mod %llu", bits,
                       (unsigned long long)two_n);
    uint64_t top = 1ull << bits, bottom = 1ull << (bits - 1);
    /* Largest candidate below 2^bits that is 1 mod 2N, then walk down by 2N. */
    uint64_t c = top - two_n + 1;
    size_t found = 0;
    for (; c > bottom && found < count; c -= two_n) {
        if (!hg_is_prime(c))
            continue;
        bool skip = false;
        for (size_t i = 0; i < n_exclude; i++)
            skip |= exclude[i] == c;
        for (size_t i = 0; i < found; i++)
            skip |= out[i] == c;
        if (!skip)
            out[found++] = c;
        if (c <= two_n)
            break;
    }
    if (found < count)
        return hg_fail(HG_ERR_PARAMS,
                       "only %zu primes of %d bits are 1 mod 2N = %llu, %zu are needed", found,
                       bits, (unsigned long long)two_n, count);
    return HG_OK;
}

hg_status hg_primitive_root(uint64_t two_n, uint64_t q, uint64_t *root) {
    if ((q - 1) % two_n != 0)
        return hg_fail(HG_ERR_PARAMS, "%llu is not 1 mod %llu", (unsigned long long)q,
                       (unsigned long long)two_n);
    hg_modulus m;
    hg_modulus_init(&m, q);
    /* g^((q-1)/2N) is a 2N-th root; it is primitive iff its (N)-th power is -1. Among all
     * primitive roots pick the smallest value, for reproducible tables. */
    uint64_t best = 0;
    uint64_t cofactor = (q - 1) / two_n;
    for (uint64_t g = 2; g < q && g < 1000000; g++) {
        uint64_t r = hg_pow_mod(g, cofactor, &m);
        if (hg_pow_mod(r, two_n / 2, &m) != q - 1)
            continue;
        /* r generates all primitive 2N-th roots as r^k, k odd. */
        uint64_t r2 = hg_mul_mod(r, r, &m), cur = r;
        best = r;
        for (uint64_t k = 1; k < two_n; k += 2) {
            if (cur < best)
                best = cur;
            cur = hg_mul_mod(cur, r2, &m);
        }
        break;
    }
    if (!best)
        return hg_fail(HG_ERR_PARAMS, "no primitive %llu-th root of unity mod %llu",
                       (unsigned long long)two_n, (unsigned long long)q);
    *root = best;
    return HG_OK;
}
