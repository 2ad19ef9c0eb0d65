/*
 * Randomness. Fresh randomness comes from libsodium's randombytes (the operating system's
 * CSPRNG). Deterministic streams, used where a seed stands for a uniform polynomial (public
 * keys, key-switching keys, symmetric ciphertexts), are the ChaCha20 keystream (IETF variant:
 * 96-bit nonce, 32-bit block counter) keyed by the seed.
 */
#include "util.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_rc = -1;

static void sodium_init_once(void) {
    sodium_rc = sodium_init();
}

hg_status hg_crypto_init(void) {
    pthread_once(&sodium_once, sodium_init_once);
    if (sodium_rc < 0)
        return hg_fail(HG_ERR_INTERNAL, "libsodium failed to initialise");
    return HG_OK;
}

void hg_random_bytes(void *buf, size_t n) {
    /* randombytes_buf initialises libsodium's generator itself if needed. */
    pthread_once(&sodium_once, sodium_init_once);
    randombytes_buf(buf, n);
}

void hg_prng_init(hg_prng *p, const uint8_t seed[HG_SEED_BYTES], uint32_t domain, uint64_t index) {
    memcpy(p->key, seed, HG_SEED_BYTES);
    for (int i = 0; i < 4; i++)
        p->nonce[i] = (uint8_t)(domain >> (8 * i));
    for (int i = 0; i < 8; i++)
        p->nonce[4 + i] = (uint8_t)(index >> (8 * i));
    p->block = 0;
    p->pos = sizeof p->buf;
}

void hg_prng_init_random(hg_prng *p) {
    uint8_t seed[HG_SEED_BYTES];
    hg_random_bytes(seed, sizeof seed);
    hg_prng_init(p, seed, 0, 0);
    sodium_memzero(seed, sizeof seed);
}

static void refill(hg_prng *p) {
    /* 512 bytes = 8 ChaCha20 blocks. 2^32 blocks (256 GiB) per stream is far above any use. */
    memset(p->buf, 0, sizeof p->buf);
    crypto_stream_chacha20_ietf_xor_ic(p->buf, p->buf, sizeof p->buf, p->nonce, p->block, p->key);
    p->block += (uint32_t)(sizeof p->buf / 64);
    p->pos = 0;
}

void hg_prng_bytes(hg_prng *p, void *out, size_t n) {
    uint8_t *o = out;
    while (n > 0) {
        if (p->pos == sizeof p->buf)
            refill(p);
        size_t take = sizeof p->buf - p->pos;
        if (take > n)
            take = n;
        memcpy(o, p->buf + p->pos, take);
        p->pos += take;
        o += take;
        n -= take;
    }
}

uint64_t hg_prng_u64(hg_prng *p) {
    uint8_t b[8];
    hg_prng_bytes(p, b, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

uint32_t hg_prng_u32(hg_prng *p) {
    uint8_t b[4];
    hg_prng_bytes(p, b, 4);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

void hg_prng_clear(hg_prng *p) {
    sodium_memzero(p, sizeof *p);
}

double hg_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
