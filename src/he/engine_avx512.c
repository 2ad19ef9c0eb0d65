/* The linear engine's block kernel compiled for AVX-512 (see engine_kernel.h); called only
 * after a run-time CPU check. */
#include "he.h"

#define HE_WIDE_NAME he_block_avx512_wide
#define HE_KERNEL_NAME he_block_avx512
#include "engine_kernel.h"
