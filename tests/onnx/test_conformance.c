/*
 * Conformance: ONNX's backend node tests (Debian's libonnx-testdata) for every supported op,
 * run with the plain backend and compared with the shipped outputs.
 *
 * A case either passes or is on the list of expected skips below, with the feature outside
 * the supported set that it uses; then loading or preparing it must fail with
 * HG_ERR_UNSUPPORTED and a message naming that feature. Any other outcome fails the test.
 * The data directory can be moved with HG_ONNX_TESTDATA.
 */
#include "test_common.h"

#include "hegraph/hg_onnx.h"
#include "util/util.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_DIR "/usr/share/libonnx-testdata/data/node"

/* Case-name prefixes of the supported ops. An entry ending in '$' must match exactly. */
static const char *const prefixes[] = {
    "test_conv_",     "test_gemm_",         "test_matmul_",
    "test_add$",      "test_add_",          "test_sub$",
    "test_sub_",      "test_mul$",          "test_mul_",
    "test_div$",      "test_div_",          "test_pow$",
    "test_pow_",      "test_averagepool_",  "test_globalaveragepool",
    "test_maxpool_",  "test_relu$",         "test_clip",
    "test_leakyrelu", "test_sigmoid",       "test_tanh",
    "test_softmax_",  "test_batchnorm_",    "test_flatten_",
    "test_reshape_",  "test_transpose_",    "test_concat_",
    "test_constant$", "test_constant_pad$", "test_identity",
    "test_dropout_",  "test_min_",
};

typedef struct skip {
    const char *name;   /* case, or a prefix ending in '*' */
    const char *needle; /* must appear in the HG_ERR_UNSUPPORTED message */
    const char *reason;
} skip;

static const skip skips[] = {
    {"test_add_uint8", "UINT8", "uint8 data"},
    {"test_sub_uint8", "UINT8", "uint8 data"},
    {"test_mul_uint8", "UINT8", "uint8 data"},
    {"test_div_uint8", "UINT8", "uint8 data"},
    {"test_clip_default_int8*", "INT8", "int8 data"},
    {"test_maxpool_2d_uint8", "UINT8", "uint8 data"},
    {"test_min_float16", "FLOAT16", "float16 data"},
    {"test_min_int8", "INT8", "int8 data"},
    {"test_min_int16", "INT16", "int16 data"},
    {"test_min_int32", "INT32", "int32 data"},
    {"test_min_int64", "int64", "int64 data (int64 only for shape operands)"},
    {"test_min_uint8", "UINT8", "uint8 data"},
    {"test_min_uint16", "UINT16", "uint16 data"},
    {"test_min_uint32", "UINT32", "uint32 data"},
    {"test_min_uint64", "UINT64", "uint64 data"},
    {"test_pow", "exponent", "Pow with an exponent other than the constant 2"},
    {"test_pow_bcast_array", "exponent", "Pow with an exponent other than the constant 2"},
    {"test_pow_example", "exponent", "Pow with an exponent other than the constant 2"},
    {"test_pow_types_float", "exponent", "Pow with an exponent other than the constant 2"},
    {"test_pow_types_float32_int64", "exponent", "Pow with an exponent other than 2"},
    {"test_pow_types_int", "exponent", "Pow with an exponent other than the constant 2"},
    {"test_pow_types_int64_*", "exponent", "Pow with an exponent other than the constant 2"},
    {"test_pow_types_float32_int32", "INT32", "int32 exponent"},
    {"test_pow_types_float32_uint32", "UINT32", "uint32 exponent"},
    {"test_pow_types_float32_uint64", "UINT64", "uint64 exponent"},
    {"test_pow_types_int32_*", "INT32", "int32 data"},
    {"test_softmax_*_expanded", "is not supported", "expanded into ReduceMax, Exp, ReduceSum"},
    {"test_softmax_large_number_expanded", "is not supported", "expanded into ReduceMax, Exp"},
    {"test_batchnorm_epsilon_training_mode", "training_mode", "training mode"},
    {"test_batchnorm_example_training_mode", "training_mode", "training mode"},
    {"test_maxpool_with_argmax_*", "output 1", "the Indices output of MaxPool"},
    {"test_identity_opt", "not a tensor", "optional type"},
    {"test_identity_sequence", "not a tensor", "sequence type"},
    {"test_dropout_default_mask*", "output 1", "the mask output of Dropout"},
};

static bool match(const char *pat, const char *name) {
    size_t n = strlen(pat);
    if (n && pat[n - 1] == '$')
        return strlen(name) == n - 1 && !strncmp(pat, name, n - 1);
    const char *star = strchr(pat, '*');
    if (!star)
        return !strcmp(pat, name);
    size_t pre = (size_t)(star - pat), suf = strlen(star + 1), len = strlen(name);
    return len >= pre + suf && !strncmp(pat, name, pre) && !strcmp(name + len - suf, star + 1);
}

static bool supported_case(const char *name) {
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        const char *p = prefixes[i];
        size_t n = strlen(p);
        if (p[n - 1] == '$' ? match(p, name) : !strncmp(p, name, n))
            return true;
    }
    return false;
}

static const skip *find_skip(const char *name) {
    for (size_t i = 0; i < sizeof skips / sizeof skips[0]; i++)
        if (match(skips[i].name, name))
            return &skips[i];
    return NULL;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool close_enough(double got, double want) {
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= 1e-5 + 1e-4 * fabs(want);
}

/* Runs one case; HG_OK when it passes, otherwise a status with the detail recorded (a
 * mismatch is HG_ERR_INTERNAL). */
static hg_status run_case(const char *dir, char *detail, size_t cap) {
    char path[1024];
    hg_graph *g = NULL;
    hg_ndarray *inputs[16] = {0}, *run_in[16] = {0}, *outputs[16] = {0};
    size_t n_in = 0, n_out = 0;
    hg_status s;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    s = hg_onnx_load_file(path, &g);
    if (s != HG_OK)
        goto out;
    n_in = hg_graph_n_inputs(g);
    if (n_in > 16) {
        s = hg_fail(HG_ERR_INTERNAL, "too many inputs");
        goto out;
    }
    /* Inputs: input_<i>.pb in the order of the graph's inputs; operands become constants. */
    {
        char names[16][128];
        bool operand[16];
        for (size_t i = 0; i < n_in; i++) {
            snprintf(names[i], sizeof names[i], "%s", hg_graph_input_name(g, i));
            operand[i] = hg_graph_input_is_operand(g, i);
            snprintf(path, sizeof path, "%s/test_data_set_0/input_%zu.pb", dir, i);
            s = hg_onnx_tensor_read_file(path, &inputs[i], NULL, NULL);
            if (s != HG_OK)
                goto out;
        }
        size_t k = 0;
        for (size_t i = 0; i < n_in; i++) {
            if (operand[i]) {
                s = hg_graph_bind_input(g, names[i], inputs[i]);
                if (s != HG_OK)
                    goto out;
            } else {
                run_in[k++] = inputs[i];
            }
        }
        s = hg_graph_optimize(g, 0);
        if (s != HG_OK)
            goto out;
        n_out = hg_graph_n_outputs(g);
        if (n_out > 16) {
            s = hg_fail(HG_ERR_INTERNAL, "too many outputs");
            goto out;
        }
        s = hg_plain_run(g, (const hg_ndarray *const *)run_in, k, outputs);
        if (s != HG_OK)
            goto out;
    }
    for (size_t i = 0; i < n_out; i++) {
        hg_ndarray *want;
        snprintf(path, sizeof path, "%s/test_data_set_0/output_%zu.pb", dir, i);
        s = hg_onnx_tensor_read_file(path, &want, NULL, NULL);
        if (s != HG_OK)
            goto out;
        const hg_ndarray *got = outputs[i];
        bool same = got->rank == want->rank && got->size == want->size;
        for (int d = 0; same && d < got->rank; d++)
            same = got->dims[d] == want->dims[d];
        if (!same) {
            snprintf(detail, cap, "output %zu: shape differs", i);
            s = HG_ERR_INTERNAL;
        }
        for (size_t j = 0; s == HG_OK && j < got->size; j++)
            if (!close_enough(got->data[j], want->data[j])) {
                snprintf(detail, cap, "output %zu[%zu]: %.9g, expected %.9g", i, j, got->data[j],
                         want->data[j]);
                s = HG_ERR_INTERNAL;
            }
        hg_ndarray_free(want);
        if (s != HG_OK)
            goto out;
    }
out:
    if (s != HG_OK && s != HG_ERR_INTERNAL)
        snprintf(detail, cap, "%s: %s", hg_status_name(s), hg_last_error());
    for (size_t i = 0; i < 16; i++) {
        hg_ndarray_free(inputs[i]);
        hg_ndarray_free(outputs[i]);
    }
    hg_graph_free(g);
    return s;
}

static void test_node_cases(void **state) {
    (void)state;
    const char *root = getenv("HG_ONNX_TESTDATA");
    if (!root || !*root)
        root = DEFAULT_DIR;
    DIR *d = opendir(root);
    if (!d) {
        fprintf(stderr, "conformance: %s not found (install libonnx-testdata)\n", root);
        fail();
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!supported_case(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            names = realloc(names, cap * sizeof *names);
            assert_non_null(names);
        }
        names[n] = strdup(e->d_name);
        assert_non_null(names[n]);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);

    size_t passed = 0, skipped = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        char dir[768], detail[600] = "";
        snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
        hg_clear_error();
        hg_status s = run_case(dir, detail, sizeof detail);
        const skip *sk = find_skip(names[i]);
        if (s == HG_OK && !sk) {
            printf("PASS %s\n", names[i]);
            passed++;
        } else if (s == HG_OK) {
            printf("FAIL %s: passes but is listed as skipped (%s)\n", names[i], sk->reason);
            failed++;
        } else if (sk && s == HG_ERR_UNSUPPORTED && strstr(detail, sk->needle)) {
            printf("SKIP %s: %s [%s]\n", names[i], sk->reason, detail);
            skipped++;
        } else {
            printf("FAIL %s: %s\n", names[i], detail);
            failed++;
        }
        free(names[i]);
    }
    free(names);
    printf("conformance: %zu run, %zu passed, %zu skipped, %zu failed\n", passed + failed, passed,
           skipped, failed);
    fflush(stdout);
    assert_true(passed > 0);
    assert_int_equal(failed, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
