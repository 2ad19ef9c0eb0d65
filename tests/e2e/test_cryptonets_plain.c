/* The committed CryptoNets models (models/cryptonets_*.onnx) on the plain float64 backend,
 * against PyTorch: the passes turn x*x into Square, the predictions on the whole test set give
 * the test accuracy recorded by scripts/train_cryptonets.py (models/cryptonets_*.json) up to a
 * couple of images (float32 there, float64 here), and the logits of the first test images
 * match PyTorch's. Needs the data sets: scripts/setup.sh --data. */
#include "test_common.h"

#include "hegraph/hegraph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* float32 versus float64 may flip an argmax where two logits nearly tie. */
#define MAX_DIFFERENT_COUNT 2
/* Logits are at most about 8 in magnitude; float32 accumulation errs by ~1e-5 there. */
#define LOGIT_TOL 1e-3
/* The whole test set on two cores takes well under a second; this only catches a gross
 * slowdown on a busy machine. */
#define MAX_SECONDS 30.0

typedef struct reference {
    long test_images;
    long test_correct;
    size_t n_logits;
    double logits[64 * 10];
} reference;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        fail();
    }
    char *s = calloc(1, 1 << 20);
    assert_non_null(s);
    size_t n = fread(s, 1, (1 << 20) - 1, f);
    fclose(f);
    s[n] = '\0';
    return s;
}

/* The number after "key": in a JSON text written by the training script. */
static long json_long(const char *text, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    if (!p) {
        fprintf(stderr, "key %s missing from the model's JSON\n", key);
        fail();
    }
    return strtol(p + strlen(pat), NULL, 10);
}

static void read_reference(const char *json_path, reference *ref) {
    char *text = read_text(json_path);
    ref->test_images = json_long(text, "test_images");
    ref->test_correct = json_long(text, "test_correct");
    /* "reference_logits": [[...], ...]: every number up to the matching close bracket. */
    const char *p = strstr(text, "\"reference_logits\":");
    assert_non_null(p);
    p = strchr(p, '[');
    assert_non_null(p);
    int depth = 0;
    ref->n_logits = 0;
    do {
        if (*p == '[') {
            depth++;
            p++;
        } else if (*p == ']') {
            depth--;
            p++;
        } else if (*p == ',' || *p == ' ' || *p == '\n') {
            p++;
        } else {
            char *end;
            double v = strtod(p, &end);
            assert_true(end != p);
            assert_true(ref->n_logits < sizeof ref->logits / sizeof ref->logits[0]);
            ref->logits[ref->n_logits++] = v;
            p = end;
        }
    } while (depth > 0 && *p);
    assert_int_equal(ref->n_logits % 10, 0);
    free(text);
}

static void assert_ops(const hg_graph *g, const char *want) {
    char buf[256] = "";
    for (size_t i = 0; i < hg_graph_n_nodes(g); i++) {
        if (i)
            strncat(buf, ",", sizeof buf - strlen(buf) - 1);
        strncat(buf, hg_op_get_info(hg_graph_node_op(g, i))->name, sizeof buf - strlen(buf) - 1);
    }
    if (strcmp(buf, want)) {
        fprintf(stderr, "ops: %s, expected %s\n", buf, want);
        fail();
    }
}

static void check_model(const char *stem, hg_dataset dataset) {
    /* Paths are relative to the source tree; the data is found from there too. */
    const char *src = getenv("HG_SOURCE_DIR");
    if (src && *src)
        assert_int_equal(chdir(src), 0);
    char model_path[256], json_path[256];
    snprintf(model_path, sizeof model_path, "models/%s.onnx", stem);
    snprintf(json_path, sizeof json_path, "models/%s.json", stem);
    reference ref;
    read_reference(json_path, &ref);

    hg_ndarray *images = NULL, *labels = NULL;
    hg_status s = hg_data_load(dataset, HG_DATA_TEST, 0, &images, &labels);
    if (s != HG_OK) {
        fprintf(stderr,
                "%s test set unavailable (%s): %s\nInstall the data sets with "
                "`scripts/setup.sh --data` (CI does).\n",
                hg_dataset_name(dataset), hg_status_name(s), hg_last_error());
        fail();
    }
    assert_int_equal(images->dims[0], ref.test_images);

    hg_graph *g = NULL;
    hg_assert_ok(hg_onnx_load_file(model_path, &g));
    assert_ops(g, "Conv,Mul,Flatten,Gemm,Mul,Gemm");
    hg_assert_ok(hg_graph_optimize(g, images->dims[0]));
    assert_ops(g, "Conv,Square,Flatten,Gemm,Square,Gemm");
    assert_int_equal(hg_graph_n_inputs(g), 1);
    assert_int_equal(hg_graph_n_outputs(g), 1);
    hg_depth_report depth;
    hg_assert_ok(hg_graph_depth_report(g, &depth));
    fprintf(stderr, "%s: %lld parameters, multiplicative depth %d\n", stem,
            (long long)hg_graph_param_count(g), depth.max_depth);
    hg_depth_report_clear(&depth);

    const hg_ndarray *in[1] = {images};
    hg_ndarray *out = NULL;
    double t0 = now();
    hg_assert_ok(hg_plain_run(g, in, 1, &out));
    double seconds = now() - t0;
    assert_int_equal(out->rank, 2);
    assert_int_equal(out->dims[0], images->dims[0]);
    assert_int_equal(out->dims[1], 10);

    long correct = 0;
    double max_logit = 0;
    for (int64_t i = 0; i < out->dims[0]; i++) {
        const double *row = out->data + i * 10;
        int best = 0;
        for (int k = 0; k < 10; k++) {
            if (row[k] > row[best])
                best = k;
            if (fabs(row[k]) > max_logit)
                max_logit = fabs(row[k]);
        }
        correct += best == (int)labels->data[i];
    }
    double max_diff = 0;
    for (size_t i = 0; i < ref.n_logits; i++) {
        double d = fabs(out->data[i] - ref.logits[i]);
        if (d > max_diff)
            max_diff = d;
    }
    fprintf(stderr,
            "%s: plain float64 %ld/%lld correct (PyTorch float32: %ld), max |logit| %.3f, "
            "first %zu logits within %.2g of PyTorch's, %.2f s\n",
            stem, correct, (long long)out->dims[0], ref.test_correct, max_logit, ref.n_logits / 10,
            max_diff, seconds);
    assert_true(labs(correct - ref.test_correct) <= MAX_DIFFERENT_COUNT);
    assert_true(max_diff <= LOGIT_TOL);
    assert_true(seconds < MAX_SECONDS);

    hg_ndarray_free(out);
    hg_ndarray_free(images);
    hg_ndarray_free(labels);
    hg_graph_free(g);
}

static void test_mnist(void **state) {
    (void)state;
    check_model("cryptonets_mnist", HG_DATASET_MNIST);
}

static void test_fashion(void **state) {
    (void)state;
    check_model("cryptonets_fashion", HG_DATASET_FASHION_MNIST);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mnist),
        cmocka_unit_test(test_fashion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
