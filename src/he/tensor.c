/* Cipher tensors: allocation, state, views as ckks ciphertexts. */
#include "he.h"

#include <stdlib.h>
#include <string.h>

static size_t count_of(const hg_shape *s) {
    size_t c = 1;
    for (int d = 1; d < s->rank; d++)
        c *= (size_t)s->dims[d];
    return c;
}

hg_status hg_he_tensor_new(const hg_ckks_ctx *ctx, const hg_shape *shape, int level, int size,
                           double scale, bool complex_packing, hg_he_tensor **out) {
    *out = NULL;
    if (shape->rank < 1 || level < 0 || level >= ctx->L || size < 2 || size > 3)
        return hg_fail(HG_ERR_INTERNAL, "%s: bad tensor state (rank %d, level %d, size %d)",
                       __func__, shape->rank, level, size);
    hg_he_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return hg_fail(HG_ERR_NOMEM, "out of memory");
    t->ctx = ctx;
    t->shape = *shape;
    t->count = count_of(shape);
    t->level = level;
    t->size = size;
    t->scale = scale;
    t->complex_packing = complex_packing;
    t->stride = (size_t)size * (size_t)(level + 1) * ctx->n;
    size_t words, count = t->count;
    if (!hg_mul_size(count, t->stride, &words)) {
        free(t);
        return hg_fail(HG_ERR_NOMEM, "a tensor of %zu ciphertexts is too large", count);
    }
    t->data = hg_alloc_array(words ? words : 1, sizeof(uint64_t));
    if (!t->data) {
        free(t);
        return hg_fail(HG_ERR_NOMEM, "out of memory for %zu ciphertexts (%zu MB)", count,
                       words * 8 >> 20);
    }
    t->cap = words;
    *out = t;
    return HG_OK;
}

void hg_he_tensor_free(hg_he_tensor *t) {
    if (!t)
        return;
    hg_free(t->data);
    hg_free(t->seeds);
    free(t);
}

size_t hg_he_tensor_words(const hg_he_tensor *t) {
    return t->cap;
}

void hg_he_ct_view(const hg_he_tensor *t, size_t k, hg_ckks_ct *view) {
    memset(view, 0, sizeof *view);
    view->ctx = t->ctx;
    view->level = t->level;
    view->size = t->size;
    view->scale = t->scale;
    view->data = t->data + k * t->stride;
    view->cap = t->stride;
    if (t->seeds) {
        view->seeded = true;
        memcpy(view->seed, t->seeds + k * HG_SEED_BYTES, HG_SEED_BYTES);
    }
}

size_t hg_he_tensor_count(const hg_he_tensor *t) {
    return t->count;
}

void hg_he_tensor_shape(const hg_he_tensor *t, hg_shape *shape) {
    *shape = t->shape;
}

int hg_he_tensor_level(const hg_he_tensor *t) {
    return t->level;
}

double hg_he_tensor_scale(const hg_he_tensor *t) {
    return t->scale;
}

size_t hg_he_tensor_bytes(const hg_he_tensor *t) {
    if (t->count == 0)
        return 0;
    hg_ckks_ct v;
    hg_he_ct_view(t, 0, &v);
    return t->count * hg_ckks_ct_size_bytes(&v);
}
