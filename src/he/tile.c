/*
 * Tiling (DESIGN.md, section 7): a region of the plan whose intermediate tensors are large runs
 * in tiles of channels. The regions are those of inverted residual blocks and their like: a
 * linear layer whose output goes through a masked client activation, optionally a channel-local
 * linear layer (a depthwise convolution) and a second activation, into a linear layer that
 * reads all channels. Tile t computes the rows of channels [t C / T, (t + 1) C / T) of the first
 * layer, sends them, runs the channel-local layer on the answers, sends again, and adds this
 * tile's share of the last layer into its output. Only one tile's intermediates exist at a time;
 * the levels and scales are those of the untiled plan. The client learns the tile boundaries
 * (each request is one tile) and nothing else new.
 */
#include "he.h"

#include <stdlib.h>
#include <string.h>

/* Channels of the per-sample tensor of a step's output (axis 1 of its graph value). */
static size_t channels_of(const hg_he_model *m, const he_step *st) {
    const hg_shape *s = &m->g->values[m->g->nodes[st->node].output].shape;
    return s->rank >= 2 ? (size_t)s->dims[1] : 1;
}

static size_t slot_bytes(const hg_he_model *m, int slot, const he_state *st) {
    return m->slots[slot].count * he_stride(m->ctx, st->level, st->size) * sizeof(uint64_t);
}

/* Whether each row of lin (rows in C channels of rows_pc rows) reads only columns of its own
 * channel (columns in C channels of cols_pc). */
static bool channel_local(const he_linear *lin, size_t rows_pc, size_t cols_pc) {
    for (size_t r = 0; r < lin->n_rows; r++)
        for (uint32_t e = lin->row_ptr[r]; e < lin->row_ptr[r + 1]; e++)
            if (lin->col[e] / cols_pc != r / rows_pc)
                return false;
    return true;
}

/* Matches a region at steps[i]; on success fills r (without tiles) and *end (one past it). */
static bool match(const hg_he_model *m, size_t i, he_region *r, size_t *end) {
    const he_step *s = m->steps;
    const size_t n = m->n_steps;
    memset(r, 0, sizeof *r);
    r->drop[0] = r->drop[1] = -1;
    size_t j = i;
    const he_step *a = &s[j];
    if (a->kind != HE_STEP_LINEAR || a->mask_out < 0 || a->mask_in >= 0 || !a->lin_base)
        return false;
    r->steps[r->n++] = *a;
    for (int k = 0; k < 2; k++) {
        const he_step *prev = &r->steps[r->n - 1];
        const he_mask *mk = m->masks[prev->mask_out];
        if (mk->kind == HE_MASK_POOL)
            return false;
        if (++j < n && s[j].kind == HE_STEP_RESCALE && s[j].in[0] == prev->out) {
            r->rescale[k] = true;
            j++;
        }
        if (j < n && s[j].kind == HE_STEP_DROP && s[j].in[0] == prev->out) {
            r->drop[k] = s[j].level;
            j++;
        }
        if (j >= n || s[j].kind != HE_STEP_CLIENT || s[j].in[0] != prev->out ||
            s[j].mask != prev->mask_out)
            return false;
        r->steps[r->n++] = s[j];
        const he_step *c = &s[j];
        if (++j >= n || s[j].kind != HE_STEP_LINEAR || s[j].in[0] != c->out ||
            s[j].mask_in != c->mask || !s[j].lin_base)
            return false;
        r->steps[r->n++] = s[j];
        if (s[j].mask_out < 0)
            break; /* the last layer */
        if (k == 1)
            return false; /* three activations: not a region of this shape */
    }
    if (r->steps[r->n - 1].mask_out >= 0)
        return false;
    *end = j + 1;
    return true;
}

hg_status he_plan_tiles(hg_he_model *m);
hg_status he_plan_tiles(hg_he_model *m) {
    const size_t budget = m->opts.tile_bytes ? m->opts.tile_bytes : (size_t)2 << 30;
    if (!m->opts.masking || !m->opts.linear_engine || !m->opts.lazy_rescale)
        return HG_OK; /* tiles follow the masked, engine-driven plan */
    /* steps the planner folded into others go first */
    size_t out = 0;
    for (size_t i = 0; i < m->n_steps; i++)
        if (m->steps[i].kind != HE_STEP_NOP)
            m->steps[out++] = m->steps[i];
    m->n_steps = out;
    out = 0;
    for (size_t i = 0; i < m->n_steps;) {
        he_region r;
        size_t end;
        if (!match(m, i, &r, &end)) {
            m->steps[out++] = m->steps[i++];
            continue;
        }
        const he_step *a = &r.steps[0], *c1 = &r.steps[1];
        const size_t C = channels_of(m, a);
        he_mask *m1 = m->masks[a->mask_out];
        size_t bytes = slot_bytes(m, a->out, &a->after) + slot_bytes(m, c1->out, &c1->after);
        bool ok = C > 1 && m1->n_coords % C == 0;
        he_mask *m2 = NULL;
        if (ok && r.n == 5) {
            const he_step *b = &r.steps[2], *c2 = &r.steps[3];
            m2 = m->masks[b->mask_out];
            ok = channels_of(m, b) == C && m2->n_coords % C == 0 &&
                 channel_local(b->lin, m2->n_coords / C, m1->n_coords / C);
            bytes += slot_bytes(m, b->out, &b->after) + slot_bytes(m, c2->out, &c2->after);
        }
        size_t tiles = (bytes + budget - 1) / budget;
        if (tiles > C)
            tiles = C;
        if (!ok || tiles < 2) {
            for (; i < end; i++)
                m->steps[out++] = m->steps[i];
            continue;
        }
        he_region *reg = malloc(sizeof *reg);
        if (!reg)
            return hg_fail(HG_ERR_NOMEM, "out of memory planning tiles");
        *reg = r;
        reg->n_tiles = tiles;
        /* the largest tile holds ceil(C / T) channels */
        reg->tile_bytes = bytes / C * ((C + tiles - 1) / tiles);
        he_mask *ms[2] = {m1, m2};
        const he_step *prod[2] = {a, r.n == 5 ? &r.steps[2] : NULL};
        for (int k = 0; k < 2 && ms[k]; k++) {
            ms[k]->n_tiles = tiles;
            ms[k]->channels = C;
            ms[k]->in_per_channel = ms[k]->n_coords / C;
            ms[k]->out_per_channel = ms[k]->n_out / C;
            (void)prod[k];
        }
        m->stats.client_calls += (tiles - 1) * (size_t)(r.n == 5 ? 2 : 1);
        m->stats.masked_calls += (tiles - 1) * (size_t)(r.n == 5 ? 2 : 1);
        he_step t = {.kind = HE_STEP_TILED, .node = r.steps[r.n - 1].node,
                     .out = r.steps[r.n - 1].out, .n_in = 1, .in = {a->in[0]},
                     .after = r.steps[r.n - 1].after, .mask_in = -1, .mask_out = -1,
                     .mask = -1, .region = reg};
        m->steps[out++] = t;
        i = end;
    }
    m->n_steps = out;
    return HG_OK;
}
