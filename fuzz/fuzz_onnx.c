/*
 * The ONNX model loader on untrusted bytes: hg_onnx_load, then, for a model that loads, the
 * passes a server runs before planning (hg_graph_optimize with a batch of 1: constant folding,
 * batch-norm folding, shape inference) and the depth report of `hegraph info`.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hg_graph *g = NULL;
    if (hg_onnx_load(data, size, &g) != HG_OK)
        return 0;
    if (hg_graph_optimize(g, 1) == HG_OK) {
        hg_depth_report r;
        if (hg_graph_depth_report(g, &r) == HG_OK)
            hg_depth_report_clear(&r);
    }
    hg_graph_free(g);
    return 0;
}
