/*
 * he: internal definitions of the encrypted backend.
 *
 * A cipher tensor of shape (B, d1..dk) holds count = d1*...*dk ciphertexts, all at the same
 * level, scale and number of components, stored back to back: ciphertext k at
 * data + k * stride, stride = size * (level + 1) * N words, in the layout of the ckks layer
 * (component c, limb i at offset (c * (level + 1) + i) * N). Sample b sits in slot b (real
 * packing) or in the real (b even) or imaginary (b odd) part of slot b / 2 (complex packing).
 *
 * The model is compiled into a program of steps (plan.c) whose every tensor state (level,
 * scale, components) is known before anything runs; the executor (exec.c) follows it and checks
 * each step's result against the plan.
 */
#ifndef HG_HE_INTERNAL_H
#define HG_HE_INTERNAL_H

#include "ckks/ckks.h"
#include "graph/graph.h"
#include "hegraph/hg_he.h"

/* A cache of large buffers that a model's runs reuse, so that a run after the first does not
 * pay the kernel's page faults and zeroing again. Thread-safe. */
typedef struct he_pool he_pool;
hg_status he_pool_new(he_pool **out) HG_WUR;
void he_pool_free(he_pool *p);
/* A buffer of at least `words` words: a cached one or a new one (uninitialized). */
uint64_t *he_pool_get(he_pool *p, size_t words, size_t *cap);
void he_pool_put(he_pool *p, uint64_t *buf, size_t cap);
/* Buffers cached beyond `bytes` in all are freed instead (0: no limit). */
void he_pool_set_limit(he_pool *p, size_t bytes);

struct hg_he_tensor {
    const hg_ckks_ctx *ctx;
    he_pool *pool; /* where the buffer goes back when freed, or NULL */
    hg_shape shape; /* batch included */
    size_t count;
    int level, size;
    double scale;
    bool complex_packing;
    size_t stride; /* words per ciphertext */
    uint64_t *data;
    size_t cap; /* words allocated */
    /* Seeds of fresh symmetric encryptions (count * 32 bytes), so that they serialize as
     * (c0, seed); NULL once the data is no longer fresh. */
    uint8_t *seeds;
};

/* Allocates a tensor of count ciphertexts (zeroed: each an encryption of zero with no noise). */
hg_status hg_he_tensor_new(const hg_ckks_ctx *ctx, const hg_shape *shape, int level, int size,
                           double scale, bool complex_packing, hg_he_tensor **out) HG_WUR;
/* The same with an uninitialized buffer from a pool: for outputs that are written whole. */
hg_status hg_he_tensor_new_pooled(he_pool *pool, const hg_ckks_ctx *ctx, const hg_shape *shape,
                                  int level, int size, double scale, bool complex_packing,
                                  hg_he_tensor **out) HG_WUR;
/* Changes the state (level, size) of t in place, reallocating if it grows; keeps no data. */
hg_status hg_he_tensor_reshape_state(hg_he_tensor *t, int level, int size) HG_WUR;
/* Words between consecutive ciphertexts of a tensor at this state. */
size_t he_stride(const hg_ckks_ctx *ctx, int level, int size);
static inline uint64_t *hg_he_ct_data(const hg_he_tensor *t, size_t k) {
    return t->data + k * t->stride;
}
/* A ckks ciphertext that views ciphertext k of t (no ownership; never freed, never grown). */
void hg_he_ct_view(const hg_he_tensor *t, size_t k, hg_ckks_ct *view);
size_t hg_he_tensor_words(const hg_he_tensor *t);

/* ---- weights and the linear engine ---------------------------------------------------------- */

/* A linear map y = A x + b between the per-sample coordinates of two tensors, A sparse (CSR
 * rows). A scaled map (Conv, Gemm, ...) has its weights encoded at plan time as integers
 * w = round(A * wscale), which multiplies the scale by wscale and costs a rescale; an unscaled
 * one (Add or Sub of a constant) has weights +-1 applied as integers, which keeps the scale.
 * The bias is added at the output's scale, as residues per row and prime
 * (bias[row * n_limbs + i]; with complex packing also bias_i, the residues of the imaginary
 * copy, so that both samples of a slot get it). */
typedef struct he_linear {
    size_t n_rows, n_cols;
    uint32_t *row_ptr; /* n_rows + 1 */
    uint32_t *col;     /* nnz */
    double *a;         /* nnz: the real weights, kept for encodings made at run time */
    int64_t *w;        /* nnz: round(a * wscale) */
    int64_t max_abs_w;
    bool scaled;
    bool dense;        /* every row has the same column list (Gemm): rows can share loads */
    double wscale;     /* scaled maps: the weights' encoding scale */
    double *b;         /* n_rows real biases, or NULL */
    uint64_t *bias;    /* n_rows * n_limbs residues of round(b * out_scale), or NULL */
    uint64_t *bias_i;  /* complex packing: the same times i's residue (I_q), or NULL */
    int n_limbs;
} he_linear;

void he_linear_free(he_linear *l);
/* The linear map of node `node` applied to its encrypted input number x_pos (weights.c). */
hg_status he_linear_build(const hg_graph *g, size_t node, int x_pos, bool skip_zero,
                          he_linear **out) HG_WUR;

/* Y (n_rows ciphertexts) = A X + b over every lane, X and Y at the same level and size; Y's
 * data is overwritten. The engine: rows in blocks, lanes in cache-sized blocks, products
 * accumulated in 64-bit integers and reduced once per chunk, OpenMP across blocks. */
/* The linear engine's paths (engine_kernel.h, engine_avx512.c): 32-bit products when the
 * prime and the encoded weights are below 2^31, 64-bit lanes when a prime is below 2^40 and
 * |weight| * q fits 63 bits, 128-bit scalar code otherwise. A weight is encoded at a scale
 * equal to the prime it will be divided by, so the scale bounds both. The automatic parameters
 * keep middle primes (the scale) at most HE_AUTO_MAX_SCALE_BITS (weights up to 8 in magnitude
 * stay on the fastest path) and q_0 below 2^HE_AUTO_MAX_Q0_BITS. */
#define HE_AUTO_MAX_SCALE_BITS 28
#define HE_AUTO_MAX_Q0_BITS 39

hg_status he_engine_apply(const he_linear *lin, const hg_he_tensor *x, hg_he_tensor *y,
                          bool skip_zero, bool accumulate) HG_WUR;

/* The kernel the engine runs on one block, per vector instruction set: for rows
 * [r0, r1), lanes [l0, l1) of limb slab `slab` (component c, limb i, prime q):
 *   y[row] = (sum_k w_k x[col_k]) mod q, + bias if c == 0. */
typedef struct he_block {
    const he_linear *lin;
    const uint64_t *x;
    uint64_t *y;
    size_t x_stride, y_stride; /* words between ciphertexts */
    size_t slab;               /* offset of the limb slab inside a ciphertext */
    size_t lanes;              /* lanes in this block (<= HE_BLOCK_LANES) */
    size_t lane0;              /* index of the block's first lane in its limb (0..N-1) */
    size_t half;               /* N / 2: complex packing adds bias_i below, subtracts above */
    size_t r0, r1;
    uint64_t q;
    double q_inv;
    const uint64_t *bias;   /* residues of this limb: bias[row * n_limbs], or NULL */
    const uint64_t *bias_i; /* the imaginary copy (complex packing), or NULL */
    bool skip_zero;
    bool accumulate; /* y += result, instead of y = result */
} he_block;

#define HE_BLOCK_LANES 64

void he_block_portable(const he_block *b);
void he_block_avx512(const he_block *b);

/* ---- masked activations (mask.c) ------------------------------------------------------------ */

typedef enum he_mask_kind {
    HE_MASK_ELEM, /* Relu, LeakyRelu: one entry per value */
    HE_MASK_CLIP, /* Clip(lo, hi): entries x - lo and x - hi, both through Relu */
    HE_MASK_POOL, /* MaxPool: one group of `group` entries per window */
} he_mask_kind;

/* What a masked activation sends, fixed at plan time: request entry j (before the run's
 * shuffle) is the value at input coordinate src[j] (copy[j]: which Clip bound). */
typedef struct he_mask {
    he_mask_kind kind;
    hg_op op; /* what the client applies: Relu, LeakyRelu or MaxPool */
    double alpha, lo, hi;
    size_t n_coords; /* values before the activation */
    size_t n_out;    /* values after it */
    size_t n_req;    /* ciphertexts in the request */
    size_t n_ans;    /* ciphertexts in the answer */
    size_t group;    /* MaxPool: entries per window */
    uint32_t *src;
    uint8_t *copy;
    /* Set when the activation runs in tiles of channels (he_tile): tile of channel c is
     * c * n_tiles / channels; values per channel before and after the activation. */
    size_t n_tiles, channels, in_per_channel, out_per_channel;
} he_mask;

/* A run's secrets for one masked activation: the factors and the request's order. */
typedef struct he_draw {
    double *factor;
    uint32_t *order;
    size_t n_factor, n_order;
    /* tile t's entries are request positions [req_start[t], req_start[t + 1]) and answers
     * [ans_start[t], ans_start[t + 1]) */
    size_t n_tiles;
    size_t *req_start, *ans_start;
} he_draw;

hg_status he_mask_build(const hg_graph *g, size_t node, const hg_shape *in_shape,
                        const hg_shape *out_shape, he_mask **out) HG_WUR;
void he_mask_free(he_mask *k);
hg_status he_mask_draw(const he_mask *k, he_draw *d) HG_WUR;
void he_draw_free(he_draw *d);
/* The request M x, composed with the linear layer `base` that produces x when not NULL. */
hg_status he_mask_request_map(const he_mask *k, const he_draw *d, const he_linear *base,
                              he_linear **out) HG_WUR;
/* The result U a, composed with the linear layer `base` that reads it when not NULL. */
hg_status he_mask_result_map(const he_mask *k, const he_draw *d, const he_linear *base,
                             he_linear **out) HG_WUR;
/* Rows [r0, r1) and columns [c0, c1) (renumbered from 0) of a map's real weights, with its bias
 * when `bias`. */
hg_status he_linear_slice(const he_linear *l, size_t r0, size_t r1, size_t c0, size_t c1,
                          bool bias, he_linear **out) HG_WUR;
/* Fills a linear map's integer weights and bias residues for its output level and scale
 * (wscale set). */
hg_status he_linear_encode(const hg_ckks_ctx *ctx, he_linear *lin, int level, double out_scale,
                           bool complex_packing) HG_WUR;

/* ---- the plan ------------------------------------------------------------------------------- */

typedef enum he_step_kind {
    HE_STEP_LINEAR,  /* out = lin(in[0]) */
    HE_STEP_ADD,     /* out = in[0] + in[1] (or -, with subtract) */
    HE_STEP_MUL,     /* out = in[0] * in[1] (ct-ct; a square when they are the same) */
    HE_STEP_GATHER,  /* out[o] = in[src[o]][idx[o]] (structural ops), zero where src < 0 */
    HE_STEP_ALIAS,   /* out is in[0] (Flatten, Reshape, Identity): no data movement */
    HE_STEP_RESCALE, /* in[0] rescaled in place */
    HE_STEP_RELIN,   /* in[0] relinearized in place */
    HE_STEP_DROP,    /* in[0] dropped to `level` in place */
    HE_STEP_CLIENT,  /* out = client activation of in[0] */
    HE_STEP_FREE,    /* in[0] is no longer needed */
    HE_STEP_NOP,     /* a step the planner folded into another */
    HE_STEP_TILED,   /* a region of steps run tile by tile (he_region) */
} he_step_kind;

struct he_region;



/* The state of a tensor slot at some point of the program. */
typedef struct he_state {
    int level, size;
    double scale;
    bool pending; /* carries the scale of a product that was not rescaled yet */
} he_state;

typedef struct he_gather {
    size_t n_out;
    int32_t *src; /* which input (index into the step's inputs), -1 for a zero ciphertext */
    uint32_t *idx;
} he_gather;

typedef struct he_step {
    he_step_kind kind;
    int64_t node; /* graph node index, -1 for bookkeeping steps */
    int out;      /* slot written (LINEAR, ADD, MUL, GATHER, ALIAS, CLIENT) */
    int n_in;
    int in[8];    /* slots read (GATHER: up to 8 inputs) */
    bool subtract;
    int level;    /* DROP target */
    he_linear *lin;
    he_gather *gat;
    he_state after; /* state of `out` (or in[0] for in-place steps) after the step */
    /* Masked activations (indices into the model's masks, -1 for none). A linear step may
     * unmask the answer it reads (mask_in: U folded in) and mask the request it writes
     * (mask_out: M folded in); a client step answers the request of `mask`. */
    int mask_in, mask_out, mask;
    bool lin_base; /* lin is the layer the masks compose with (else M or U stand alone) */
    struct he_region *region; /* HE_STEP_TILED */
} he_step;

/* A region run in tiles of channels, so that its large intermediate tensors never exist whole:
 *   a: linear, writes a masked request           (X -> S1, rows of tile t)
 *   c1: client                                    (S1 -> A1)
 *   b: linear, unmasks A1 and masks a request     (A1 -> S2, channel-local; absent in the
 *      short form)
 *   c2: client                                    (S2 -> A2)
 *   d: linear, unmasks and accumulates            (A2 -> Y, the sum over tiles)
 * steps[] holds a, c1, b, c2, d (or a, c1, d) as planned; rescale[k] and drop[k] what happens
 * to each request before its client (-1: no drop). */
typedef struct he_region {
    he_step steps[5];
    int n; /* 5, or 3 in the short form */
    bool rescale[2]; /* each request is rescaled before its drop */
    int drop[2];
    size_t n_tiles;
    size_t tile_bytes; /* the largest tile's intermediate tensors */
} he_region;

/* A slot: one cipher tensor over its lifetime. */
typedef struct he_slot {
    hg_shape shape;
    size_t count;
    int64_t value; /* graph value it holds (the last one, for aliases) */
} he_slot;

struct hg_he_model {
    const hg_graph *g;
    const hg_ckks_ctx *ctx;
    hg_he_opts opts;
    size_t batch, capacity;
    he_step *steps;
    size_t n_steps, cap_steps;
    he_slot *slots;
    size_t n_slots, cap_slots;
    int *input_slot;  /* per graph input */
    int *output_slot; /* per graph output */
    he_state *input_state;
    bool needs_relin, needs_conj;
    size_t peak_bytes;
    hg_he_plan_stats stats;
    /* complex packing: per prime, the NTT form of -X^(N/2), i.e. the slot-wise factor -i */
    uint64_t *minus_i;
    he_pool *pool;
    he_mask **masks;
    size_t n_masks;
};

/* The request for a client activation node (unmasked): op and attributes, shapes left to the
 * caller. HG_ERR_UNSUPPORTED for a node a client cannot evaluate from attributes alone. */
hg_status he_activation_from_node(const hg_graph *g, size_t node, hg_he_activation *act) HG_WUR;

/* Ciphertext-ciphertext product in complex packing, (u^2 - i v^2) style; see exec.c. */

#endif
