/*
 * hegraph onnx layer: ONNX models (ModelProto) to graphs, and TensorProto files (.pb, the
 * layout of ONNX's backend tests) to and from dense arrays.
 *
 * Everything read is validated: a malformed file gives HG_ERR_FORMAT, an op, attribute or
 * data type outside the supported set (docs/onnx.md) gives HG_ERR_UNSUPPORTED naming the op,
 * the node and the attribute. Opsets 9 to 17 of the default domain are supported; a model of
 * an older opset is accepted when every op it uses already had its current semantics then
 * (ONNX's node tests for GlobalAveragePool, for instance, declare opset 1).
 */
#ifndef HEGRAPH_HG_ONNX_H
#define HEGRAPH_HG_ONNX_H

#include "hegraph/hg_common.h"
#include "hegraph/hg_graph.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest model or tensor file accepted (1 GiB). */
#define HG_ONNX_MAX_FILE_BYTES ((size_t)1 << 30)
/* Most tensors (initializers, graph inputs and node outputs, together) and most node inputs
 * (references to tensors, over all nodes) a model may have; HG_ERR_LIMIT above. Far beyond the
 * networks CKKS inference is for (MobileNetV2 has about 400 tensors), and low enough that a
 * hostile model cannot make the loader and the graph passes use much memory or time. */
#define HG_ONNX_MAX_TENSORS    8192
#define HG_ONNX_MAX_REFS       32768
#define HG_ONNX_MIN_OPSET      9
#define HG_ONNX_MAX_OPSET      17

/* Parses a serialized ModelProto into a new graph (*out, freed with hg_graph_free). The graph
 * is as in the file (Constant nodes become constants, operands that are already constant are
 * checked); run hg_graph_optimize before hg_plain_run. */
HG_API hg_status hg_onnx_load(const void *data, size_t n_bytes, hg_graph **out) HG_WUR;
/* Same from a file; HG_ERR_IO when it cannot be read. */
HG_API hg_status hg_onnx_load_file(const char *path, hg_graph **out) HG_WUR;

/* Reads a serialized TensorProto (FLOAT, DOUBLE or INT64, data in raw_data or the typed
 * fields) into a new array (*out). *name (optional) receives a copy of the tensor's name, to
 * free with free(); *dtype (optional) its type. */
HG_API hg_status hg_onnx_tensor_read(const void *data, size_t n_bytes, hg_ndarray **out,
                                     char **name, hg_dtype *dtype) HG_WUR;
HG_API hg_status hg_onnx_tensor_read_file(const char *path, hg_ndarray **out, char **name,
                                          hg_dtype *dtype) HG_WUR;
/* Writes a as a TensorProto named name (may be NULL) of type dtype, data in raw_data
 * (little-endian; float32 rounds). */
HG_API hg_status hg_onnx_tensor_write_file(const char *path, const hg_ndarray *a, const char *name,
                                           hg_dtype dtype) HG_WUR;

#ifdef __cplusplus
}
#endif
#endif
