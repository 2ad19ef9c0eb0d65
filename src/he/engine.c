/*
 * The linear engine: a linear layer Y = A X + b over cipher tensors is a modular matrix product
 * over ciphertext lanes. Every lane (component c, limb i, coefficient k) of every output is the
 * same integer combination of the same lane of the inputs, modulo the lane's prime:
 *     Y[o][lane] = sum_i W[o][i] X[i][lane]  (mod q(lane)).
 * The work is cut into blocks of rows x lanes (a lane block stays within one limb, so one
 * prime) that fit the cache, spread over threads with OpenMP.
 */
#include "he.h"

#include <omp.h>
#include <pthread.h>

#define HE_WIDE_NAME he_block_portable_wide
#define HE_KERNEL_NAME he_block_portable
#include "engine_kernel.h"

typedef void (*block_fn)(const he_block *b);

static block_fn kernel;
static pthread_once_t kernel_once = PTHREAD_ONCE_INIT;

static void pick_kernel(void) {
    kernel = he_block_portable;
#if defined(HG_HAVE_AVX512)
    if (hg_simd_detect() >= HG_SIMD_AVX512)
        kernel = he_block_avx512;
#endif
}

/* Rows per block: enough work per task, few enough that the lanes of the inputs they read stay
 * in cache between rows. */
#define ROW_BLOCK 16

hg_status he_engine_apply(const he_linear *lin, const hg_he_tensor *x, hg_he_tensor *y,
                          bool skip_zero, bool accumulate) {
    pthread_once(&kernel_once, pick_kernel);
    if (x->level != y->level || x->size != y->size || y->count != lin->n_rows ||
        x->count != lin->n_cols)
        return hg_fail(HG_ERR_INTERNAL, "linear engine: tensors do not match the layer");
    const hg_ckks_ctx *ctx = x->ctx;
    const size_t n = ctx->n, limbs = (size_t)x->level + 1, comps = (size_t)x->size;
    const size_t lane_blocks = (n + HE_BLOCK_LANES - 1) / HE_BLOCK_LANES;
    const size_t row_blocks = (lin->n_rows + ROW_BLOCK - 1) / ROW_BLOCK;
    const size_t tasks = comps * limbs * lane_blocks * row_blocks;
    double q_inv[HG_CKKS_MAX_PRIMES];
    for (size_t i = 0; i < limbs; i++)
        q_inv[i] = 1.0 / (double)ctx->prime[i].mod.q;
    /* Task order: row blocks innermost, so that consecutive tasks of a thread reuse the same
     * lanes of the inputs. */
#pragma omp parallel for schedule(dynamic, 4)
    for (size_t t = 0; t < tasks; t++) {
        size_t rb = t % row_blocks, rest = t / row_blocks;
        size_t lb = rest % lane_blocks;
        rest /= lane_blocks;
        size_t i = rest % limbs, c = rest / limbs;
        he_block b = {
            .lin = lin,
            .x = x->data,
            .y = y->data,
            .x_stride = x->stride,
            .y_stride = y->stride,
            .slab = (c * limbs + i) * n + lb * HE_BLOCK_LANES,
            .lanes = n - lb * HE_BLOCK_LANES < HE_BLOCK_LANES ? n - lb * HE_BLOCK_LANES
                                                             : HE_BLOCK_LANES,
            .lane0 = lb * HE_BLOCK_LANES,
            .half = n / 2,
            .r0 = rb * ROW_BLOCK,
            .r1 = (rb + 1) * ROW_BLOCK < lin->n_rows ? (rb + 1) * ROW_BLOCK : lin->n_rows,
            .q = ctx->prime[i].mod.q,
            .q_inv = q_inv[i],
            .bias = c == 0 && lin->bias ? lin->bias + i : NULL,
            .bias_i = c == 0 && lin->bias_i ? lin->bias_i + i : NULL,
            .skip_zero = skip_zero,
            .accumulate = accumulate,
        };
        kernel(&b);
    }
    return HG_OK;
}
