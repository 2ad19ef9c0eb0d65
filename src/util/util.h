/*
 * util: status details, checked allocation, the CSPRNG and seeded streams, bounded byte
 * readers and writers, and progress reporting. Includes nothing of the other layers.
 */
#ifndef HG_UTIL_H
#define HG_UTIL_H

#include "hegraph/hg_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors ---------------------------------------------------------------------------- */

/* Records a detail for the calling thread and returns s, so that failures read
 * `return hg_fail(HG_ERR_LEVEL, "%s: ...", __func__, ...);`. */
hg_status hg_fail(hg_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Internal invariants only (never untrusted input); on in every build. */
void hg_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define HG_ASSERT(e) ((e) ? (void)0 : hg_assert_fail(#e, __FILE__, __LINE__))

/* Propagates a failing status. */
#define HG_TRY(expr)                                                                           \
    do {                                                                                       \
        hg_status hg_try_s_ = (expr);                                                          \
        if (hg_try_s_ != HG_OK)                                                                \
            return hg_try_s_;                                                                  \
    } while (0)

/* ---- allocation ------------------------------------------------------------------------- */

/* Alignment of every buffer that vector code touches (one cache line, one zmm register). */
#define HG_ALIGN 64

/* n*size with overflow check; false on overflow. */
static inline bool hg_mul_size(size_t n, size_t size, size_t *out) {
    return !__builtin_mul_overflow(n, size, out);
}

/* Zeroed, HG_ALIGN-aligned array of n elements of size bytes; NULL (and a recorded
 * HG_ERR_NOMEM detail) on overflow or exhaustion. Free with hg_free. */
void *hg_alloc_array(size_t n, size_t size);
/* Frees a buffer from hg_alloc_array (NULL is a no-op). */
void hg_free(void *p);
/* Wipes n bytes then frees: for secrets and decrypted data. */
void hg_free_secret(void *p, size_t n);
/* An uninitialized, HG_ALIGN-aligned buffer of at least `bytes` bytes, for large arrays that
 * are written before being read. NULL (with a recorded detail) on exhaustion. Free with
 * hg_free. */
void *hg_alloc_large(size_t bytes);

/* Wipes n bytes in a way the compiler cannot elide. */
void hg_wipe(void *p, size_t n);

/* For tests of secret hygiene: when set, hg_wipe and hg_free_secret call fn with each buffer
 * right after wiping it, before it is freed, so that a test can check which buffers were wiped,
 * whole and to zero, without reading freed memory. NULL (the default) turns it off. Set it
 * while no other thread wipes. */
typedef void (*hg_wipe_hook_fn)(void *user, const void *p, size_t n);
void hg_wipe_set_hook(hg_wipe_hook_fn fn, void *user);

/* ---- randomness ------------------------------------------------------------------------- */

#define HG_SEED_BYTES 32

/* Initialises libsodium once; safe to call from many threads. */
hg_status hg_crypto_init(void) HG_WUR;

/* Fills buf with n bytes from the operating system's CSPRNG (libsodium). */
void hg_random_bytes(void *buf, size_t n);

/* A deterministic stream expanded from a 32-byte seed with ChaCha20 (IETF variant). Streams with
 * the same seed and the same 96-bit nonce produce the same bytes; different nonces give
 * independent streams. Holds secret material when the seed is secret: clear with
 * hg_prng_clear. */
typedef struct hg_prng {
    uint8_t key[HG_SEED_BYTES];
    uint8_t nonce[12];
    uint32_t block;        /* next ChaCha20 block counter */
    uint8_t buf[512];      /* keystream buffer */
    size_t pos;            /* next unread byte of buf */
} hg_prng;

/* Starts a stream from seed; domain and index select the nonce (e.g. the kind of object and
 * the RNS limb), so that one seed serves several independent streams. */
void hg_prng_init(hg_prng *p, const uint8_t seed[HG_SEED_BYTES], uint32_t domain, uint64_t index);
/* Starts a stream from a fresh random seed. */
void hg_prng_init_random(hg_prng *p);
void hg_prng_bytes(hg_prng *p, void *out, size_t n);
uint64_t hg_prng_u64(hg_prng *p);
uint32_t hg_prng_u32(hg_prng *p);
void hg_prng_clear(hg_prng *p);

/* ---- bounded byte readers and writers (little-endian) ----------------------------------- */

typedef struct hg_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
    const char *what; /* name of the object being read, for error messages */
} hg_reader;

typedef struct hg_writer {
    uint8_t *p;   /* may be NULL: then only counts */
    size_t cap;
    size_t pos;
} hg_writer;

void hg_reader_init(hg_reader *r, const void *p, size_t len, const char *what);
hg_status hg_read_bytes(hg_reader *r, void *out, size_t n) HG_WUR;
hg_status hg_read_u8(hg_reader *r, uint8_t *v) HG_WUR;
hg_status hg_read_u16(hg_reader *r, uint16_t *v) HG_WUR;
hg_status hg_read_u32(hg_reader *r, uint32_t *v) HG_WUR;
hg_status hg_read_u64(hg_reader *r, uint64_t *v) HG_WUR;
hg_status hg_read_f64(hg_reader *r, double *v) HG_WUR;
/* Points *out at the next n bytes without copying. */
hg_status hg_read_view(hg_reader *r, const uint8_t **out, size_t n) HG_WUR;
static inline size_t hg_reader_left(const hg_reader *r) {
    return r->len - r->pos;
}

void hg_writer_init(hg_writer *w, void *p, size_t cap);
hg_status hg_write_bytes(hg_writer *w, const void *in, size_t n) HG_WUR;
hg_status hg_write_u8(hg_writer *w, uint8_t v) HG_WUR;
hg_status hg_write_u16(hg_writer *w, uint16_t v) HG_WUR;
hg_status hg_write_u32(hg_writer *w, uint32_t v) HG_WUR;
hg_status hg_write_u64(hg_writer *w, uint64_t v) HG_WUR;
hg_status hg_write_f64(hg_writer *w, double v) HG_WUR;

/* ---- time ---------------------------------------------------------------------------------- */

/* Monotonic seconds. */
double hg_now(void);

#endif
