/*
 * Serialization of what crosses the network in client-aided inference: cipher tensors and
 * activation requests. Both start with a header (magic, version, type, payload length); every
 * field read is checked, and nothing is allocated before the bytes present justify it.
 */
#include "he.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "HGRT"
#define VERSION 1
enum { T_TENSOR = 1, T_ACTIVATION = 2 };

static hg_status write_header(hg_writer *w, int type, size_t payload) {
    HG_TRY(hg_write_bytes(w, MAGIC, 4));
    HG_TRY(hg_write_u16(w, VERSION));
    HG_TRY(hg_write_u16(w, (uint16_t)type));
    return hg_write_u64(w, payload);
}

static hg_status read_header(hg_reader *r, int type, const char *what) {
    uint8_t magic[4];
    uint16_t version, t;
    uint64_t len;
    HG_TRY(hg_read_bytes(r, magic, 4));
    if (memcmp(magic, MAGIC, 4))
        return hg_fail(HG_ERR_FORMAT, "%s: bad magic", what);
    HG_TRY(hg_read_u16(r, &version));
    HG_TRY(hg_read_u16(r, &t));
    HG_TRY(hg_read_u64(r, &len));
    if (version != VERSION)
        return hg_fail(HG_ERR_FORMAT, "%s: unsupported version %u", what, version);
    if (t != type)
        return hg_fail(HG_ERR_FORMAT, "%s: wrong object type %u", what, t);
    if (len != hg_reader_left(r))
        return hg_fail(HG_ERR_FORMAT, "%s: payload length %llu, %zu bytes given", what,
                       (unsigned long long)len, hg_reader_left(r));
    return HG_OK;
}

static hg_status write_shape(hg_writer *w, const hg_shape *s) {
    HG_TRY(hg_write_u32(w, (uint32_t)s->rank));
    for (int d = 0; d < s->rank; d++)
        HG_TRY(hg_write_u64(w, (uint64_t)s->dims[d]));
    return HG_OK;
}

/* A shape with rank 1..8, positive dims and at most HG_MAX_ELEMENTS elements. */
static hg_status read_shape(hg_reader *r, hg_shape *s, const char *what) {
    uint32_t rank;
    HG_TRY(hg_read_u32(r, &rank));
    if (rank < 1 || rank > HG_MAX_RANK)
        return hg_fail(HG_ERR_FORMAT, "%s: rank %u", what, rank);
    memset(s, 0, sizeof *s);
    s->rank = (int)rank;
    uint64_t total = 1;
    for (int d = 0; d < s->rank; d++) {
        uint64_t v;
        HG_TRY(hg_read_u64(r, &v));
        if (v < 1 || v > (uint64_t)HG_MAX_ELEMENTS)
            return hg_fail(HG_ERR_FORMAT, "%s: dimension %d is %llu", what, d,
                           (unsigned long long)v);
        total *= v;
        if (total > (uint64_t)HG_MAX_ELEMENTS)
            return hg_fail(HG_ERR_FORMAT, "%s: more than %lld elements", what,
                           (long long)HG_MAX_ELEMENTS);
        s->dims[d] = (int64_t)v;
    }
    return HG_OK;
}

/* ---- tensors ------------------------------------------------------------------------------ */

static size_t tensor_meta_bytes(const hg_he_tensor *t) {
    return 4 + 8 * (size_t)t->shape.rank + 4 + 1 + 1 + 2 + 8;
}

size_t hg_he_tensor_size_bytes(const hg_he_tensor *t) {
    size_t b = 16 + tensor_meta_bytes(t);
    for (size_t k = 0; k < t->count; k++) {
        hg_ckks_ct v;
        hg_he_ct_view(t, k, &v);
        b += 4 + hg_ckks_ct_size_bytes(&v);
    }
    return b;
}

hg_status hg_he_tensor_write(const hg_he_tensor *t, void *buf, size_t cap, size_t *written) {
    hg_writer w;
    hg_writer_init(&w, buf, cap);
    size_t total = hg_he_tensor_size_bytes(t);
    HG_TRY(write_header(&w, T_TENSOR, total - 16));
    HG_TRY(write_shape(&w, &t->shape));
    HG_TRY(hg_write_u32(&w, (uint32_t)t->level));
    HG_TRY(hg_write_u8(&w, (uint8_t)t->size));
    HG_TRY(hg_write_u8(&w, t->complex_packing ? 1 : 0));
    HG_TRY(hg_write_u16(&w, 0));
    HG_TRY(hg_write_f64(&w, t->scale));
    for (size_t k = 0; k < t->count; k++) {
        hg_ckks_ct v;
        hg_he_ct_view(t, k, &v);
        size_t n = hg_ckks_ct_size_bytes(&v), got;
        HG_TRY(hg_write_u32(&w, (uint32_t)n));
        if (n > w.cap - w.pos)
            return hg_fail(HG_ERR_INVALID_ARG, "%s: buffer too small", __func__);
        HG_TRY(hg_ckks_ct_write(&v, w.p ? w.p + w.pos : NULL, n, &got));
        w.pos += got;
    }
    *written = w.pos;
    return HG_OK;
}

hg_status hg_he_tensor_read(const hg_ckks_ctx *ctx, const void *buf, size_t len,
                            size_t max_count, hg_he_tensor **out) {
    *out = NULL;
    hg_reader r;
    hg_reader_init(&r, buf, len, "cipher tensor");
    HG_TRY(read_header(&r, T_TENSOR, "cipher tensor"));
    hg_shape shape;
    HG_TRY(read_shape(&r, &shape, "cipher tensor"));
    uint32_t level;
    uint8_t size, complex_packing;
    uint16_t reserved;
    double scale;
    HG_TRY(hg_read_u32(&r, &level));
    HG_TRY(hg_read_u8(&r, &size));
    HG_TRY(hg_read_u8(&r, &complex_packing));
    HG_TRY(hg_read_u16(&r, &reserved));
    HG_TRY(hg_read_f64(&r, &scale));
    size_t count = 1;
    for (int d = 1; d < shape.rank; d++)
        count *= (size_t)shape.dims[d];
    if (level >= (uint32_t)ctx->L || (size != 2 && size != 3) || complex_packing > 1 ||
        reserved || !isfinite(scale) || !(scale > 0))
        return hg_fail(HG_ERR_FORMAT, "cipher tensor: level %u, %u components, scale %g", level,
                       size, scale);
    if (max_count && count > max_count)
        return hg_fail(HG_ERR_LIMIT, "cipher tensor: %zu ciphertexts, the limit is %zu", count,
                       max_count);
    size_t slots = complex_packing ? ctx->n : ctx->n / 2;
    if ((size_t)shape.dims[0] > slots)
        return hg_fail(HG_ERR_FORMAT, "cipher tensor: a batch of %lld does not fit %zu slots",
                       (long long)shape.dims[0], slots);
    /* Each ciphertext takes at least its c0 limbs: a count the bytes cannot hold is refused
     * before anything is allocated. */
    size_t min_ct = 0;
    for (uint32_t i = 0; i <= level; i++)
        min_ct += (ctx->n * (size_t)ctx->prime[i].mod.bits + 7) / 8;
    if (count > hg_reader_left(&r) / (min_ct + 4))
        return hg_fail(HG_ERR_FORMAT, "cipher tensor: %zu ciphertexts announced, %zu bytes "
                       "present", count, hg_reader_left(&r));
    hg_he_tensor *t;
    HG_TRY(hg_he_tensor_new(ctx, &shape, (int)level, size, scale, complex_packing, &t));
    /* Each ciphertext is read into a ciphertext of its own, then copied into the tensor once
     * its state is checked: read into a view of the tensor, a ciphertext that announces more
     * components or limbs than the tensor would make the reader grow (free) the view. */
    hg_ckks_ct *ct = NULL;
    hg_status s = hg_ckks_ct_new(ctx, &ct);
    const size_t words = (size_t)size * (level + 1) * ctx->n;
    for (size_t k = 0; k < count && s == HG_OK; k++) {
        uint32_t n;
        const uint8_t *p;
        s = hg_read_u32(&r, &n);
        if (s == HG_OK)
            s = hg_read_view(&r, &p, n);
        if (s == HG_OK)
            s = hg_ckks_ct_read(ctx, p, n, ct);
        if (s == HG_OK && (ct->level != (int)level || ct->size != size ||
                           fabs(ct->scale - scale) > HG_CKKS_SCALE_TOL * scale))
            s = hg_fail(HG_ERR_FORMAT, "cipher tensor: ciphertext %zu has another state", k);
        if (s == HG_OK)
            memcpy(hg_he_ct_data(t, k), ct->data, words * sizeof(uint64_t));
    }
    hg_ckks_ct_free(ct);
    if (s == HG_OK && hg_reader_left(&r))
        s = hg_fail(HG_ERR_FORMAT, "cipher tensor: %zu trailing bytes", hg_reader_left(&r));
    if (s != HG_OK) {
        hg_he_tensor_free(t);
        return s;
    }
    *out = t;
    return HG_OK;
}

hg_status hg_he_tensor_new_empty(const hg_ckks_ctx *ctx, const hg_shape *shape, int level,
                                 int size, double scale, bool complex_packing,
                                 hg_he_tensor **out) {
    return hg_he_tensor_new(ctx, shape, level, size, scale, complex_packing, out);
}

hg_status hg_he_tensor_slice(const hg_he_tensor *t, size_t from, size_t n, hg_he_tensor **out) {
    *out = NULL;
    if (from > t->count || n > t->count - from || n == 0)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: ciphertexts [%zu, %zu) of %zu", __func__, from,
                       from + n, t->count);
    hg_shape shape = {.rank = 2, .dims = {t->shape.dims[0], (int64_t)n}};
    hg_he_tensor *s;
    HG_TRY(hg_he_tensor_new(t->ctx, &shape, t->level, t->size, t->scale, t->complex_packing, &s));
    const size_t used = (size_t)t->size * (size_t)(t->level + 1) * t->ctx->n;
    for (size_t k = 0; k < n; k++)
        memcpy(hg_he_ct_data(s, k), hg_he_ct_data(t, from + k), used * sizeof(uint64_t));
    if (t->seeds) {
        s->seeds = hg_alloc_array(n, HG_SEED_BYTES);
        if (s->seeds)
            memcpy(s->seeds, t->seeds + from * HG_SEED_BYTES, n * HG_SEED_BYTES);
    }
    *out = s;
    return HG_OK;
}

hg_status hg_he_tensor_paste(hg_he_tensor *t, size_t from, const hg_he_tensor *part) {
    if (part->ctx != t->ctx || part->level != t->level || part->size != t->size ||
        part->complex_packing != t->complex_packing ||
        fabs(part->scale - t->scale) > HG_CKKS_SCALE_TOL * t->scale ||
        part->shape.dims[0] != t->shape.dims[0] || from > t->count ||
        part->count > t->count - from)
        return hg_fail(HG_ERR_PROTOCOL, "%s: a piece of %zu ciphertexts does not fit at %zu",
                       __func__, part->count, from);
    const size_t used = (size_t)t->size * (size_t)(t->level + 1) * t->ctx->n;
    for (size_t k = 0; k < part->count; k++)
        memcpy(hg_he_ct_data(t, from + k), hg_he_ct_data(part, k), used * sizeof(uint64_t));
    hg_free(t->seeds);
    t->seeds = NULL;
    return HG_OK;
}

bool hg_he_tensor_complex(const hg_he_tensor *t) {
    return t->complex_packing;
}

int hg_he_tensor_components(const hg_he_tensor *t) {
    return t->size;
}

/* ---- activation requests ----------------------------------------------------------------- */

/* Fixed size: header, op, flags, group, two shapes at full rank, attributes. */
size_t hg_he_activation_size(void) {
    return 16 + 4 + 4 + 4 + 2 * (4 + 8 * HG_MAX_RANK) + 8 * 4 + 4 + 8 * (3 + 3 + 6 + 3);
}

static hg_status write_full_shape(hg_writer *w, const hg_shape *s) {
    HG_TRY(hg_write_u32(w, (uint32_t)s->rank));
    for (int d = 0; d < HG_MAX_RANK; d++)
        HG_TRY(hg_write_u64(w, d < s->rank ? (uint64_t)s->dims[d] : 0));
    return HG_OK;
}

static hg_status read_full_shape(hg_reader *r, hg_shape *s) {
    uint32_t rank;
    HG_TRY(hg_read_u32(r, &rank));
    if (rank < 1 || rank > HG_MAX_RANK)
        return hg_fail(HG_ERR_FORMAT, "activation request: rank %u", rank);
    memset(s, 0, sizeof *s);
    s->rank = (int)rank;
    uint64_t total = 1;
    for (int d = 0; d < HG_MAX_RANK; d++) {
        uint64_t v;
        HG_TRY(hg_read_u64(r, &v));
        if (d < s->rank && (v < 1 || v > (uint64_t)HG_MAX_ELEMENTS))
            return hg_fail(HG_ERR_FORMAT, "activation request: dimension %d is %llu", d,
                           (unsigned long long)v);
        if (d < s->rank) {
            /* Below 2^28 before each product: no overflow, and counts stay meaningful. */
            total *= v;
            if (total > (uint64_t)HG_MAX_ELEMENTS)
                return hg_fail(HG_ERR_FORMAT, "activation request: more than %lld elements",
                               (long long)HG_MAX_ELEMENTS);
            s->dims[d] = (int64_t)v;
        }
    }
    return HG_OK;
}

hg_status hg_he_activation_write(const hg_he_activation *a, void *buf, size_t cap,
                                 size_t *written) {
    hg_writer w;
    hg_writer_init(&w, buf, cap);
    HG_TRY(write_header(&w, T_ACTIVATION, hg_he_activation_size() - 16));
    HG_TRY(hg_write_u32(&w, (uint32_t)a->op));
    HG_TRY(hg_write_u32(&w, (a->masked ? 1u : 0u) | (a->legacy ? 2u : 0u) |
                                (a->ceil_mode ? 4u : 0u)));
    HG_TRY(hg_write_u32(&w, a->group));
    HG_TRY(write_full_shape(&w, &a->in_shape));
    HG_TRY(write_full_shape(&w, &a->out_shape));
    HG_TRY(hg_write_f64(&w, a->alpha));
    HG_TRY(hg_write_f64(&w, a->clip_min));
    HG_TRY(hg_write_f64(&w, a->clip_max));
    HG_TRY(hg_write_u64(&w, (uint64_t)a->axis));
    HG_TRY(hg_write_u32(&w, (uint32_t)a->n_spatial));
    for (int i = 0; i < 3; i++)
        HG_TRY(hg_write_u64(&w, (uint64_t)a->kernel[i]));
    for (int i = 0; i < 3; i++)
        HG_TRY(hg_write_u64(&w, (uint64_t)a->strides[i]));
    for (int i = 0; i < 6; i++)
        HG_TRY(hg_write_u64(&w, (uint64_t)a->pads[i]));
    for (int i = 0; i < 3; i++)
        HG_TRY(hg_write_u64(&w, (uint64_t)a->dilations[i]));
    *written = w.pos;
    return HG_OK;
}

hg_status hg_he_activation_read(const void *buf, size_t len, hg_he_activation *a) {
    memset(a, 0, sizeof *a);
    hg_reader r;
    hg_reader_init(&r, buf, len, "activation request");
    HG_TRY(read_header(&r, T_ACTIVATION, "activation request"));
    uint32_t op, flags, n_spatial;
    uint64_t v;
    HG_TRY(hg_read_u32(&r, &op));
    HG_TRY(hg_read_u32(&r, &flags));
    HG_TRY(hg_read_u32(&r, &a->group));
    if (op >= HG_OP_COUNT || flags > 7)
        return hg_fail(HG_ERR_FORMAT, "activation request: op %u, flags %u", op, flags);
    a->op = (hg_op)op;
    a->masked = flags & 1;
    a->legacy = flags & 2;
    a->ceil_mode = flags & 4;
    HG_TRY(read_full_shape(&r, &a->in_shape));
    HG_TRY(read_full_shape(&r, &a->out_shape));
    HG_TRY(hg_read_f64(&r, &a->alpha));
    HG_TRY(hg_read_f64(&r, &a->clip_min));
    HG_TRY(hg_read_f64(&r, &a->clip_max));
    HG_TRY(hg_read_u64(&r, &v));
    a->axis = (int64_t)v;
    HG_TRY(hg_read_u32(&r, &n_spatial));
    if (n_spatial > 3 || !isfinite(a->alpha) || isnan(a->clip_min) || isnan(a->clip_max) ||
        a->axis < -HG_MAX_RANK || a->axis > HG_MAX_RANK)
        return hg_fail(HG_ERR_FORMAT, "activation request: bad attributes");
    a->n_spatial = (int)n_spatial;
    int64_t *fields[4] = {a->kernel, a->strides, a->pads, a->dilations};
    const int counts[4] = {3, 3, 6, 3};
    for (int f = 0; f < 4; f++)
        for (int i = 0; i < counts[f]; i++) {
            HG_TRY(hg_read_u64(&r, &v));
            if (v > (1u << 20))
                return hg_fail(HG_ERR_FORMAT, "activation request: window field %llu",
                               (unsigned long long)v);
            fields[f][i] = (int64_t)v;
        }
    return HG_OK;
}
