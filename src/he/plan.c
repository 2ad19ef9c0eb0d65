/*
 * The planner: compiles an optimized graph into a program of steps for the encrypted backend,
 * deciding where to rescale, relinearize and drop levels, with every tensor's level, scale and
 * component count known in advance. Weights are encoded here, at the level and scale of the
 * ciphertexts they will meet (depth-aware encoding).
 *
 * Rules, with every optimization on:
 *   - a product (a linear layer with weights, a ciphertext product) leaves its output
 *     "pending": at scale s * w, not rescaled; the rescale happens once per output ciphertext,
 *     only when a later product needs the scale back down (lazy rescaling);
 *   - weights are encoded at scale q_l, the prime the rescale will divide by, so that the scale
 *     after it is exactly the input's: tensors keep the default scale through linear layers;
 *   - a ciphertext product leaves three components; relinearization happens only before
 *     another product or a rotation needs two (lazy relinearization), which puts it on the
 *     smaller tensor when a linear layer shrinks the width in between;
 *   - nothing is rescaled or relinearized before a client activation or the graph outputs: the
 *     client decrypts any scale and three components; inputs of a client activation are dropped
 *     to the lowest level that holds their scale, when the activation is their last use.
 */
#include "he.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bits of integer range kept above the scale when choosing the lowest level for a client
 * activation: values up to 2^HEADROOM_BITS in magnitude decrypt correctly. */
#define HEADROOM_BITS 8
/* The least integer range a client activation is planned with: values up to 2^MIN_HEADROOM_BITS
 * (after masking) in magnitude; below it the plan fails instead of decrypting garbage. */
#define MIN_HEADROOM_BITS 4
/* The least scale, in bits, that weights feeding only a request are lowered to (fit_request). */
#define MIN_REQUEST_WEIGHT_BITS 20

typedef struct planner {
    hg_he_model *m;
    const hg_graph *g;
    const hg_ckks_ctx *ctx;
    int *slot_of;   /* per value: slot holding it, -1 if plaintext */
    he_state *cur;  /* per slot: current state */
    int top;
    int *writer;    /* per slot: the step that wrote it, -1 for inputs */
    int *unmask_of; /* per slot: the step that unmasked it (a client answer), or -1 */
} planner;

static hg_status grow(void **arr, size_t *cap, size_t need, size_t elt) {
    if (need <= *cap)
        return HG_OK;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * elt);
    if (!p)
        return hg_fail(HG_ERR_NOMEM, "out of memory planning the model");
    memset((char *)p + *cap * elt, 0, (c - *cap) * elt);
    *arr = p;
    *cap = c;
    return HG_OK;
}

static hg_status emit(planner *p, const he_step *s) {
    hg_he_model *m = p->m;
    HG_TRY(grow((void **)&m->steps, &m->cap_steps, m->n_steps + 1, sizeof *m->steps));
    m->steps[m->n_steps] = *s;
    /* Steps are written with designated initializers: the mask fields of the kinds that do not
     * use them are set here (0 would name the first mask). */
    if (s->kind != HE_STEP_LINEAR)
        m->steps[m->n_steps].mask_in = m->steps[m->n_steps].mask_out = -1;
    if (s->kind != HE_STEP_CLIENT)
        m->steps[m->n_steps].mask = -1;
    if (s->kind == HE_STEP_LINEAR || s->kind == HE_STEP_ADD || s->kind == HE_STEP_MUL ||
        s->kind == HE_STEP_GATHER || s->kind == HE_STEP_CLIENT)
        p->writer[s->out] = (int)m->n_steps;
    m->n_steps++;
    return HG_OK;
}

static hg_status new_slot(planner *p, const hg_shape *shape, int64_t value, he_state st,
                          int *slot) {
    hg_he_model *m = p->m;
    HG_TRY(grow((void **)&m->slots, &m->cap_slots, m->n_slots + 1, sizeof *m->slots));
    he_state *cur = realloc(p->cur, (m->n_slots + 1) * sizeof *cur);
    if (cur)
        p->cur = cur;
    int *wr = cur ? realloc(p->writer, (m->n_slots + 1) * sizeof *wr) : NULL;
    if (wr)
        p->writer = wr;
    int *um = wr ? realloc(p->unmask_of, (m->n_slots + 1) * sizeof *um) : NULL;
    if (!um)
        return hg_fail(HG_ERR_NOMEM, "out of memory planning the model");
    p->unmask_of = um;
    p->writer[m->n_slots] = -1;
    p->unmask_of[m->n_slots] = -1;
    he_slot *s = &m->slots[m->n_slots];
    s->shape = *shape;
    size_t count = 1;
    for (int d = 1; d < shape->rank; d++)
        count *= (size_t)shape->dims[d];
    s->count = count;
    s->value = value;
    p->cur[m->n_slots] = st;
    *slot = (int)m->n_slots++;
    return HG_OK;
}

static double prime(const planner *p, int i) {
    return (double)p->ctx->prime[i].mod.q;
}

static double log2_modulus(const planner *p, int level) {
    double b = 0;
    for (int i = 0; i <= level; i++)
        b += log2(prime(p, i));
    return b;
}

static const char *node_name(const planner *p, int64_t node) {
    return node >= 0 ? p->g->nodes[node].name : "(input)";
}

/* Brings a pending slot back to its base scale with a rescale. */
static hg_status unpend(planner *p, int slot, int64_t node) {
    he_state *st = &p->cur[slot];
    if (!st->pending)
        return HG_OK;
    if (st->level < 1)
        return hg_fail(HG_ERR_LEVEL,
                       "%s node '%s': the depth is exhausted (a rescale is needed at level 0); "
                       "the parameters need more primes in the chain",
                       hg_op_get_info(p->g->nodes[node].op)->name, node_name(p, node));
    st->scale /= prime(p, st->level);
    st->level--;
    st->pending = false;
    he_step s = {.kind = HE_STEP_RESCALE, .node = node, .n_in = 1, .in = {slot}, .after = *st};
    p->m->stats.rescales += p->m->slots[slot].count;
    return emit(p, &s);
}

static hg_status relin(planner *p, int slot, int64_t node) {
    he_state *st = &p->cur[slot];
    if (st->size == 2)
        return HG_OK;
    st->size = 2;
    p->m->needs_relin = true;
    p->m->stats.relins += p->m->slots[slot].count;
    he_step s = {.kind = HE_STEP_RELIN, .node = node, .n_in = 1, .in = {slot}, .after = *st};
    return emit(p, &s);
}

static hg_status drop_to(planner *p, int slot, int level, int64_t node) {
    he_state *st = &p->cur[slot];
    if (st->level == level)
        return HG_OK;
    st->level = level;
    he_step s = {.kind = HE_STEP_DROP, .node = node, .n_in = 1, .in = {slot}, .level = level,
                 .after = *st};
    return emit(p, &s);
}

static hg_status encode_linear(planner *p, he_linear *lin, he_state in, int64_t node,
                               he_state *out);

/* Makes slot a's scale equal to `scale` by a product with 1 encoded at the scale that the
 * rescale turns into it: a new slot, one level lower. */
static hg_status rescale_to(planner *p, int *slot, double scale, int64_t node) {
    he_state st = p->cur[*slot];
    if (st.level < 1)
        return hg_fail(HG_ERR_LEVEL,
                       "%s node '%s': the depth is exhausted (its operands' scales differ and "
                       "no level is left to match them)",
                       hg_op_get_info(p->g->nodes[node].op)->name, node_name(p, node));
    const he_slot *sl = &p->m->slots[*slot];
    he_linear *lin = calloc(1, sizeof *lin);
    hg_status s = lin ? HG_OK : HG_ERR_NOMEM;
    if (s == HG_OK) {
        lin->n_rows = lin->n_cols = sl->count;
        lin->scaled = true;
        lin->row_ptr = hg_alloc_array(sl->count + 1, sizeof *lin->row_ptr);
        lin->col = malloc((sl->count ? sl->count : 1) * sizeof *lin->col);
        lin->a = malloc((sl->count ? sl->count : 1) * sizeof *lin->a);
        if (!lin->row_ptr || !lin->col || !lin->a)
            s = HG_ERR_NOMEM;
    }
    for (size_t k = 0; s == HG_OK && k < sl->count; k++) {
        lin->row_ptr[k + 1] = (uint32_t)(k + 1);
        lin->col[k] = (uint32_t)k;
        lin->a[k] = 1.0;
    }
    /* scale * q_l / st.scale, applied as the weights' scale */
    lin->wscale = s == HG_OK ? scale * prime(p, st.level) / st.scale : 0;
    he_state out;
    if (s == HG_OK)
        s = encode_linear(p, lin, st, node, &out);
    int y = -1;
    if (s == HG_OK)
        s = new_slot(p, &sl->shape, sl->value, out, &y);
    if (s == HG_OK) {
        he_step step = {.kind = HE_STEP_LINEAR, .node = node, .out = y, .n_in = 1,
                        .in = {*slot}, .lin = lin, .after = out, .mask_in = -1, .mask_out = -1};
        s = emit(p, &step);
        if (s == HG_OK) {
            lin = NULL;
            s = unpend(p, y, node); /* taken at once: the point is the scale after it */
        }
    }
    he_linear_free(lin);
    if (s == HG_OK)
        *slot = y;
    return s;
}

/* Brings several slots to one level and one scale. A tensor that carries a product's scale is
 * rescaled when the others do not; tensors are then dropped to the lowest level; scales that
 * still differ (a ciphertext product's s^2 / q next to a linear layer's s) are matched by a
 * product with 1 at the right scale on the tensor with the most levels left. The slots may be
 * replaced by new ones. */
static hg_status align(planner *p, int *slots, int n, int64_t node) {
    bool any_pending = false, all_pending = true;
    for (int i = 0; i < n; i++) {
        any_pending |= p->cur[slots[i]].pending;
        all_pending &= p->cur[slots[i]].pending;
    }
    if (any_pending && !all_pending)
        for (int i = 0; i < n; i++)
            HG_TRY(unpend(p, slots[i], node));
    for (int i = 1; i < n; i++) {
        double a = p->cur[slots[0]].scale, b = p->cur[slots[i]].scale;
        if (fabs(a - b) <= HG_CKKS_SCALE_TOL * fmax(a, b))
            continue;
        /* Match the one with more levels to the other's scale. */
        if (p->cur[slots[i]].level >= p->cur[slots[0]].level) {
            HG_TRY(unpend(p, slots[i], node));
            HG_TRY(rescale_to(p, &slots[i], p->cur[slots[0]].scale, node));
        } else {
            HG_TRY(unpend(p, slots[0], node));
            HG_TRY(rescale_to(p, &slots[0], p->cur[slots[i]].scale, node));
            i = 0; /* the reference changed: check the others again */
        }
    }
    int level = p->cur[slots[0]].level;
    for (int i = 1; i < n; i++)
        if (p->cur[slots[i]].level < level)
            level = p->cur[slots[i]].level;
    for (int i = 0; i < n; i++)
        HG_TRY(drop_to(p, slots[i], level, node));
    for (int i = 1; i < n; i++) {
        double a = p->cur[slots[0]].scale, b = p->cur[slots[i]].scale;
        if (fabs(a - b) > HG_CKKS_SCALE_TOL * fmax(a, b))
            return hg_fail(HG_ERR_SCALE,
                           "%s node '%s': its encrypted operands have scales 2^%.4f and 2^%.4f "
                           "that could not be matched",
                           hg_op_get_info(p->g->nodes[node].op)->name, node_name(p, node),
                           log2(a), log2(b));
    }
    return HG_OK;
}

/* I_q = psi^(N/2): multiplying NTT point k by I_q (k < N/2) or -I_q (k >= N/2) multiplies
 * every slot by i (the NTT of X^(N/2)). */
static uint64_t imag_unit(const hg_ckks_ctx *ctx, int i) {
    return hg_pow_mod(ctx->prime[i].psi, ctx->n / 2, &ctx->prime[i].mod);
}

/* Encodes a linear layer's weights and bias for an input in state `in`, and returns the
 * output state. */
static hg_status encode_linear(planner *p, he_linear *lin, he_state in, int64_t node,
                               he_state *out) {
    const hg_he_opts *o = &p->m->opts;
    const hg_node *n = &p->g->nodes[node];
    he_state st = in;
    size_t nnz = lin->row_ptr[lin->n_rows];
    lin->w = hg_alloc_array(nnz ? nnz : 1, sizeof(int64_t));
    if (!lin->w)
        return HG_ERR_NOMEM;
    if (lin->scaled) {
        /* Depth-aware: weights at scale q_l * (default scale / input scale), so that after
         * the rescale by q_l the output is back at the default scale exactly, whatever the
         * input's scale drifted to (a ciphertext product's s^2 / q, complex packing's factor
         * 4). A preset scale (scale matching) is kept. */
        if (lin->wscale == 0)
            lin->wscale = o->depth_aware
                              ? prime(p, st.level) * (p->ctx->params.scale / st.scale)
                              : p->ctx->params.scale;
        if (!o->lazy_rescale && st.level < 1)
            return hg_node_fail(HG_ERR_LEVEL, n,
                                "the depth is exhausted (the product needs a rescale at level "
                                "0); the parameters need more primes in the chain");
        st.scale *= lin->wscale;
        st.pending = true;
        if (!o->lazy_rescale) {
            /* every product is rescaled before the sum */
            st.scale /= prime(p, st.level);
            st.level--;
            st.pending = false;
        }
    }
    if (log2(st.scale) >= log2_modulus(p, st.level) - 1)
        return hg_node_fail(HG_ERR_LEVEL, n,
                            "the depth is exhausted: the scale 2^%.1f no longer fits the modulus "
                            "at level %d (2^%.1f); the parameters need more or larger primes",
                            log2(st.scale), st.level, log2_modulus(p, st.level));
    hg_status s = he_linear_encode(p->ctx, lin, st.level, st.scale, o->complex_packing);
    if (s != HG_OK)
        return hg_fail(s, "%s node '%s': %s", hg_op_get_info(n->op)->name, n->name,
                       hg_last_error());
    *out = st;
    return HG_OK;
}

hg_status he_linear_encode(const hg_ckks_ctx *ctx, he_linear *lin, int level, double out_scale,
                           bool complex_packing) {
    const size_t nnz = lin->row_ptr[lin->n_rows];
    if (!lin->w && !(lin->w = hg_alloc_array(nnz ? nnz : 1, sizeof(int64_t))))
        return HG_ERR_NOMEM;
    lin->max_abs_w = 0;
    for (size_t k = 0; k < nnz; k++) {
        double v = lin->scaled ? lin->a[k] * lin->wscale : lin->a[k];
        if (!(fabs(v) < 0x1p62))
            return hg_fail(HG_ERR_SCALE, "weight %g at scale 2^%.1f is too large", lin->a[k],
                           log2(lin->wscale));
        lin->w[k] = (int64_t)llround(v);
        int64_t a = lin->w[k] < 0 ? -lin->w[k] : lin->w[k];
        if (a > lin->max_abs_w)
            lin->max_abs_w = a;
    }
    lin->n_limbs = level + 1;
    if (!lin->b)
        return HG_OK;
    const size_t rows = lin->n_rows, limbs = (size_t)lin->n_limbs;
    if (!lin->bias && !(lin->bias = hg_alloc_array(rows * limbs, sizeof(uint64_t))))
        return HG_ERR_NOMEM;
    if (complex_packing && !lin->bias_i &&
        !(lin->bias_i = hg_alloc_array(rows * limbs, sizeof(uint64_t))))
        return HG_ERR_NOMEM;
    uint64_t unit[HG_CKKS_MAX_PRIMES];
    for (size_t i = 0; lin->bias_i && i < limbs; i++)
        unit[i] = imag_unit(ctx, (int)i);
    for (size_t r = 0; r < rows; r++) {
        hg_ckks_scalar sc;
        HG_TRY(hg_ckks_scalar_encode(ctx, lin->b[r] * out_scale, level, 1.0, &sc));
        memcpy(lin->bias + r * limbs, sc.r, limbs * sizeof(uint64_t));
        if (lin->bias_i)
            for (size_t i = 0; i < limbs; i++)
                lin->bias_i[r * limbs + i] = hg_mul_mod(sc.r[i], unit[i], &ctx->prime[i].mod);
    }
    return HG_OK;
}

/* Which inputs of node n are encrypted. */
static int encrypted_inputs(const planner *p, const hg_node *n, int *pos) {
    int k = 0;
    for (size_t i = 0; i < n->n_inputs; i++)
        if (n->inputs[i] >= 0 && p->slot_of[n->inputs[i]] >= 0)
            pos[k++] = (int)i;
    return k;
}

static bool read_elsewhere(const planner *p, int slot, size_t except);
hg_status he_plan_tiles(hg_he_model *m);

static hg_status plan_linear(planner *p, size_t ni, int x_pos) {
    const hg_node *n = &p->g->nodes[ni];
    const hg_he_opts *o = &p->m->opts;
    int x = p->slot_of[n->inputs[x_pos]];
    he_linear *lin;
    HG_TRY(he_linear_build(p->g, ni, x_pos, o->skip_zero_weights, &lin));
    int mi = -1;
    const int us = p->unmask_of[x];
    if (lin->scaled && us >= 0 && p->m->steps[us].kind == HE_STEP_LINEAR &&
        p->m->steps[us].mask_out < 0 && !read_elsewhere(p, x, ni)) {
        /* The unmasking of a client answer folds into these weights: this layer reads the
         * answer itself, and the masking costs no level. */
        he_step *u = &p->m->steps[us];
        mi = u->mask_in;
        x = u->in[0];
        u->kind = HE_STEP_NOP;
        he_linear_free(u->lin);
        u->lin = NULL;
    }
    if (lin->scaled)
        HG_TRY(unpend(p, x, (int64_t)ni));
    he_state out;
    hg_status s = encode_linear(p, lin, p->cur[x], (int64_t)ni, &out);
    if (s != HG_OK) {
        he_linear_free(lin);
        return s;
    }
    int y;
    s = new_slot(p, &p->g->values[n->output].shape, n->output, out, &y);
    if (s != HG_OK) {
        he_linear_free(lin);
        return s;
    }
    p->slot_of[n->output] = y;
    if (lin->scaled && !o->lazy_rescale)
        p->m->stats.rescales += lin->row_ptr[lin->n_rows];
    he_step st = {.kind = HE_STEP_LINEAR, .node = (int64_t)ni, .out = y, .n_in = 1, .in = {x},
                  .lin = lin, .after = out, .mask_in = mi, .mask_out = -1, .mask = -1,
                  .lin_base = true};
    s = emit(p, &st);
    if (s != HG_OK)
        he_linear_free(lin);
    return s;
}

static hg_status plan_mul(planner *p, size_t ni, int a, int b) {
    const hg_node *n = &p->g->nodes[ni];
    const hg_he_opts *o = &p->m->opts;
    int in[2] = {a, b};
    for (int k = 0; k < (a == b ? 1 : 2); k++) {
        HG_TRY(relin(p, in[k], (int64_t)ni));
        HG_TRY(unpend(p, in[k], (int64_t)ni));
    }
    if (a != b) {
        HG_TRY(align(p, in, 2, (int64_t)ni));
        a = in[0];
        b = in[1];
    }
    he_state st = p->cur[a];
    st.scale = p->cur[a].scale * p->cur[b].scale * (o->complex_packing ? 4.0 : 1.0);
    st.size = 3;
    st.pending = true;
    if (o->complex_packing) {
        p->m->needs_conj = true;
        p->m->stats.conjugations += p->m->slots[a].count * (a == b ? 1 : 2);
    }
    if (log2(st.scale) >= log2_modulus(p, st.level) - 1)
        return hg_node_fail(HG_ERR_LEVEL, n,
                            "the depth is exhausted: the product's scale 2^%.1f does not fit the "
                            "modulus at level %d",
                            log2(st.scale), st.level);
    int y;
    HG_TRY(new_slot(p, &p->g->values[n->output].shape, n->output, st, &y));
    p->slot_of[n->output] = y;
    p->m->stats.ct_ct_products += p->m->slots[y].count;
    he_step s = {.kind = HE_STEP_MUL, .node = (int64_t)ni, .out = y, .n_in = 2, .in = {a, b},
                 .after = st};
    HG_TRY(emit(p, &s));
    if (!o->lazy_relin)
        HG_TRY(relin(p, y, (int64_t)ni));
    if (!o->lazy_rescale)
        HG_TRY(unpend(p, y, (int64_t)ni));
    return HG_OK;
}

static hg_status plan_add(planner *p, size_t ni, int a, int b, bool subtract) {
    const hg_node *n = &p->g->nodes[ni];
    int in[2] = {a, b};
    if (a != b) {
        HG_TRY(align(p, in, 2, (int64_t)ni));
        a = in[0];
        b = in[1];
    }
    he_state st = p->cur[a];
    if (p->cur[b].size > st.size)
        st.size = p->cur[b].size;
    int y;
    HG_TRY(new_slot(p, &p->g->values[n->output].shape, n->output, st, &y));
    p->slot_of[n->output] = y;
    he_step s = {.kind = HE_STEP_ADD, .node = (int64_t)ni, .out = y, .n_in = 2, .in = {a, b},
                 .subtract = subtract, .after = st};
    return emit(p, &s);
}

/* Coordinates of the output of a structural op in terms of its inputs' coordinates. */
static hg_status plan_gather(planner *p, size_t ni) {
    const hg_graph *g = p->g;
    const hg_node *n = &g->nodes[ni];
    const hg_shape *ys = &g->values[n->output].shape;
    he_gather *gat = calloc(1, sizeof *gat);
    if (!gat)
        return hg_fail(HG_ERR_NOMEM, "out of memory");
    size_t count = 1;
    for (int d = 1; d < ys->rank; d++)
        count *= (size_t)ys->dims[d];
    gat->n_out = count;
    gat->src = hg_alloc_array(count, sizeof *gat->src);
    gat->idx = hg_alloc_array(count, sizeof *gat->idx);
    he_step s = {.kind = HE_STEP_GATHER, .node = (int64_t)ni, .gat = gat};
    hg_status st = gat->src && gat->idx ? HG_OK : HG_ERR_NOMEM;
    if (st == HG_OK && n->op == HG_OP_PAD && n->attr.pad.value != 0)
        st = hg_node_fail(HG_ERR_UNSUPPORTED, n,
                          "padding an encrypted tensor with %g (only zero padding)",
                          n->attr.pad.value);
    for (size_t i = 0; i < n->n_inputs && st == HG_OK; i++) {
        if (n->inputs[i] < 0 || g->values[n->inputs[i]].dtype == HG_DTYPE_INT64)
            continue;
        if (p->slot_of[n->inputs[i]] < 0 && (n->op == HG_OP_CONCAT || i == 0))
            st = hg_node_fail(HG_ERR_UNSUPPORTED, n,
                              "mixes encrypted and plaintext tensors (input %zu is plaintext)", i);
        else if (p->slot_of[n->inputs[i]] >= 0 && s.n_in < 8)
            s.in[s.n_in++] = p->slot_of[n->inputs[i]];
        else if (p->slot_of[n->inputs[i]] >= 0)
            st = hg_node_fail(HG_ERR_UNSUPPORTED, n, "more than 8 encrypted inputs");
    }
    if (st == HG_OK && s.n_in > 1)
        st = align(p, s.in, s.n_in, (int64_t)ni);
    const hg_shape *xs = &g->values[n->inputs[0]].shape;
    for (size_t o = 0; o < count && st == HG_OK; o++) {
        /* output multi-index (per sample) */
        int64_t oi[HG_MAX_RANK];
        size_t rem = o;
        for (int d = ys->rank - 1; d >= 1; d--) {
            oi[d] = (int64_t)(rem % (size_t)ys->dims[d]);
            rem /= (size_t)ys->dims[d];
        }
        oi[0] = 0;
        int src = 0;
        int64_t ii[HG_MAX_RANK];
        const hg_shape *is = xs;
        bool zero = false;
        if (n->op == HG_OP_TRANSPOSE) {
            const hg_transpose_attr *t = &n->attr.transpose;
            for (int d = 0; d < ys->rank; d++) {
                int from = t->rank ? (int)t->perm[d] : ys->rank - 1 - d;
                ii[from] = oi[d];
            }
        } else if (n->op == HG_OP_PAD) {
            const hg_pad_attr *pa = &n->attr.pad;
            for (int d = 0; d < ys->rank; d++) {
                ii[d] = oi[d] - pa->pads[d];
                if (d > 0 && (ii[d] < 0 || ii[d] >= xs->dims[d]))
                    zero = true;
            }
        } else { /* CONCAT */
            int64_t axis = n->attr.axis < 0 ? n->attr.axis + ys->rank : n->attr.axis;
            int64_t at = oi[axis];
            memcpy(ii, oi, sizeof ii);
            for (size_t i = 0; i < n->n_inputs; i++) {
                const hg_shape *s2 = &g->values[n->inputs[i]].shape;
                if (at < s2->dims[axis]) {
                    src = (int)i;
                    is = s2;
                    break;
                }
                at -= s2->dims[axis];
            }
            ii[axis] = at;
        }
        size_t idx = 0;
        for (int d = 1; d < is->rank; d++)
            idx = idx * (size_t)is->dims[d] + (size_t)(ii[d] < 0 ? 0 : ii[d]);
        gat->src[o] = zero ? -1 : src;
        gat->idx[o] = (uint32_t)idx;
    }
    if (st == HG_OK) {
        he_state stt = p->cur[s.in[0]];
        for (int i = 1; i < s.n_in; i++)
            if (p->cur[s.in[i]].size > stt.size)
                stt.size = p->cur[s.in[i]].size;
        int y;
        st = new_slot(p, ys, n->output, stt, &y);
        if (st == HG_OK) {
            p->slot_of[n->output] = y;
            s.out = y;
            s.after = stt;
            st = emit(p, &s);
        }
    }
    if (st != HG_OK) {
        hg_free(gat->src);
        hg_free(gat->idx);
        free(gat);
    }
    return st;
}

/* Whether slot `slot` is read by a node after node ni (or is a graph output). */
static bool used_later(const planner *p, int slot, size_t ni) {
    const hg_graph *g = p->g;
    for (size_t j = ni + 1; j < g->n_nodes; j++)
        for (size_t k = 0; k < g->nodes[j].n_inputs; k++)
            if (g->nodes[j].inputs[k] >= 0 && p->slot_of[g->nodes[j].inputs[k]] == slot)
                return true;
    for (size_t i = 0; i < g->n_outputs; i++)
        if (p->slot_of[g->outputs[i]] == slot)
            return true;
    return false;
}

/* Whether any graph node other than `except`, or a graph output, reads slot `slot`. */
static bool read_elsewhere(const planner *p, int slot, size_t except) {
    const hg_graph *g = p->g;
    for (size_t j = 0; j < g->n_nodes; j++)
        for (size_t k = 0; j != except && k < g->nodes[j].n_inputs; k++)
            if (g->nodes[j].inputs[k] >= 0 && p->slot_of[g->nodes[j].inputs[k]] == slot)
                return true;
    for (size_t i = 0; i < g->n_outputs; i++)
        if (p->slot_of[g->outputs[i]] == slot)
            return true;
    return false;
}

/* The plan-time stand-in of a masked map: factors 1, no shuffle (the shapes, the weights'
 * scale and the states are what the plan needs; every run draws its own). */
static hg_status identity_draw(const he_mask *k, he_draw *d) {
    memset(d, 0, sizeof *d);
    d->n_factor = k->kind == HE_MASK_POOL ? k->n_out : k->n_req;
    d->n_order = k->n_req;
    d->factor = hg_alloc_array(d->n_factor ? d->n_factor : 1, sizeof(double));
    d->order = hg_alloc_array(d->n_order ? d->n_order : 1, sizeof(uint32_t));
    if (!d->factor || !d->order) {
        he_draw_free(d);
        return HG_ERR_NOMEM;
    }
    for (size_t i = 0; i < d->n_factor; i++)
        d->factor[i] = 1.0;
    for (size_t i = 0; i < d->n_order; i++)
        d->order[i] = (uint32_t)i;
    return HG_OK;
}

static hg_status add_mask(planner *p, he_mask *k, int *index) {
    hg_he_model *m = p->m;
    he_mask **masks = realloc(m->masks, (m->n_masks + 1) * sizeof *masks);
    if (!masks)
        return hg_fail(HG_ERR_NOMEM, "out of memory planning the model");
    m->masks = masks;
    m->masks[m->n_masks] = k;
    *index = (int)m->n_masks++;
    return HG_OK;
}

/* Masked request: folded into the linear layer that produces x when nothing else reads x,
 * otherwise a step of its own. Returns the slot of the request. */
static hg_status plan_request(planner *p, size_t ni, int x, int mi, int *req) {
    hg_he_model *m = p->m;
    const he_mask *k = m->masks[mi];
    const int w = p->writer[x];
    if (w >= 0 && m->steps[w].kind == HE_STEP_LINEAR && m->steps[w].lin->scaled &&
        m->steps[w].mask_out < 0 && !read_elsewhere(p, x, ni) &&
        p->cur[x].level == m->steps[w].after.level && p->cur[x].size == m->steps[w].after.size) {
        he_step *st = &m->steps[w];
        st->mask_out = mi;
        m->slots[x].count = k->n_req;
        m->slots[x].shape = (hg_shape){.rank = 2, .dims = {m->slots[x].shape.dims[0],
                                                           (int64_t)k->n_req}};
        *req = x;
        return HG_OK;
    }
    /* A step of its own: M x, which multiplies the scale like any weights. */
    HG_TRY(unpend(p, x, (int64_t)ni));
    he_draw d;
    HG_TRY(identity_draw(k, &d));
    he_linear *lin = NULL;
    hg_status s = he_mask_request_map(k, &d, NULL, &lin);
    he_draw_free(&d);
    HG_TRY(s);
    lin->wscale = 0;
    he_state out;
    s = encode_linear(p, lin, p->cur[x], (int64_t)ni, &out);
    hg_shape shape = {.rank = 2, .dims = {m->slots[x].shape.dims[0], (int64_t)k->n_req}};
    int y = -1;
    if (s == HG_OK)
        s = new_slot(p, &shape, -1, out, &y);
    if (s == HG_OK) {
        he_step st = {.kind = HE_STEP_LINEAR, .node = (int64_t)ni, .out = y, .n_in = 1,
                      .in = {x}, .lin = lin, .after = out, .mask_in = -1, .mask_out = mi,
                      .mask = -1};
        s = emit(p, &st);
    }
    if (s != HG_OK) {
        he_linear_free(lin);
        return s;
    }
    *req = y;
    return HG_OK;
}

/* A request's product is read by the client at once and never rescaled back to the base scale,
 * so its weights need not be at scale q_l: when the product at their level would leave less
 * than `headroom` bits above the values, the weights of the linear step that writes the request
 * (and nothing else) are encoded at a lower scale instead, down to 2^MIN_REQUEST_WEIGHT_BITS.
 * This keeps a request at a level with the base scale's precision when q_0 is too small to hold
 * it with its headroom (a chain whose data primes are all near the scale). */
static hg_status fit_request(planner *p, int req, double headroom) {
    const int w = p->writer[req];
    if (w < 0)
        return HG_OK;
    he_step *st = &p->m->steps[w];
    he_state *cur = &p->cur[req];
    if (st->kind != HE_STEP_LINEAR || !st->lin->scaled || !cur->pending ||
        st->out != req || cur->level != st->after.level || cur->scale != st->after.scale)
        return HG_OK;
    const double room = log2_modulus(p, cur->level) - headroom - log2(cur->scale);
    if (room >= 0)
        return HG_OK;
    he_linear *lin = st->lin;
    const double wscale = lin->wscale * exp2(floor(room));
    if (log2(wscale) < MIN_REQUEST_WEIGHT_BITS)
        return HG_OK;
    const double in_scale = cur->scale / lin->wscale;
    lin->wscale = wscale;
    cur->scale = st->after.scale = in_scale * wscale;
    hg_status s = he_linear_encode(p->ctx, lin, cur->level, cur->scale,
                                   p->m->opts.complex_packing);
    if (s != HG_OK)
        return hg_fail(s, "%s node '%s': %s", hg_op_get_info(p->g->nodes[st->node].op)->name,
                       node_name(p, st->node), hg_last_error());
    return HG_OK;
}

static hg_status plan_client(planner *p, size_t ni, int x) {
    const hg_node *n = &p->g->nodes[ni];
    hg_he_model *m = p->m;
    hg_he_activation act;
    HG_TRY(he_activation_from_node(p->g, ni, &act)); /* the client can be told what to do */
    int mi = -1;
    if (m->opts.masking) {
        he_mask *k = NULL;
        hg_status s = he_mask_build(p->g, ni, &m->slots[x].shape, &p->g->values[n->output].shape,
                                    &k);
        if (s == HG_OK)
            s = add_mask(p, k, &mi);
        if (s != HG_OK && k)
            he_mask_free(k);
        if (s != HG_OK && s != HG_ERR_UNSUPPORTED)
            return s;
        hg_clear_error(); /* unsupported: this activation goes unmasked */
    }
    int req = x;
    if (mi >= 0)
        HG_TRY(plan_request(p, ni, x, mi, &req));
    /* Masking factors up to 256 and, for Clip, a shift by its bound need room above the
     * values. */
    const double mask_bits = mi >= 0 ? 8 + (m->masks[mi]->kind == HE_MASK_CLIP ? 1 : 0) : 0;
    const double headroom = HEADROOM_BITS + mask_bits;
    if (!used_later(p, req, ni))
        HG_TRY(fit_request(p, req, headroom));
    he_state *st = &p->cur[req];
    if (log2(st->scale) + MIN_HEADROOM_BITS + mask_bits >= log2_modulus(p, st->level))
        return hg_node_fail(HG_ERR_LEVEL, n,
                            "the depth is exhausted: values at scale 2^%.1f with %.0f bits of "
                            "headroom do not fit the modulus at level %d (2^%.1f)",
                            log2(st->scale), MIN_HEADROOM_BITS + mask_bits, st->level,
                            log2_modulus(p, st->level));
    /* Down to the lowest level that holds the scale and the headroom: a request that carries a
     * product's scale is rescaled first when that lets it drop (fewer limbs to send) and the
     * rescale brings it back to the base scale (not when fit_request lowered its weights: that
     * rescale would leave too small a scale for the precision). */
    if (!used_later(p, req, ni)) {
        if (st->pending && st->level >= 1 &&
            st->scale / prime(p, st->level) >= 0.5 * p->ctx->params.scale &&
            log2_modulus(p, st->level - 1) >= log2(st->scale / prime(p, st->level)) + headroom)
            HG_TRY(unpend(p, req, (int64_t)ni));
        st = &p->cur[req];
        int level = st->level;
        while (level > 0 && log2_modulus(p, level - 1) >= log2(st->scale) + headroom)
            level--;
        HG_TRY(drop_to(p, req, level, (int64_t)ni));
    }
    he_state fresh = {.level = p->top, .size = 2, .scale = p->ctx->params.scale, .pending = false};
    m->stats.client_calls++;
    if (mi < 0) {
        int y;
        HG_TRY(new_slot(p, &p->g->values[n->output].shape, n->output, fresh, &y));
        p->slot_of[n->output] = y;
        he_step s = {.kind = HE_STEP_CLIENT, .node = (int64_t)ni, .out = y, .n_in = 1,
                     .in = {req}, .after = fresh, .mask = -1};
        return emit(p, &s);
    }
    const he_mask *k = m->masks[mi];
    hg_shape ashape = {.rank = 2, .dims = {m->slots[req].shape.dims[0], (int64_t)k->n_ans}};
    int ans;
    HG_TRY(new_slot(p, &ashape, -1, fresh, &ans));
    he_step cs = {.kind = HE_STEP_CLIENT, .node = (int64_t)ni, .out = ans, .n_in = 1,
                  .in = {req}, .after = fresh, .mask = mi};
    HG_TRY(emit(p, &cs));
    m->stats.masked_calls++;
    /* Unmasking: U applied to the answer, as a step that the next linear layer may absorb. */
    he_draw d;
    HG_TRY(identity_draw(k, &d));
    he_linear *lin = NULL;
    hg_status s = he_mask_result_map(k, &d, NULL, &lin);
    he_draw_free(&d);
    HG_TRY(s);
    lin->wscale = 0;
    he_state out;
    s = encode_linear(p, lin, fresh, (int64_t)ni, &out);
    int y = -1;
    if (s == HG_OK)
        s = new_slot(p, &p->g->values[n->output].shape, n->output, out, &y);
    if (s == HG_OK) {
        p->slot_of[n->output] = y;
        p->unmask_of[y] = (int)m->n_steps;
        he_step us = {.kind = HE_STEP_LINEAR, .node = (int64_t)ni, .out = y, .n_in = 1,
                      .in = {ans}, .lin = lin, .after = out, .mask_in = mi, .mask_out = -1,
                      .mask = -1};
        s = emit(p, &us);
    }
    if (s != HG_OK)
        he_linear_free(lin);
    return s;
}

static hg_status plan_node(planner *p, size_t ni) {
    const hg_graph *g = p->g;
    const hg_node *n = &g->nodes[ni];
    const hg_op_info *info = hg_op_get_info(n->op);
    int pos[16];
    int ne = encrypted_inputs(p, n, pos);
    if (ne == 0)
        return hg_node_fail(HG_ERR_INTERNAL, n, "has no encrypted input (constants not folded)");
    if (!hg_graph_node_keeps_batch(g, ni))
        return hg_node_fail(HG_ERR_UNSUPPORTED, n,
                            "moves or mixes the batch axis, which batch-axis packing cannot do");
    int x = p->slot_of[n->inputs[pos[0]]];
    if (info->needs_client)
        return plan_client(p, ni, x);
    switch (n->op) {
    case HG_OP_IDENTITY:
    case HG_OP_DROPOUT:
    case HG_OP_FLATTEN:
    case HG_OP_RESHAPE: {
        p->slot_of[n->output] = x;
        p->m->slots[x].value = n->output;
        he_step s = {.kind = HE_STEP_ALIAS, .node = (int64_t)ni, .out = x, .n_in = 1, .in = {x},
                     .after = p->cur[x]};
        return emit(p, &s);
    }
    case HG_OP_TRANSPOSE:
    case HG_OP_PAD:
    case HG_OP_CONCAT:
        return plan_gather(p, ni);
    case HG_OP_SQUARE:
        return plan_mul(p, ni, x, x);
    case HG_OP_POW:
        return plan_mul(p, ni, x, x); /* exponent 2, checked by the passes */
    case HG_OP_MUL:
        if (ne == 2)
            return plan_mul(p, ni, x, p->slot_of[n->inputs[pos[1]]]);
        return plan_linear(p, ni, pos[0]);
    case HG_OP_ADD:
    case HG_OP_SUB:
        if (ne == 2)
            return plan_add(p, ni, x, p->slot_of[n->inputs[pos[1]]], n->op == HG_OP_SUB);
        return plan_linear(p, ni, pos[0]);
    case HG_OP_CONV:
    case HG_OP_GEMM:
    case HG_OP_MATMUL:
    case HG_OP_DIV:
    case HG_OP_AVERAGEPOOL:
    case HG_OP_GLOBALAVERAGEPOOL:
    case HG_OP_BATCHNORM:
        if (ne != 1 || pos[0] != 0)
            return hg_node_fail(HG_ERR_UNSUPPORTED, n,
                                "its weights are encrypted (only the data input may be)");
        return plan_linear(p, ni, 0);
    default:
        return hg_node_fail(HG_ERR_UNSUPPORTED, n, "has no encrypted kernel");
    }
}

/* Inserts FREE steps after each slot's last use and computes the peak memory. */
static hg_status plan_lifetimes(planner *p) {
    hg_he_model *m = p->m;
    const size_t n = m->ctx->n;
    size_t *last = calloc(m->n_slots, sizeof *last);
    bool *keep = calloc(m->n_slots, sizeof *keep);
    size_t *bytes = calloc(m->n_slots, sizeof *bytes);
    he_step *steps = calloc(m->n_steps + m->n_slots + 1, sizeof *steps);
    if (!last || !keep || !bytes || !steps) {
        free(last);
        free(keep);
        free(bytes);
        free(steps);
        return hg_fail(HG_ERR_NOMEM, "out of memory planning the model");
    }
    for (size_t i = 0; i < m->n_steps; i++) {
        if (m->steps[i].kind == HE_STEP_NOP)
            continue;
        for (int k = 0; k < m->steps[i].n_in; k++)
            last[m->steps[i].in[k]] = i;
        if (m->steps[i].kind != HE_STEP_RESCALE && m->steps[i].kind != HE_STEP_RELIN &&
            m->steps[i].kind != HE_STEP_DROP)
            if (last[m->steps[i].out] < i)
                last[m->steps[i].out] = i;
    }
    for (size_t i = 0; i < m->g->n_outputs; i++)
        keep[m->output_slot[i]] = true;
    size_t k = 0, live = 0, peak = 0;
    /* Graph inputs are allocated before the run. */
    for (size_t i = 0; i < m->g->n_inputs; i++) {
        int s = m->input_slot[i];
        if (s < 0)
            continue;
        bytes[s] = m->slots[s].count * 2 * (size_t)(p->top + 1) * n * sizeof(uint64_t);
        live += bytes[s];
    }
    peak = live;
    for (size_t i = 0; i < m->n_steps; i++) {
        he_step *st = &m->steps[i];
        if (st->kind == HE_STEP_NOP)
            continue;
        steps[k++] = *st;
        bool allocates = st->kind == HE_STEP_LINEAR || st->kind == HE_STEP_ADD ||
                         st->kind == HE_STEP_MUL || st->kind == HE_STEP_GATHER ||
                         st->kind == HE_STEP_CLIENT || st->kind == HE_STEP_TILED;
        if (allocates) {
            const he_state *a = &st->after;
            bytes[st->out] = m->slots[st->out].count * he_stride(m->ctx, a->level, a->size) *
                             sizeof(uint64_t);
            live += bytes[st->out];
            /* a tiled region also holds one tile's intermediate tensors while it runs */
            size_t during = live + (st->kind == HE_STEP_TILED ? st->region->tile_bytes : 0);
            if (during > peak)
                peak = during;
        }
        for (int s = 0; s < (int)m->n_slots; s++)
            if (last[s] == i && !keep[s] && bytes[s]) {
                he_step f = {.kind = HE_STEP_FREE, .node = -1, .n_in = 1, .in = {s}};
                steps[k++] = f;
                live -= bytes[s];
                bytes[s] = 0;
            }
    }
    free(m->steps);
    m->steps = steps;
    m->n_steps = k;
    m->cap_steps = m->n_steps + m->n_slots + 1;
    /* Encoded weights and the per-thread evaluators' scratch. */
    size_t weights = 0;
    for (size_t i = 0; i < m->n_steps; i++)
        for (int r = -1; r < (m->steps[i].region ? m->steps[i].region->n : 0); r++) {
            const he_linear *l = r < 0 ? m->steps[i].lin : m->steps[i].region->steps[r].lin;
            if (!l)
                continue;
            size_t nnz = l->row_ptr[l->n_rows];
            weights += nnz * (sizeof(int64_t) + sizeof(uint32_t) + sizeof(double));
            if (l->bias)
                weights += l->n_rows * (size_t)l->n_limbs * 8 * (l->bias_i ? 2 : 1);
        }
    int threads = m->opts.threads > 0 ? m->opts.threads : 1;
    size_t scratch = (size_t)threads * (6 * (size_t)(m->ctx->L + m->ctx->K) +
                                        4 * (size_t)m->ctx->L + 8) * n * sizeof(uint64_t);
    m->peak_bytes = peak + weights + scratch;
    free(last);
    free(keep);
    free(bytes);
    return HG_OK;
}

void hg_he_opts_default(hg_he_opts *o) {
    memset(o, 0, sizeof *o);
    o->scalar_encoding = o->depth_aware = o->fast_scalar = o->lazy_rescale = true;
    o->lazy_relin = o->linear_engine = true;
    o->masking = true;
    o->complex_packing = false;
    o->skip_zero_weights = false;
}

void hg_he_opts_naive(hg_he_opts *o) {
    memset(o, 0, sizeof *o);
}

hg_status hg_he_model_new(const hg_graph *g, const hg_ckks_ctx *ctx, const hg_he_opts *o,
                          size_t batch, hg_he_model **out) {
    *out = NULL;
    hg_he_model *m = calloc(1, sizeof *m);
    if (!m)
        return hg_fail(HG_ERR_NOMEM, "out of memory");
    m->g = g;
    m->ctx = ctx;
    m->opts = *o;
    if (m->opts.linear_engine && !m->opts.scalar_encoding)
        m->opts.linear_engine = false; /* the engine multiplies by integer weights */
    m->batch = batch;
    m->capacity = o->complex_packing ? ctx->n : ctx->n / 2;
    planner p = {.m = m, .g = g, .ctx = ctx, .top = ctx->L - 1};
    hg_status s = HG_OK;
    if (batch == 0 || batch > m->capacity)
        s = hg_fail(HG_ERR_INVALID_ARG,
                    "a batch of %zu samples does not fit: N = %zu gives %zu slots%s", batch,
                    ctx->n, m->capacity, o->complex_packing ? " with complex packing" : "");
    if (s == HG_OK && g->batch <= 0)
        s = hg_fail(HG_ERR_INVALID_ARG, "the graph's shapes are not inferred (optimize it first)");
    p.slot_of = malloc((g->n_values ? g->n_values : 1) * sizeof *p.slot_of);
    m->input_slot = calloc(g->n_inputs + 1, sizeof *m->input_slot);
    m->output_slot = calloc(g->n_outputs + 1, sizeof *m->output_slot);
    m->input_state = calloc(g->n_inputs + 1, sizeof *m->input_state);
    if (s == HG_OK && (!p.slot_of || !m->input_slot || !m->output_slot || !m->input_state))
        s = hg_fail(HG_ERR_NOMEM, "out of memory");
    if (s == HG_OK) {
        for (size_t v = 0; v < g->n_values; v++)
            p.slot_of[v] = -1;
        he_state top = {.level = p.top, .size = 2, .scale = ctx->params.scale};
        for (size_t i = 0; i < g->n_inputs && s == HG_OK; i++) {
            int64_t v = g->inputs[i];
            s = new_slot(&p, &g->values[v].shape, v, top, &m->input_slot[i]);
            p.slot_of[v] = m->input_slot[i];
            m->input_state[i] = top;
        }
    }
    for (size_t i = 0; i < g->n_nodes && s == HG_OK; i++)
        s = plan_node(&p, i);
    for (size_t i = 0; i < g->n_outputs && s == HG_OK; i++) {
        m->output_slot[i] = p.slot_of[g->outputs[i]];
        if (m->output_slot[i] < 0)
            s = hg_fail(HG_ERR_UNSUPPORTED, "output '%s' does not depend on the encrypted input",
                        g->values[g->outputs[i]].name);
    }
    if (s == HG_OK && ctx->K == 0 && (m->needs_relin || m->needs_conj))
        s = hg_fail(HG_ERR_PARAMS,
                    "the model needs %s, a key switch, but the parameters have no special prime; "
                    "add one to the chain",
                    m->needs_relin ? "relinearization" : "conjugation");
    if (s == HG_OK)
        s = he_plan_tiles(m);
    if (s == HG_OK)
        s = plan_lifetimes(&p);
    if (s == HG_OK)
        s = he_pool_new(&m->pool);
    if (s == HG_OK)
        he_pool_set_limit(m->pool, m->peak_bytes);
    if (s == HG_OK && o->complex_packing) {
        m->minus_i = hg_alloc_array((size_t)ctx->L, sizeof(uint64_t));
        if (!m->minus_i)
            s = HG_ERR_NOMEM;
        for (int i = 0; s == HG_OK && i < ctx->L; i++)
            m->minus_i[i] = hg_neg_mod(imag_unit(ctx, i), ctx->prime[i].mod.q);
    }
    if (s == HG_OK) {
        /* Levels consumed between fresh encryptions: from the top to the lowest level a
         * step leaves a tensor at. */
        int lowest = p.top;
        for (size_t i = 0; i < m->n_steps; i++)
            if (m->steps[i].kind != HE_STEP_FREE && m->steps[i].kind != HE_STEP_CLIENT &&
                m->steps[i].after.level < lowest)
                lowest = m->steps[i].after.level;
        m->stats.levels_used = p.top - lowest;
    }
    free(p.slot_of);
    free(p.cur);
    free(p.writer);
    free(p.unmask_of);
    if (s != HG_OK) {
        hg_he_model_free(m);
        return s;
    }
    *out = m;
    return HG_OK;
}

void hg_he_model_free(hg_he_model *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->n_steps; i++) {
        if (m->steps[i].region) {
            for (int k = 0; k < m->steps[i].region->n; k++)
                he_linear_free(m->steps[i].region->steps[k].lin);
            free(m->steps[i].region);
        }
        he_linear_free(m->steps[i].lin);
        if (m->steps[i].gat) {
            hg_free(m->steps[i].gat->src);
            hg_free(m->steps[i].gat->idx);
            free(m->steps[i].gat);
        }
    }
    free(m->steps);
    free(m->slots);
    free(m->input_slot);
    free(m->output_slot);
    free(m->input_state);
    hg_free(m->minus_i);
    he_pool_free(m->pool);
    for (size_t i = 0; i < m->n_masks; i++)
        he_mask_free(m->masks[i]);
    free(m->masks);
    free(m);
}

size_t hg_he_model_capacity(const hg_he_model *m) {
    return m->capacity;
}

bool hg_he_model_needs_relin(const hg_he_model *m) {
    return m->needs_relin;
}

size_t hg_he_model_galois_elts(const hg_he_model *m, uint64_t *elts, size_t cap) {
    if (!m->needs_conj)
        return 0;
    if (cap >= 1)
        elts[0] = 2 * (uint64_t)m->ctx->n - 1;
    return 1;
}

size_t hg_he_model_peak_bytes(const hg_he_model *m) {
    return m->peak_bytes;
}

void hg_he_model_stats(const hg_he_model *m, hg_he_plan_stats *s) {
    *s = m->stats;
}

hg_status hg_he_model_reserve(hg_he_model *m) {
    /* Replays the run's allocations against the pool: the same sizes taken and given back in
     * the same order leave the pool holding exactly the buffers the run will ask for. */
    const size_t n_slots = m->n_slots;
    uint64_t **buf = calloc(n_slots ? n_slots : 1, sizeof *buf);
    size_t *cap = calloc(n_slots ? n_slots : 1, sizeof *cap);
    hg_status s = buf && cap ? HG_OK : hg_fail(HG_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m->n_steps && s == HG_OK; i++) {
        const he_step *st = &m->steps[i];
        bool allocates = st->kind == HE_STEP_LINEAR || st->kind == HE_STEP_ADD ||
                         st->kind == HE_STEP_MUL || st->kind == HE_STEP_GATHER ||
                         st->kind == HE_STEP_TILED;
        if (allocates) {
            size_t words = m->slots[st->out].count * he_stride(m->ctx, st->after.level,
                                                                 st->after.size);
            buf[st->out] = he_pool_get(m->pool, words ? words : 1, &cap[st->out]);
            if (!buf[st->out])
                s = HG_ERR_NOMEM;
            else
                memset(buf[st->out], 0, cap[st->out] * sizeof(uint64_t));
        } else if (st->kind == HE_STEP_FREE && buf[st->in[0]]) {
            he_pool_put(m->pool, buf[st->in[0]], cap[st->in[0]]);
            buf[st->in[0]] = NULL;
        }
    }
    for (size_t i = 0; i < n_slots && buf && cap; i++)
        if (buf[i])
            he_pool_put(m->pool, buf[i], cap[i]);
    free(buf);
    free(cap);
    return s;
}

hg_status he_activation_from_node(const hg_graph *g, size_t node, hg_he_activation *act) {
    const hg_node *n = &g->nodes[node];
    memset(act, 0, sizeof *act);
    act->op = n->op;
    act->group = 1;
    switch (n->op) {
    case HG_OP_RELU:
    case HG_OP_SIGMOID:
    case HG_OP_TANH: break;
    case HG_OP_RELU6:
    case HG_OP_CLIP:
        act->clip_min = n->attr.clip.min;
        act->clip_max = n->attr.clip.max;
        break;
    case HG_OP_MIN: {
        /* Min(x, c) with a scalar constant c is Clip(x, -inf, c). */
        const hg_value *c = n->n_inputs == 2 && n->inputs[1] >= 0 ? &g->values[n->inputs[1]] : NULL;
        int64_t cnt = 0;
        if (!c || c->kind != HG_VALUE_CONSTANT || !c->f64 || !hg_shape_count(&c->shape, &cnt) ||
            cnt != 1)
            return hg_node_fail(HG_ERR_UNSUPPORTED, n,
                                "only Min of an encrypted value and one constant runs encrypted");
        act->op = HG_OP_CLIP;
        act->clip_min = -INFINITY;
        act->clip_max = c->f64[0];
        break;
    }
    case HG_OP_LEAKYRELU: act->alpha = n->attr.leaky_alpha; break;
    case HG_OP_SOFTMAX:
        act->axis = n->attr.softmax.axis;
        act->legacy = n->attr.softmax.legacy;
        break;
    case HG_OP_MAXPOOL: {
        const hg_window_attr *w = &n->attr.window;
        act->n_spatial = w->n_spatial;
        act->ceil_mode = w->ceil_mode;
        for (int d = 0; d < w->n_spatial; d++) {
            act->kernel[d] = w->kernel[d];
            act->strides[d] = w->strides[d];
            act->dilations[d] = w->dilations[d];
            act->pads[d] = w->pads[d];
            act->pads[w->n_spatial + d] = w->pads[w->n_spatial + d];
        }
        break;
    }
    default:
        return hg_node_fail(HG_ERR_UNSUPPORTED, n, "is not an activation a client evaluates");
    }
    return HG_OK;
}
