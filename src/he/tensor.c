/* Cipher tensors: allocation, state, views as ckks ciphertexts. */
#include "he.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

size_t he_stride(const hg_ckks_ctx *ctx, int level, int size) {
    /* One cache line more than a ciphertext needs: with a power-of-two stride the same lane of
     * every ciphertext would fall in the same cache set, and the linear engine, which reads
     * that lane of hundreds of ciphertexts in turn, would thrash. */
    return (size_t)size * (size_t)(level + 1) * ctx->n + 8;
}

static size_t count_of(const hg_shape *s) {
    size_t c = 1;
    for (int d = 1; d < s->rank; d++)
        c *= (size_t)s->dims[d];
    return c;
}

static hg_status tensor_new(he_pool *pool, const hg_ckks_ctx *ctx, const hg_shape *shape,
                            int level, int size, double scale, bool complex_packing, bool zero,
                            hg_he_tensor **out) {
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
    t->stride = he_stride(ctx, level, size);
    size_t words, count = t->count;
    if (!hg_mul_size(count, t->stride, &words)) {
        free(t);
        return hg_fail(HG_ERR_NOMEM, "a tensor of %zu ciphertexts is too large", count);
    }
    if (pool) {
        t->data = he_pool_get(pool, words ? words : 1, &t->cap);
        t->pool = pool;
        if (t->data && zero)
            memset(t->data, 0, words * sizeof(uint64_t));
    } else {
        t->data = hg_alloc_array(words ? words : 1, sizeof(uint64_t));
        t->cap = words;
    }
    if (!t->data) {
        free(t);
        return hg_fail(HG_ERR_NOMEM, "out of memory for %zu ciphertexts (%zu MB)", count,
                       words * 8 >> 20);
    }
    *out = t;
    return HG_OK;
}

hg_status hg_he_tensor_new(const hg_ckks_ctx *ctx, const hg_shape *shape, int level, int size,
                           double scale, bool complex_packing, hg_he_tensor **out) {
    return tensor_new(NULL, ctx, shape, level, size, scale, complex_packing, true, out);
}

hg_status hg_he_tensor_new_pooled(he_pool *pool, const hg_ckks_ctx *ctx, const hg_shape *shape,
                                  int level, int size, double scale, bool complex_packing,
                                  hg_he_tensor **out) {
    return tensor_new(pool, ctx, shape, level, size, scale, complex_packing, false, out);
}

struct he_pool {
    pthread_mutex_t mu;
    struct {
        uint64_t *p;
        size_t cap;
    } *free;
    size_t n, cap;
    size_t cached_words, limit_words; /* buffers kept for reuse stay under the limit */
};

void he_pool_set_limit(he_pool *p, size_t bytes) {
    pthread_mutex_lock(&p->mu);
    p->limit_words = bytes / sizeof(uint64_t);
    pthread_mutex_unlock(&p->mu);
}

hg_status he_pool_new(he_pool **out) {
    *out = calloc(1, sizeof **out);
    if (!*out)
        return hg_fail(HG_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&(*out)->mu, NULL);
    return HG_OK;
}

void he_pool_free(he_pool *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        hg_free(p->free[i].p);
    free(p->free);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

uint64_t *he_pool_get(he_pool *p, size_t words, size_t *cap) {
    pthread_mutex_lock(&p->mu);
    /* The smallest cached buffer that fits, if it wastes less than a third. */
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < p->n; i++)
        if (p->free[i].cap >= words && p->free[i].cap / 3 * 2 <= words &&
            (best == SIZE_MAX || p->free[i].cap < p->free[best].cap))
            best = i;
    uint64_t *buf = NULL;
    if (best != SIZE_MAX) {
        buf = p->free[best].p;
        *cap = p->free[best].cap;
        p->cached_words -= *cap;
        p->free[best] = p->free[--p->n];
    }
    pthread_mutex_unlock(&p->mu);
    if (!buf) {
        size_t bytes;
        if (!hg_mul_size(words, sizeof(uint64_t), &bytes)) {
            hg_fail(HG_ERR_NOMEM, "allocation of %zu words overflows", words);
            return NULL;
        }
        buf = hg_alloc_large(bytes);
        *cap = words;
    }
    return buf;
}

void he_pool_put(he_pool *p, uint64_t *buf, size_t cap) {
    pthread_mutex_lock(&p->mu);
    /* Beyond the limit (the plan's peak) a buffer is returned to the system: buffers of
     * sizes that never come back (the last tile of a region) must not pile up. */
    if (p->limit_words && p->cached_words + cap > p->limit_words) {
        pthread_mutex_unlock(&p->mu);
        hg_free(buf);
        return;
    }
    if (p->n == p->cap) {
        size_t c = p->cap ? 2 * p->cap : 16;
        void *f = realloc(p->free, c * sizeof *p->free);
        if (!f) {
            pthread_mutex_unlock(&p->mu);
            hg_free(buf);
            return;
        }
        p->free = f;
        p->cap = c;
    }
    p->free[p->n].p = buf;
    p->free[p->n].cap = cap;
    p->n++;
    p->cached_words += cap;
    pthread_mutex_unlock(&p->mu);
}

void hg_he_tensor_free(hg_he_tensor *t) {
    if (!t)
        return;
    if (t->pool)
        he_pool_put(t->pool, t->data, t->cap);
    else
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
