/*
 * hegraph encrypted backend: runs a graph on CKKS ciphertexts with batch-axis packing (one
 * ciphertext per tensor coordinate, sample b in slot b), nGraph-HE2's optimizations (scalar and
 * depth-aware encoding, fast ciphertext-scalar operations, lazy rescaling, complex packing) and
 * a linear engine that runs each linear layer as a modular matrix product over ciphertext lanes.
 * Non-polynomial activations go to a client through one interface (hg_he_client_fn).
 *
 * Objects and threads:
 *   hg_he_model   a graph compiled for a context: the plan (levels, scales, where to rescale and
 *                 relinearize) and the encoded weights; immutable once built, shareable.
 *   hg_he_tensor  a batch of ciphertexts; mutable, one thread at a time.
 *   hg_he_client  the client's keys and scratch: encrypts batches, decrypts results, answers
 *                 activation requests (decrypt, apply, re-encrypt fresh); one thread at a time
 *                 (it parallelizes inside).
 */
#ifndef HEGRAPH_HG_HE_H
#define HEGRAPH_HG_HE_H

#include "hegraph/hg_ckks.h"
#include "hegraph/hg_common.h"
#include "hegraph/hg_graph.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- options ------------------------------------------------------------------------------ */

/* Each optimization can be switched off, for ablation. hg_he_opts_default turns every one on
 * (except zero-weight skipping); hg_he_opts_naive turns every one off. */
typedef struct hg_he_opts {
    /* A weight shared by the batch is the constant polynomial round(w * scale): one residue per
     * prime (nGraph-HE2's scalar encoding). Off: a full plaintext through the FFT and NTTs. */
    bool scalar_encoding;
    /* Weights are encoded at the level of the ciphertext they meet, at a scale equal to the
     * prime the product will be divided by, so that rescaling restores the input's scale
     * exactly. Off: encoded at the top level and default scale, then dropped to the level. */
    bool depth_aware;
    /* Ciphertext-scalar products per prime with Shoup multiplications (no NTT, no plaintext).
     * Off: the scalar is expanded to an NTT-form plaintext and multiplied element-wise. */
    bool fast_scalar;
    /* One rescale per output of a sum of products, none before decryption or a client
     * activation. Off: every product is rescaled. */
    bool lazy_rescale;
    /* Products stay at three components through linear layers; relinearization happens only
     * where a later product or rotation needs two components, on the fewest ciphertexts.
     * Off: relinearize after every product. */
    bool lazy_relin;
    /* Linear layers run as a modular matrix product over ciphertext lanes (blocked, lazy
     * reduction, vectorized, parallel). Off: per-ciphertext evaluator calls. Needs
     * scalar_encoding. */
    bool linear_engine;
    /* Two samples per slot (real and imaginary parts): capacity N instead of N/2. Products of
     * two ciphertexts use the conjugation method (a Galois key). */
    bool complex_packing;
    /* Skip multiplications by zero weights. Off by default: it leaks which weights are zero
     * through timing to anyone who can time the server. */
    bool skip_zero_weights;
    /* Client activations are masked (DESIGN.md, section 6): random positive factors and a
     * shuffle hide the pre-activation values and their order from the client; Sigmoid, Tanh,
     * Softmax and one-sided Clip go unmasked. Off: the paper's protocol. */
    bool masking;
    /* Regions whose intermediate tensors (between two linear layers, through client
     * activations) would take more than this many bytes run in tiles of channels that each
     * stay below it (0: 2 GiB). */
    size_t tile_bytes;
    /* Worker threads (0: all the machine's). */
    int threads;
} hg_he_opts;

HG_API void hg_he_opts_default(hg_he_opts *o);
HG_API void hg_he_opts_naive(hg_he_opts *o);

/* ---- parameters ----------------------------------------------------------------------------- */

/* Encryption parameters for a model, as in nGraph-HE2's JSON files:
 *   {"scheme_name": "HE_SEAL", "poly_modulus_degree": 8192, "security_level": 128,
 *    "coeff_modulus": [30, 24, 24, 24, 24, 24, 30], "scale": 16777216,
 *    "complex_packing": true}
 * The last prime of coeff_modulus is the special prime (n_special = 1 unless the optional
 * "special_primes" says otherwise). */
typedef struct hg_he_params {
    hg_ckks_params_lit lit;
    bool complex_packing;
} hg_he_params;

/* Parses a JSON parameter file's text. HG_ERR_FORMAT for malformed JSON or a field of the wrong
 * type, HG_ERR_PARAMS for a value out of range; unknown fields are errors too. Security is
 * checked when the parameters are built (hg_ckks_params_new). */
HG_API hg_status hg_he_params_parse_json(const char *text, size_t len, hg_he_params *out) HG_WUR;
/* Writes the JSON form of p into buf (NUL-terminated); HG_ERR_INVALID_ARG if cap is too small. */
HG_API hg_status hg_he_params_to_json(const hg_he_params *p, char *buf, size_t cap) HG_WUR;

/* Automatic choice: the smallest ring degree and chain that hold the graph's largest depth
 * between client activations at 128-bit security, with a scale of at least 2^scale_bits (a
 * precision target: about scale_bits - log2(N)/2 - 4 bits survive one fresh encryption),
 * headroom_bits of integer range above the scale, and complex packing as requested. The
 * modulus left at that degree then raises the scale, with the same number of primes, up to
 * 2^28 (q_0 up to 39 bits: the linear engine's fast paths). A chain without a special prime is
 * tried first at each size (the planner refuses it for a model that switches keys); when it
 * compiles, q_0 of 39 bits with fewer, larger data primes (the scale at their size) is then
 * preferred if it compiles with a larger scale. The graph must have been optimized.
 * HG_ERR_PARAMS when no set up to N = 2^16 fits. */
HG_API hg_status hg_he_params_auto(const hg_graph *g, int scale_bits, int headroom_bits,
                                   bool complex_packing, hg_he_params *out) HG_WUR;

/* ---- the compiled model ----------------------------------------------------------------------- */

typedef struct hg_he_model hg_he_model;

/* Compiles an optimized graph (hg_graph_optimize) for a context, options and largest batch.
 * Checks that every node can run encrypted (ops that need the client go through it; Transpose,
 * Reshape, Concat and the like must keep the batch axis), that the batch fits the slots
 * (HG_ERR_INVALID_ARG naming both numbers), and that the levels suffice (HG_ERR_LEVEL naming the
 * node where the depth runs out). The graph must outlive the model. */
HG_API hg_status hg_he_model_new(const hg_graph *g, const hg_ckks_ctx *ctx, const hg_he_opts *o,
                                 size_t batch, hg_he_model **out) HG_WUR;
HG_API void hg_he_model_free(hg_he_model *m);
/* Samples per batch the parameters allow: N/2, or N with complex packing. */
HG_API size_t hg_he_model_capacity(const hg_he_model *m);
/* Whether the server needs the relinearization key, and which Galois elements (conjugation
 * for complex packing: 2N - 1). Returns the number of elements, writing at most cap. */
HG_API bool hg_he_model_needs_relin(const hg_he_model *m);
HG_API size_t hg_he_model_galois_elts(const hg_he_model *m, uint64_t *elts, size_t cap);
/* Allocates (and touches) the buffers a run will use, so that runs do not pay for first use
 * of fresh memory (page faults and zeroing by the kernel): a set-up cost, paid once. The buffers
 * are kept by the model and reused by every run. */
HG_API hg_status hg_he_model_reserve(hg_he_model *m) HG_WUR;
/* Predicted peak memory of a run (ciphertexts, encoded weights and scratch), in bytes. */
HG_API size_t hg_he_model_peak_bytes(const hg_he_model *m);
/* Number of rescales, relinearizations and client round trips the plan makes per batch. */
typedef struct hg_he_plan_stats {
    size_t rescales, relins, conjugations, client_calls, masked_calls, ct_ct_products;
    int levels_used; /* largest number of levels consumed between fresh encryptions */
} hg_he_plan_stats;
HG_API void hg_he_model_stats(const hg_he_model *m, hg_he_plan_stats *s);

/* ---- cipher tensors ------------------------------------------------------------------------------ */

typedef struct hg_he_tensor hg_he_tensor;

HG_API void hg_he_tensor_free(hg_he_tensor *t);
/* Number of ciphertexts (the product of the non-batch dimensions). */
HG_API size_t hg_he_tensor_count(const hg_he_tensor *t);
/* Shape, batch included (axis 0). */
HG_API void hg_he_tensor_shape(const hg_he_tensor *t, hg_shape *shape);
HG_API int hg_he_tensor_level(const hg_he_tensor *t);
HG_API double hg_he_tensor_scale(const hg_he_tensor *t);
/* Bytes of the serialized ciphertexts (seeded where fresh). */
HG_API size_t hg_he_tensor_bytes(const hg_he_tensor *t);

/* ---- the client ------------------------------------------------------------------------------------ */

typedef struct hg_he_client hg_he_client;

/* A client for a context, holding the secret key (borrowed: it must outlive the client). */
HG_API hg_status hg_he_client_new(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk,
                                  bool complex_packing, int threads, hg_he_client **out) HG_WUR;
HG_API void hg_he_client_free(hg_he_client *c);
/* Encrypts a batch (axis 0 is the batch; at most the capacity) at the top level and default
 * scale, one ciphertext per coordinate, with seeded secret-key encryption. */
HG_API hg_status hg_he_client_encrypt(hg_he_client *c, const hg_ndarray *batch,
                                      hg_he_tensor **out) HG_WUR;
/* Decrypts a tensor into a new float64 array of its shape. */
HG_API hg_status hg_he_client_decrypt(hg_he_client *c, const hg_he_tensor *t,
                                      hg_ndarray **out) HG_WUR;

/* An activation request: what the client applies in the clear to a decrypted tensor. It is
 * self-contained (the client does not have the model) and serializable.
 *   unmasked: the model's op with its attributes and shapes (batch included);
 *   masked:   an element-wise Relu (op HG_OP_RELU) on every ciphertext, or, for MaxPool
 *             (op HG_OP_MAXPOOL), the slot-wise maximum of each group of `group` consecutive
 *             ciphertexts; the shapes are then just (batch, count) and say nothing of the
 *             model. */
typedef struct hg_he_activation {
    hg_op op; /* Relu, Relu6, Clip, LeakyRelu, Sigmoid, Tanh, Softmax, MaxPool */
    bool masked;
    uint32_t group;
    hg_shape in_shape, out_shape;
    double alpha;              /* LeakyRelu */
    double clip_min, clip_max; /* Clip, Relu6 */
    int64_t axis;              /* Softmax */
    bool legacy;               /* Softmax before opset 13: over the flattened axes >= axis */
    int n_spatial;             /* MaxPool */
    int64_t kernel[3], strides[3], pads[6], dilations[3];
    bool ceil_mode;
} hg_he_activation;

/* The in-process client's answer: decrypt `in`, apply the activation, encrypt the result fresh
 * at the top level and default scale (seeded) into *out. HG_ERR_PROTOCOL when the request is
 * inconsistent (shapes that do not match the tensor, an op a client does not evaluate). */
HG_API hg_status hg_he_client_activate(hg_he_client *c, const hg_he_activation *act,
                                       const hg_he_tensor *in, hg_he_tensor **out) HG_WUR;

/* Serialization of requests, for the network: validated when read (HG_ERR_FORMAT). */
HG_API size_t hg_he_activation_size(void);
HG_API hg_status hg_he_activation_write(const hg_he_activation *a, void *buf, size_t cap,
                                        size_t *written) HG_WUR;
HG_API hg_status hg_he_activation_read(const void *buf, size_t len,
                                       hg_he_activation *a) HG_WUR;

/* Serialization of cipher tensors: a header (shape, level, components, scale, packing) and
 * each ciphertext in the ckks layer's format (seeded when fresh). Reading checks every length
 * and residue, the parameters' fingerprint, and that every ciphertext has the announced state;
 * max_count bounds the ciphertexts accepted (a resource limit), 0 for no bound beyond
 * HG_MAX_ELEMENTS. */
HG_API size_t hg_he_tensor_size_bytes(const hg_he_tensor *t);
HG_API hg_status hg_he_tensor_write(const hg_he_tensor *t, void *buf, size_t cap,
                                    size_t *written) HG_WUR;
HG_API hg_status hg_he_tensor_read(const hg_ckks_ctx *ctx, const void *buf, size_t len,
                                   size_t max_count, hg_he_tensor **out) HG_WUR;
/* Ciphertexts [from, from + n) of t as a new tensor of shape (batch, n), and the reverse: copy
 * the ciphertexts of `part` into t from index `from` (same level, components and scale). For
 * requests sent in pieces. */
HG_API hg_status hg_he_tensor_slice(const hg_he_tensor *t, size_t from, size_t n,
                                    hg_he_tensor **out) HG_WUR;
HG_API hg_status hg_he_tensor_paste(hg_he_tensor *t, size_t from,
                                    const hg_he_tensor *part) HG_WUR;
/* A tensor shaped like the planned answer to a request, to paste pieces into. */
HG_API hg_status hg_he_tensor_new_empty(const hg_ckks_ctx *ctx, const hg_shape *shape, int level,
                                        int size, double scale, bool complex_packing,
                                        hg_he_tensor **out) HG_WUR;
HG_API bool hg_he_tensor_complex(const hg_he_tensor *t);
HG_API int hg_he_tensor_components(const hg_he_tensor *t);

/* How the server reaches the client: the in-process client (hg_he_client_activate) or, later,
 * a network peer. */
typedef hg_status (*hg_he_client_fn)(void *user, const hg_he_activation *act,
                                     const hg_he_tensor *in, hg_he_tensor **out);

/* ---- running ---------------------------------------------------------------------------------------- */

typedef struct hg_he_run_opts {
    hg_he_client_fn client; /* required when the graph has client activations */
    void *client_user;
    /* The client's public key: masked requests are re-randomized with a fresh encryption of
     * zero and flooding noise. Without it they are sent as computed. */
    const hg_ckks_pk *pk;
    hg_progress_fn progress; /* optional: called after each node */
    void *progress_user;
} hg_he_run_opts;

/* Per-run measurements. */
typedef struct hg_he_run_stats {
    double server_seconds; /* total minus time spent in the client callback */
    double client_seconds;
    size_t peak_bytes; /* largest memory held by ciphertexts during the run */
} hg_he_run_stats;

/* Runs the model on encrypted inputs (one tensor per graph input, all with one batch of at most
 * the model's)
 * with the evaluation keys (rlk may be NULL if the model does not need it; gk likewise), and
 * stores one new tensor per graph output. On failure no output is allocated. */
HG_API hg_status hg_he_run(const hg_he_model *m, const hg_ckks_rlk *rlk, const hg_ckks_gk *gk,
                           hg_he_tensor *const *inputs, size_t n_inputs,
                           const hg_he_run_opts *ro, hg_he_tensor **outputs,
                           hg_he_run_stats *stats) HG_WUR;

/* One call for everything in one process: encrypts `inputs` with a client, runs, decrypts. */
HG_API hg_status hg_he_run_local(const hg_he_model *m, hg_he_client *c, const hg_ckks_rlk *rlk,
                                 const hg_ckks_gk *gk, const hg_ndarray *const *inputs,
                                 size_t n_inputs, hg_ndarray **outputs,
                                 hg_he_run_stats *stats) HG_WUR;

#ifdef __cplusplus
}
#endif
#endif
