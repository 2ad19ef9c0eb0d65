/* Bounded little-endian readers and writers: every read checks the remaining length first. */
#include "util.h"

#include <string.h>

void hg_reader_init(hg_reader *r, const void *p, size_t len, const char *what) {
    r->p = p;
    r->len = p ? len : 0;
    r->pos = 0;
    r->what = what ? what : "buffer";
}

hg_status hg_read_view(hg_reader *r, const uint8_t **out, size_t n) {
    if (n > r->len - r->pos)
        return hg_fail(HG_ERR_FORMAT, "%s: truncated (need %zu bytes at offset %zu, have %zu)",
                       r->what, n, r->pos, r->len - r->pos);
    *out = r->p + r->pos;
    r->pos += n;
    return HG_OK;
}

hg_status hg_read_bytes(hg_reader *r, void *out, size_t n) {
    const uint8_t *v = NULL;
    HG_TRY(hg_read_view(r, &v, n));
    if (n)
        memcpy(out, v, n);
    return HG_OK;
}

static hg_status read_le(hg_reader *r, uint64_t *v, int n) {
    const uint8_t *b = NULL;
    HG_TRY(hg_read_view(r, &b, (size_t)n));
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--)
        x = (x << 8) | b[i];
    *v = x;
    return HG_OK;
}

hg_status hg_read_u8(hg_reader *r, uint8_t *v) {
    uint64_t x;
    HG_TRY(read_le(r, &x, 1));
    *v = (uint8_t)x;
    return HG_OK;
}

hg_status hg_read_u16(hg_reader *r, uint16_t *v) {
    uint64_t x;
    HG_TRY(read_le(r, &x, 2));
    *v = (uint16_t)x;
    return HG_OK;
}

hg_status hg_read_u32(hg_reader *r, uint32_t *v) {
    uint64_t x;
    HG_TRY(read_le(r, &x, 4));
    *v = (uint32_t)x;
    return HG_OK;
}

hg_status hg_read_u64(hg_reader *r, uint64_t *v) {
    return read_le(r, v, 8);
}

hg_status hg_read_f64(hg_reader *r, double *v) {
    uint64_t x;
    HG_TRY(read_le(r, &x, 8));
    memcpy(v, &x, 8);
    return HG_OK;
}

void hg_writer_init(hg_writer *w, void *p, size_t cap) {
    w->p = p;
    w->cap = p ? cap : SIZE_MAX;
    w->pos = 0;
}

hg_status hg_write_bytes(hg_writer *w, const void *in, size_t n) {
    if (n > w->cap - w->pos)
        return hg_fail(HG_ERR_INVALID_ARG, "output buffer too small (%zu bytes, need more)",
                       w->cap);
    if (w->p && n)
        memcpy(w->p + w->pos, in, n);
    w->pos += n;
    return HG_OK;
}

static hg_status write_le(hg_writer *w, uint64_t v, int n) {
    uint8_t b[8];
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return hg_write_bytes(w, b, (size_t)n);
}

hg_status hg_write_u8(hg_writer *w, uint8_t v) {
    return write_le(w, v, 1);
}
hg_status hg_write_u16(hg_writer *w, uint16_t v) {
    return write_le(w, v, 2);
}
hg_status hg_write_u32(hg_writer *w, uint32_t v) {
    return write_le(w, v, 4);
}
hg_status hg_write_u64(hg_writer *w, uint64_t v) {
    return write_le(w, v, 8);
}
hg_status hg_write_f64(hg_writer *w, double v) {
    uint64_t x;
    memcpy(&x, &v, 8);
    return write_le(w, x, 8);
}
