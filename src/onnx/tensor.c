/* TensorProto: validation and decoding, and the .pb files of ONNX's backend-test layout. */
#include "onnx_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *hg_onnx_dtype_name(int32_t t) {
    static const char *const names[] = {"UNDEFINED",  "FLOAT",   "UINT8",  "INT8",   "UINT16",
                                        "INT16",      "INT32",   "INT64",  "STRING", "BOOL",
                                        "FLOAT16",    "DOUBLE",  "UINT32", "UINT64", "COMPLEX64",
                                        "COMPLEX128", "BFLOAT16"};
    if (t < 0 || (size_t)t >= sizeof names / sizeof names[0])
        return NULL;
    return names[t];
}

/* Little-endian loads, independent of the host's byte order. */
static uint64_t load_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void store_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

hg_status hg_onnx_tensor_decode(const Onnx__TensorProto *t, const char *what, hg_shape *shape,
                                hg_dtype *dtype, double **f64, int64_t **i64) {
    *f64 = NULL;
    *i64 = NULL;
    int32_t dt = t->has_data_type ? t->data_type : 0;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        *dtype = HG_DTYPE_FLOAT32;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        *dtype = HG_DTYPE_FLOAT64;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        *dtype = HG_DTYPE_INT64;
        break;
    default: {
        const char *nm = hg_onnx_dtype_name(dt);
        if (!nm || dt == 0)
            return hg_fail(HG_ERR_FORMAT, "tensor '%s': invalid data type %d", what, (int)dt);
        return hg_fail(HG_ERR_UNSUPPORTED,
                       "tensor '%s': data type %s (supported: FLOAT, DOUBLE, INT64)", what, nm);
    }
    }
    if (t->segment)
        return hg_fail(HG_ERR_UNSUPPORTED, "tensor '%s': segmented tensors", what);
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return hg_fail(HG_ERR_UNSUPPORTED, "tensor '%s': external data", what);
    if (t->n_dims > HG_MAX_RANK)
        return hg_fail(HG_ERR_FORMAT, "tensor '%s': rank %zu above %d", what, t->n_dims,
                       HG_MAX_RANK);
    shape->rank = (int)t->n_dims;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0)
            return hg_fail(HG_ERR_FORMAT, "tensor '%s': negative dim %lld", what,
                           (long long)t->dims[i]);
        shape->dims[i] = t->dims[i];
    }
    int64_t count;
    if (!hg_shape_count(shape, &count))
        return hg_fail(HG_ERR_FORMAT, "tensor '%s': more than %lld elements", what,
                       (long long)HG_MAX_ELEMENTS);
    size_t n = (size_t)count;
    size_t elem = *dtype == HG_DTYPE_FLOAT32 ? 4 : 8;
    size_t typed = *dtype == HG_DTYPE_FLOAT32   ? t->n_float_data
                   : *dtype == HG_DTYPE_FLOAT64 ? t->n_double_data
                                                : t->n_int64_data;
    if (t->has_raw_data) {
        if (typed)
            return hg_fail(HG_ERR_FORMAT, "tensor '%s': data in both raw_data and typed field",
                           what);
        if (t->raw_data.len != n * elem)
            return hg_fail(HG_ERR_FORMAT, "tensor '%s': raw_data has %zu bytes, shape needs %zu",
                           what, t->raw_data.len, n * elem);
    } else if (typed != n) {
        return hg_fail(HG_ERR_FORMAT, "tensor '%s': %zu values for %zu elements", what, typed, n);
    }
    if (*dtype == HG_DTYPE_INT64) {
        int64_t *d = hg_alloc_array(n, sizeof *d);
        if (!d)
            return HG_ERR_NOMEM;
        for (size_t i = 0; i < n; i++)
            d[i] =
                t->has_raw_data ? (int64_t)load_le(t->raw_data.data + 8 * i, 8) : t->int64_data[i];
        *i64 = d;
        return HG_OK;
    }
    double *d = hg_alloc_array(n, sizeof *d);
    if (!d)
        return HG_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (*dtype == HG_DTYPE_FLOAT32) {
            float f;
            if (t->has_raw_data) {
                uint32_t u = (uint32_t)load_le(t->raw_data.data + 4 * i, 4);
                memcpy(&f, &u, sizeof f);
            } else {
                f = t->float_data[i];
            }
            d[i] = f;
        } else {
            if (t->has_raw_data) {
                uint64_t u = load_le(t->raw_data.data + 8 * i, 8);
                memcpy(&d[i], &u, sizeof d[i]);
            } else {
                d[i] = t->double_data[i];
            }
        }
    }
    *f64 = d;
    return HG_OK;
}

hg_status hg_onnx_read_file(const char *path, uint8_t **data, size_t *n_bytes) {
    *data = NULL;
    *n_bytes = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return hg_fail(HG_ERR_IO, "%s: %s", path, strerror(errno));
    hg_status s = HG_OK;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            if (nc > HG_ONNX_MAX_FILE_BYTES + 1)
                nc = HG_ONNX_MAX_FILE_BYTES + 1;
            if (nc == cap) {
                s = hg_fail(HG_ERR_FORMAT, "%s: larger than %zu bytes", path,
                            (size_t)HG_ONNX_MAX_FILE_BYTES);
                goto out;
            }
            uint8_t *nb = realloc(buf, nc);
            if (!nb) {
                s = hg_fail(HG_ERR_NOMEM, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) {
            if (ferror(f))
                s = hg_fail(HG_ERR_IO, "%s: read error", path);
            break;
        }
    }
out:
    fclose(f);
    if (s != HG_OK) {
        free(buf);
        return s;
    }
    *data = buf;
    *n_bytes = len;
    return HG_OK;
}

hg_status hg_onnx_tensor_read(const void *data, size_t n_bytes, hg_ndarray **out, char **name,
                              hg_dtype *dtype) {
    *out = NULL;
    if (name)
        *name = NULL;
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, n_bytes, data);
    if (!t)
        return hg_fail(HG_ERR_FORMAT, "not a valid TensorProto (protobuf parse failed)");
    hg_shape s;
    hg_dtype dt;
    double *f = NULL;
    int64_t *i = NULL;
    hg_ndarray *a = NULL;
    char *nm = NULL;
    hg_status st = hg_onnx_tensor_decode(t, t->name ? t->name : "", &s, &dt, &f, &i);
    if (st != HG_OK)
        goto out;
    st = hg_ndarray_new(s.rank, s.dims, &a);
    if (st != HG_OK)
        goto out;
    for (size_t k = 0; k < a->size; k++)
        a->data[k] = i ? (double)i[k] : f[k];
    if (name) {
        const char *src = t->name ? t->name : "";
        nm = malloc(strlen(src) + 1);
        if (!nm) {
            st = hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
            goto out;
        }
        strcpy(nm, src);
    }
out:
    onnx__tensor_proto__free_unpacked(t, NULL);
    hg_free(f);
    hg_free(i);
    if (st != HG_OK) {
        hg_ndarray_free(a);
        free(nm);
        return st;
    }
    *out = a;
    if (name)
        *name = nm;
    if (dtype)
        *dtype = dt;
    return HG_OK;
}

hg_status hg_onnx_tensor_read_file(const char *path, hg_ndarray **out, char **name,
                                   hg_dtype *dtype) {
    uint8_t *buf;
    size_t len;
    *out = NULL;
    HG_TRY(hg_onnx_read_file(path, &buf, &len));
    hg_status s = hg_onnx_tensor_read(buf, len, out, name, dtype);
    free(buf);
    if (s != HG_OK) {
        char detail[400];
        snprintf(detail, sizeof detail, "%s", hg_last_error());
        return hg_fail(s, "%s: %s", path, detail);
    }
    return HG_OK;
}

hg_status hg_onnx_tensor_write_file(const char *path, const hg_ndarray *a, const char *name,
                                    hg_dtype dtype) {
    Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[HG_MAX_RANK];
    if (a->rank < 0 || a->rank > HG_MAX_RANK)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: rank %d", __func__, a->rank);
    for (int i = 0; i < a->rank; i++)
        dims[i] = a->dims[i];
    t.n_dims = (size_t)a->rank;
    t.dims = dims;
    t.has_data_type = 1;
    int elem = 8;
    switch (dtype) {
    case HG_DTYPE_FLOAT32:
        t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        elem = 4;
        break;
    case HG_DTYPE_FLOAT64:
        t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
        break;
    case HG_DTYPE_INT64:
        t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
        break;
    default:
        return hg_fail(HG_ERR_INVALID_ARG, "%s: data type %d", __func__, (int)dtype);
    }
    t.name = (char *)(name ? name : "");
    uint8_t *raw = hg_alloc_array(a->size, (size_t)elem);
    if (!raw)
        return HG_ERR_NOMEM;
    for (size_t i = 0; i < a->size; i++) {
        if (dtype == HG_DTYPE_FLOAT32) {
            float f = (float)a->data[i];
            uint32_t u;
            memcpy(&u, &f, sizeof u);
            store_le(raw + 4 * i, u, 4);
        } else if (dtype == HG_DTYPE_FLOAT64) {
            uint64_t u;
            memcpy(&u, &a->data[i], sizeof u);
            store_le(raw + 8 * i, u, 8);
        } else {
            store_le(raw + 8 * i, (uint64_t)(int64_t)a->data[i], 8);
        }
    }
    t.has_raw_data = 1;
    t.raw_data.data = raw;
    t.raw_data.len = a->size * (size_t)elem;
    size_t len = onnx__tensor_proto__get_packed_size(&t);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        hg_free(raw);
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    }
    onnx__tensor_proto__pack(&t, buf);
    hg_free(raw);
    hg_status s = HG_OK;
    FILE *f = fopen(path, "wb");
    if (!f) {
        s = hg_fail(HG_ERR_IO, "%s: %s", path, strerror(errno));
    } else {
        if (fwrite(buf, 1, len, f) != len)
            s = hg_fail(HG_ERR_IO, "%s: write error", path);
        if (fclose(f) != 0 && s == HG_OK)
            s = hg_fail(HG_ERR_IO, "%s: %s", path, strerror(errno));
    }
    free(buf);
    return s;
}
