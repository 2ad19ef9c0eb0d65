/*
 * Masked client activations (DESIGN.md, section 6).
 *
 * Before a request the server multiplies each value by a secret random positive factor and
 * shuffles the ciphertexts; after the answer it divides the factors out and undoes the order.
 * Relu and LeakyRelu commute with positive factors: f Relu(x) = Relu(f x). Clip(x, lo, hi) is
 * lo + Relu(x - lo) - Relu(x - hi), two Relu entries with independent factors (so the client
 * never sees a bound, which would reveal the factor). MaxPool windows become groups of
 * ciphertexts sharing one factor (a window cut by the padding repeats one of its elements, which
 * leaves its maximum unchanged); the client returns the maximum of each group.
 *
 * Both sides are linear maps with per-run coefficients: the request is M x with
 * M[p] = f_j e_{src_j} (and bias -f_j shift_j), the result is U a with U[k] summing
 * sign_a / f_a times the answers of coordinate k (and the constant lo for Clip). The planner
 * folds M into the linear layer that produces x and U into the linear layer that reads the
 * result when it can (then masking costs no level), and runs them as steps of their own when it
 * cannot. Factors are log-uniform in [1, 256]: the client knows the interval, so only its width
 * (8 bits) hides anything, and starting at 1 means unmasking divides the noise of a request and
 * of its answer instead of multiplying it.
 */
#include "he.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Factors are 2^(FACTOR_LOG2_WIDTH u), u uniform in [0, 1). */
#define FACTOR_LOG2_WIDTH 8.0

void he_mask_free(he_mask *k) {
    if (!k)
        return;
    hg_free(k->src);
    hg_free(k->copy);
    free(k);
}

hg_status he_mask_build(const hg_graph *g, size_t node, const hg_shape *in_shape,
                        const hg_shape *out_shape, he_mask **out) {
    *out = NULL;
    const hg_node *n = &g->nodes[node];
    he_mask *k = calloc(1, sizeof *k);
    if (!k)
        return hg_fail(HG_ERR_NOMEM, "out of memory");
    size_t coords = 1, outs = 1;
    for (int d = 1; d < in_shape->rank; d++)
        coords *= (size_t)in_shape->dims[d];
    for (int d = 1; d < out_shape->rank; d++)
        outs *= (size_t)out_shape->dims[d];
    k->n_coords = coords;
    k->n_out = outs;
    k->group = 1;
    hg_status s = HG_OK;
    switch (n->op) {
    case HG_OP_RELU:
    case HG_OP_LEAKYRELU:
        k->kind = HE_MASK_ELEM;
        k->op = n->op;
        k->alpha = n->op == HG_OP_LEAKYRELU ? n->attr.leaky_alpha : 0;
        k->n_req = coords;
        break;
    case HG_OP_RELU6:
    case HG_OP_CLIP:
        if (!isfinite(n->attr.clip.min) || !isfinite(n->attr.clip.max)) {
            s = hg_node_fail(HG_ERR_UNSUPPORTED, n, "a one-sided Clip is sent unmasked");
            break;
        }
        k->kind = HE_MASK_CLIP;
        k->op = HG_OP_RELU;
        k->lo = n->attr.clip.min;
        k->hi = n->attr.clip.max;
        k->n_req = 2 * coords;
        break;
    case HG_OP_MAXPOOL: {
        const hg_window_attr *w = &n->attr.window;
        size_t kk = 1;
        for (int d = 0; d < w->n_spatial; d++)
            kk *= (size_t)w->kernel[d];
        k->kind = HE_MASK_POOL;
        k->op = HG_OP_MAXPOOL;
        k->group = kk;
        k->n_req = outs * kk;
        break;
    }
    default:
        s = hg_node_fail(HG_ERR_UNSUPPORTED, n, "is sent unmasked");
    }
    if (s == HG_OK) {
        k->src = hg_alloc_array(k->n_req, sizeof *k->src);
        k->copy = hg_alloc_array(k->n_req, sizeof *k->copy);
        if (!k->src || !k->copy)
            s = HG_ERR_NOMEM;
    }
    for (size_t j = 0; s == HG_OK && j < k->n_req && k->kind != HE_MASK_POOL; j++) {
        k->src[j] = (uint32_t)(j % coords);
        k->copy[j] = (uint8_t)(j / coords);
    }
    if (s == HG_OK && k->kind == HE_MASK_POOL) {
        /* entry (window o, position e): the input coordinate under it */
        const hg_window_attr *w = &n->attr.window;
        const int ns = w->n_spatial;
        for (size_t o = 0; o < outs && s == HG_OK; o++) {
            int64_t oi[HG_MAX_SPATIAL];
            size_t rem = o;
            for (int d = ns - 1; d >= 0; d--) {
                oi[d] = (int64_t)(rem % (size_t)out_shape->dims[2 + d]);
                rem /= (size_t)out_shape->dims[2 + d];
            }
            size_t c = rem, got = 0;
            for (size_t e = 0; e < k->group; e++) {
                int64_t ki[HG_MAX_SPATIAL];
                size_t kr = e, col = c;
                for (int d = ns - 1; d >= 0; d--) {
                    ki[d] = (int64_t)(kr % (size_t)w->kernel[d]);
                    kr /= (size_t)w->kernel[d];
                }
                bool inside = true;
                for (int d = 0; d < ns; d++) {
                    int64_t pos = oi[d] * w->strides[d] - w->pads[d] + ki[d] * w->dilations[d];
                    inside &= pos >= 0 && pos < in_shape->dims[2 + d];
                    col = col * (size_t)in_shape->dims[2 + d] + (size_t)(pos < 0 ? 0 : pos);
                }
                if (inside)
                    k->src[o * k->group + got++] = (uint32_t)col;
            }
            if (got == 0)
                s = hg_node_fail(HG_ERR_UNSUPPORTED, n, "has a window entirely in the padding");
            for (size_t e = got; s == HG_OK && e < k->group; e++)
                k->src[o * k->group + e] = k->src[o * k->group]; /* a repeat keeps the max */
        }
    }
    k->n_ans = k->kind == HE_MASK_POOL ? outs : k->n_req;
    if (s != HG_OK) {
        he_mask_free(k);
        return s;
    }
    *out = k;
    return HG_OK;
}

/* Uniform in [0, n) from the stream, by rejection. */
static uint64_t uniform_below(hg_prng *r, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t v = hg_prng_u64(r);
        if (v < limit)
            return v % n;
    }
}

static void shuffle(hg_prng *r, uint32_t *v, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)uniform_below(r, i);
        uint32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

void he_draw_free(he_draw *d) {
    if (!d)
        return;
    hg_free_secret(d->factor, (d->n_factor ? d->n_factor : 1) * sizeof(double));
    hg_free_secret(d->order, (d->n_order ? d->n_order : 1) * sizeof(uint32_t));
    hg_free(d->req_start);
    hg_free(d->ans_start);
    memset(d, 0, sizeof *d);
}

/* Tile of a channel when the activation runs in tiles (channel ranges), 0 otherwise. */
static size_t channel_tile(const he_mask *k, size_t channel) {
    return k->n_tiles > 1 ? channel * k->n_tiles / k->channels : 0;
}

/* Tile of request entry j: that of the channel of its value (of its window, for MaxPool). */
static size_t entry_tile(const he_mask *k, size_t j) {
    if (k->n_tiles <= 1)
        return 0;
    if (k->kind == HE_MASK_POOL)
        return channel_tile(k, (j / k->group) / k->out_per_channel);
    return channel_tile(k, k->src[j] / k->in_per_channel);
}

hg_status he_mask_draw(const he_mask *k, he_draw *d) {
    memset(d, 0, sizeof *d);
    /* one factor per entry (per window for MaxPool); the order of the request's entries */
    const size_t tiles = k->n_tiles > 1 ? k->n_tiles : 1;
    d->n_factor = k->kind == HE_MASK_POOL ? k->n_out : k->n_req;
    d->n_order = k->n_req;
    d->n_tiles = tiles;
    d->factor = hg_alloc_array(d->n_factor ? d->n_factor : 1, sizeof(double));
    d->order = hg_alloc_array(d->n_order ? d->n_order : 1, sizeof(uint32_t));
    d->req_start = hg_alloc_array(tiles + 1, sizeof(size_t));
    d->ans_start = hg_alloc_array(tiles + 1, sizeof(size_t));
    /* units: the entries (the windows, for MaxPool), grouped by tile */
    const size_t units = k->kind == HE_MASK_POOL ? k->n_out : k->n_req;
    const size_t per = k->kind == HE_MASK_POOL ? k->group : 1;
    uint32_t *unit = hg_alloc_array(units ? units : 1, sizeof *unit);
    if (!d->factor || !d->order || !d->req_start || !d->ans_start || !unit) {
        hg_free(unit);
        he_draw_free(d);
        return HG_ERR_NOMEM;
    }
    hg_prng r;
    hg_prng_init_random(&r);
    for (size_t i = 0; i < d->n_factor; i++) {
        double u = (double)(hg_prng_u64(&r) >> 11) * 0x1p-53; /* [0, 1) */
        d->factor[i] = exp2(u * FACTOR_LOG2_WIDTH);
    }
    /* Counting sort of the units by tile, then a shuffle inside each tile: a tile's entries are
     * contiguous in the request, in an order the client cannot relate to their positions. */
    size_t *count = hg_alloc_array(tiles + 1, sizeof *count);
    if (!count) {
        hg_free(unit);
        hg_prng_clear(&r);
        he_draw_free(d);
        return HG_ERR_NOMEM;
    }
    for (size_t u = 0; u < units; u++)
        count[entry_tile(k, u * per) + 1]++;
    for (size_t t = 0; t < tiles; t++)
        count[t + 1] += count[t];
    for (size_t t = 0; t <= tiles; t++) {
        d->req_start[t] = count[t] * per;
        d->ans_start[t] = k->kind == HE_MASK_POOL ? count[t] : count[t] * per;
    }
    for (size_t u = 0; u < units; u++)
        unit[count[entry_tile(k, u * per)]++] = (uint32_t)u;
    for (size_t t = 0; t < tiles; t++) {
        size_t from = d->req_start[t] / per, n = d->req_start[t + 1] / per - from;
        shuffle(&r, unit + from, n);
    }
    for (size_t a = 0; a < units; a++) {
        uint32_t *g = d->order + a * per;
        for (size_t e = 0; e < per; e++)
            g[e] = (uint32_t)(unit[a] * per + e);
        if (per > 1)
            shuffle(&r, g, per); /* the entries inside a window */
    }
    hg_free_secret(unit, (units ? units : 1) * sizeof *unit);
    hg_free(count);
    hg_prng_clear(&r);
    return HG_OK;
}

/* The factor of request entry j, and the shift subtracted before it is multiplied. */
static double entry_factor(const he_mask *k, const he_draw *d, size_t j) {
    return k->kind == HE_MASK_POOL ? d->factor[j / k->group] : d->factor[j];
}

static double entry_shift(const he_mask *k, size_t j) {
    return k->kind == HE_MASK_CLIP ? (k->copy[j] ? k->hi : k->lo) : 0.0;
}

/* Answer a of the client: the output coordinate it belongs to and its coefficient. For
 * MaxPool the answers are the windows in their shuffled order. */
static void answer_coeff(const he_mask *k, const he_draw *d, size_t a, size_t *coord,
                         double *coeff) {
    if (k->kind == HE_MASK_POOL) {
        size_t w = d->order[a * k->group] / k->group;
        *coord = w;
        *coeff = 1.0 / d->factor[w];
        return;
    }
    size_t j = d->order[a];
    *coord = k->src[j];
    *coeff = (k->kind == HE_MASK_CLIP && k->copy[j] ? -1.0 : 1.0) / d->factor[j];
}

/* A linear map with room for nnz entries over n_rows rows. */
static he_linear *lin_alloc(size_t n_rows, size_t n_cols, size_t nnz, bool bias) {
    he_linear *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->n_rows = n_rows;
    l->n_cols = n_cols;
    l->scaled = true;
    l->row_ptr = hg_alloc_array(n_rows + 1, sizeof *l->row_ptr);
    l->col = malloc((nnz ? nnz : 1) * sizeof *l->col);
    l->a = malloc((nnz ? nnz : 1) * sizeof *l->a);
    if (bias)
        l->b = hg_alloc_array(n_rows ? n_rows : 1, sizeof *l->b);
    if (!l->row_ptr || !l->col || !l->a || (bias && !l->b)) {
        he_linear_free(l);
        return NULL;
    }
    return l;
}

hg_status he_mask_request_map(const he_mask *k, const he_draw *d, const he_linear *base,
                              he_linear **out) {
    *out = NULL;
    size_t nnz = 0;
    for (size_t p = 0; p < k->n_req; p++) {
        size_t j = d->order[p];
        nnz += base ? base->row_ptr[k->src[j] + 1] - base->row_ptr[k->src[j]] : 1;
    }
    if (nnz >= UINT32_MAX)
        return hg_fail(HG_ERR_LIMIT, "masked request of %zu weights is too large", nnz);
    he_linear *l = lin_alloc(k->n_req, base ? base->n_cols : k->n_coords, nnz, true);
    if (!l)
        return hg_fail(HG_ERR_NOMEM, "out of memory building a masked request");
    size_t at = 0;
    for (size_t p = 0; p < k->n_req; p++) {
        size_t j = d->order[p], src = k->src[j];
        double f = entry_factor(k, d, j), shift = entry_shift(k, j);
        if (base) {
            for (uint32_t e = base->row_ptr[src]; e < base->row_ptr[src + 1]; e++) {
                l->col[at] = base->col[e];
                l->a[at++] = f * base->a[e];
            }
            l->b[p] = f * ((base->b ? base->b[src] : 0.0) - shift);
        } else {
            l->col[at] = (uint32_t)src;
            l->a[at++] = f;
            l->b[p] = -f * shift;
        }
        l->row_ptr[p + 1] = (uint32_t)at;
    }
    l->wscale = base ? base->wscale : 0;
    *out = l;
    return HG_OK;
}

hg_status he_mask_result_map(const he_mask *k, const he_draw *d, const he_linear *base,
                             he_linear **out) {
    *out = NULL;
    const size_t n_out = k->kind == HE_MASK_POOL ? k->n_out : k->n_coords;
    /* answers of each output coordinate */
    uint32_t *start = hg_alloc_array(n_out + 1, sizeof *start);
    uint32_t *ans = hg_alloc_array(k->n_ans ? k->n_ans : 1, sizeof *ans);
    double *coef = hg_alloc_array(k->n_ans ? k->n_ans : 1, sizeof *coef);
    he_linear *l = NULL;
    hg_status s = start && ans && coef ? HG_OK : HG_ERR_NOMEM;
    if (s == HG_OK) {
        for (size_t a = 0; a < k->n_ans; a++) {
            size_t c;
            double v;
            answer_coeff(k, d, a, &c, &v);
            start[c + 1]++;
        }
        for (size_t c = 0; c < n_out; c++)
            start[c + 1] += start[c];
        uint32_t *fill = hg_alloc_array(n_out ? n_out : 1, sizeof *fill);
        if (!fill)
            s = HG_ERR_NOMEM;
        for (size_t a = 0; s == HG_OK && a < k->n_ans; a++) {
            size_t c;
            double v;
            answer_coeff(k, d, a, &c, &v);
            size_t at = start[c] + fill[c]++;
            ans[at] = (uint32_t)a;
            coef[at] = v;
        }
        hg_free(fill);
    }
    /* Clip: lo + Relu(x - lo) - Relu(x - hi); the constant goes to the bias. */
    const double lo = k->kind == HE_MASK_CLIP ? k->lo : 0.0;
    if (s == HG_OK && !base) {
        l = lin_alloc(n_out, k->n_ans, k->n_ans, lo != 0.0);
        if (!l)
            s = HG_ERR_NOMEM;
        for (size_t c = 0; s == HG_OK && c < n_out; c++) {
            for (uint32_t e = start[c]; e < start[c + 1]; e++) {
                l->col[e] = ans[e];
                l->a[e] = coef[e];
            }
            l->row_ptr[c + 1] = start[c + 1];
            if (l->b)
                l->b[c] = lo;
        }
    } else if (s == HG_OK) {
        size_t nnz = 0;
        for (size_t r = 0; r < base->n_rows; r++)
            for (uint32_t e = base->row_ptr[r]; e < base->row_ptr[r + 1]; e++)
                nnz += start[base->col[e] + 1] - start[base->col[e]];
        if (nnz >= UINT32_MAX)
            s = hg_fail(HG_ERR_LIMIT, "unmasked layer of %zu weights is too large", nnz);
        if (s == HG_OK && !(l = lin_alloc(base->n_rows, k->n_ans, nnz, base->b || lo != 0.0)))
            s = HG_ERR_NOMEM;
        size_t at = 0;
        for (size_t r = 0; s == HG_OK && r < base->n_rows; r++) {
            double bias = base->b ? base->b[r] : 0.0;
            for (uint32_t e = base->row_ptr[r]; e < base->row_ptr[r + 1]; e++) {
                size_t c = base->col[e];
                for (uint32_t x = start[c]; x < start[c + 1]; x++) {
                    l->col[at] = ans[x];
                    l->a[at++] = base->a[e] * coef[x];
                }
                bias += base->a[e] * lo;
            }
            l->row_ptr[r + 1] = (uint32_t)at;
            if (l->b)
                l->b[r] = bias;
        }
        if (l)
            l->wscale = base->wscale;
    }
    hg_free_secret(ans, (k->n_ans ? k->n_ans : 1) * sizeof *ans);
    hg_free_secret(coef, (k->n_ans ? k->n_ans : 1) * sizeof *coef);
    hg_free(start);
    if (s != HG_OK) {
        he_linear_free(l);
        return s;
    }
    *out = l;
    return HG_OK;
}

hg_status he_linear_slice(const he_linear *l, size_t r0, size_t r1, size_t c0, size_t c1,
                          bool bias, he_linear **out) {
    *out = NULL;
    size_t nnz = 0;
    for (size_t r = r0; r < r1; r++)
        for (uint32_t e = l->row_ptr[r]; e < l->row_ptr[r + 1]; e++)
            nnz += l->col[e] >= c0 && l->col[e] < c1;
    he_linear *s = lin_alloc(r1 - r0, c1 - c0, nnz, bias && l->b);
    if (!s)
        return hg_fail(HG_ERR_NOMEM, "out of memory slicing a linear layer");
    size_t at = 0;
    for (size_t r = r0; r < r1; r++) {
        for (uint32_t e = l->row_ptr[r]; e < l->row_ptr[r + 1]; e++)
            if (l->col[e] >= c0 && l->col[e] < c1) {
                s->col[at] = (uint32_t)(l->col[e] - c0);
                s->a[at++] = l->a[e];
            }
        s->row_ptr[r - r0 + 1] = (uint32_t)at;
        if (s->b)
            s->b[r - r0] = l->b[r];
    }
    s->scaled = l->scaled;
    s->wscale = l->wscale;
    *out = s;
    return HG_OK;
}
