/* TensorProto files (the inputs and reference outputs of `hegraph eval`): hg_onnx_tensor_read
 * on untrusted bytes, with and without the name and type outputs. */
#include "fuzz_common.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hg_ndarray *a = NULL;
    char *name = NULL;
    hg_dtype dt;
    if (hg_onnx_tensor_read(data, size, &a, &name, &dt) == HG_OK) {
        hg_ndarray_free(a);
        free(name);
        /* The same bytes without the optional outputs take the same path. */
        if (hg_onnx_tensor_read(data, size, &a, NULL, NULL) == HG_OK)
            hg_ndarray_free(a);
    }
    return 0;
}
