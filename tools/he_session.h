/* The CLI's encrypted session: parameters (a JSON file or the automatic choice), context, keys,
 * the client and the compiled model, in one process. */
#ifndef HG_TOOLS_HE_SESSION_H
#define HG_TOOLS_HE_SESSION_H

#include "hegraph/hegraph.h"

#include <stdio.h>

typedef struct cli_he {
    hg_he_params hp;
    hg_ckks_params *params;
    hg_ckks_ctx *ctx;
    hg_ckks_sk *sk;
    hg_ckks_pk *pk; /* for the re-randomization of masked requests */
    hg_ckks_rlk *rlk;
    hg_ckks_gk *gk;
    hg_he_client *client;
    hg_he_model *model;
    hg_he_opts opts;
    double keygen_seconds;
} cli_he;

/* Parameters from a JSON file (path non-NULL) or chosen for the graph (optimized first):
 * scale 2^24 with 6 bits of headroom, as nGraph-HE2's CryptoNets set. */
hg_status cli_he_params(const hg_graph *g, const char *path, bool complex_packing,
                        hg_he_params *out);
/* Context, keys (relinearization and Galois only as the model needs), client and model for
 * batches of up to `batch` samples (0: the capacity). opts->complex_packing is set from the
 * parameters. The model's predicted peak memory must stay under max_memory bytes (0: 90% of
 * the machine's RAM): tiles are made smaller until it does, and HG_ERR_LIMIT says by how much
 * it does not. */
hg_status cli_he_open(cli_he *h, const hg_graph *g, const hg_he_params *hp,
                      const hg_he_opts *opts, size_t batch, size_t max_memory);
/* The default memory limit: 90% of the physical memory. */
size_t cli_default_max_memory(void);
void cli_he_close(cli_he *h);

/* Prints the parameters on one line: N, primes, scale, packing, modulus bits and security. */
void cli_he_print_params(FILE *f, const hg_he_params *hp, const hg_ckks_params *p);

/* Peak resident memory of the process so far, in bytes. */
size_t cli_peak_rss(void);

#endif
