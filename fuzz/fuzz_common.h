/*
 * Shared by the fuzz harnesses (fuzz/fuzz_*.c) and by the corpus generator (fuzz/make_corpus.c).
 *
 * Each harness defines LLVMFuzzerTestOneInput (and, when it needs set-up, LLVMFuzzerInitialize).
 * Built with -DHG_FUZZ=ON and clang, they are libFuzzer targets; in the normal build the same
 * files are linked with fuzz/replay.c into replay_<harness> executables that feed the committed
 * corpus and the regression inputs (fuzz/regressions/<harness>/) through the same entry points,
 * with gcc, under ctest.
 *
 * Every harness works with one parameter set: N = 1024 and primes of 30, 20 and 30 bits
 * (insecure, for speed and small seeds). The primes are chosen deterministically, so the
 * parameters' fingerprint, and with it every committed seed, stays valid from run to run.
 */
#ifndef HG_FUZZ_COMMON_H
#define HG_FUZZ_COMMON_H

#include "hegraph/hegraph.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The harnesses' parameter set: insecure, N = 1024, q0 34 bits (a masked activation needs 13
 * bits above a product's 40), q1 20 bits, special 30 bits, scale 2^20. */
static inline hg_ckks_params_lit fuzz_params_lit(void) {
    hg_ckks_params_lit l = {.log_n = 10,
                            .n_primes = 3,
                            .bits = {34, 20, 30},
                            .n_special = 1,
                            .scale = 0x1p20,
                            .insecure = true};
    return l;
}

/* A result a harness does not need: any status is fine, only crashes, leaks and hangs are
 * findings. */
static inline void fuzz_ignore(hg_status s) {
    (void)s;
}

/* Set-up failures are bugs of the harness, not findings: stop loudly. */
static inline void fuzz_check(hg_status s, const char *what) {
    if (s != HG_OK) {
        fprintf(stderr, "fuzz set-up: %s: %s: %s\n", what, hg_status_name(s), hg_last_error());
        abort();
    }
}

/* A context for the harnesses' parameters (made once, never freed: it lives as long as the
 * process). */
static inline const hg_ckks_ctx *fuzz_ctx(void) {
    static hg_ckks_ctx *ctx;
    if (!ctx) {
        hg_ckks_params_lit lit = fuzz_params_lit();
        hg_ckks_params *p;
        fuzz_check(hg_ckks_params_new(&lit, &p), "parameters");
        fuzz_check(hg_ckks_ctx_new(p, &ctx), "context");
        hg_ckks_params_free(p);
    }
    return ctx;
}

#endif
