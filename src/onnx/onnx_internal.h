/* onnx: internal helpers shared by the model loader and the TensorProto reader/writer. */
#ifndef HG_ONNX_INTERNAL_H
#define HG_ONNX_INTERNAL_H

#include "graph/graph.h"
#include "hegraph/hg_onnx.h"
#include "onnx/onnx.pb-c.h"

/* Decodes and validates a TensorProto: dtype must be FLOAT, DOUBLE or INT64 (others are
 * HG_ERR_UNSUPPORTED), rank <= HG_MAX_RANK, at most HG_MAX_ELEMENTS elements, and the data
 * (raw_data or the typed field) must hold exactly prod(dims) elements (HG_ERR_FORMAT).
 * Float data goes to a new *f64, int64 data to a new *i64 (free with hg_free). what names the
 * tensor in error messages. */
hg_status hg_onnx_tensor_decode(const Onnx__TensorProto *t, const char *what, hg_shape *shape,
                                hg_dtype *dtype, double **f64, int64_t **i64) HG_WUR;

/* Name of an ONNX TensorProto data type ("UINT8"), or NULL if unknown. */
const char *hg_onnx_dtype_name(int32_t t);

/* Reads a whole file (at most HG_ONNX_MAX_FILE_BYTES) into a new buffer (free with free()). */
hg_status hg_onnx_read_file(const char *path, uint8_t **data, size_t *n_bytes) HG_WUR;

#endif
