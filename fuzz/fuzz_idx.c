/* IDX data files (raw or gzip) on untrusted bytes: hg_idx_read, keeping every item or only the
 * first few (the first input byte chooses). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int64_t max_items = data[0] & 0x80 ? (int64_t)(data[0] & 0x7f) : 0;
    hg_ndarray *a = NULL;
    if (hg_idx_read(data + 1, size - 1, max_items, &a) == HG_OK)
        hg_ndarray_free(a);
    return 0;
}
