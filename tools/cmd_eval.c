/* hegraph eval: runs a model on TensorProto inputs with the plain float64 backend, or encrypted
 * (with the in-process client) against it. */
#include "cli.h"
#include "he_session.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 64

static int usage(FILE *f) {
    fprintf(f, "usage: hegraph eval MODEL.onnx --input IN.pb [--input IN2.pb ...]\n"
               "                   [--output OUT.pb ...] [--expect REF.pb ... [--tol T]]\n"
               "                   [--encrypted [--params P.json] [--real] [--unmasked]\n"
               "                   [--max-memory GB]]\n\n"
               "Evaluates the model with the plain float64 backend on inputs given as ONNX\n"
               "TensorProto files (one per graph input, in order; axis 0 is the batch) and writes\n"
               "each output the same way. With --expect, compares each output with a reference\n"
               "file and fails when an element differs from it by more than T (default 1e-5).\n"
               "With --encrypted, the inputs are encrypted (CKKS, batch in the slots), the model\n"
               "runs on the ciphertexts with an in-process client for the activations, and the\n"
               "decrypted outputs are written and compared with the plain backend's; parameters\n"
               "from P.json (nGraph-HE2's format) or chosen for the model at 128-bit security.\n");
    return f == stdout ? 0 : 2;
}

/* Runs g encrypted on inputs; replaces outputs[] (the plain backend's) by the decrypted ones and
 * prints the precision reached against them. */
static hg_status eval_encrypted(const hg_graph *g, const hg_ndarray *const *inputs, size_t n_in,
                                hg_ndarray **outputs, size_t n_out, const char *params_path,
                                bool real, bool unmasked, size_t max_memory) {
    hg_he_params hp;
    HG_TRY(cli_he_params(g, params_path, !real, &hp));
    if (real)
        hp.complex_packing = false;
    hg_he_opts opts;
    hg_he_opts_default(&opts);
    opts.masking = !unmasked;
    size_t batch = n_in && inputs[0]->rank ? (size_t)inputs[0]->dims[0] : 1;
    cli_he he;
    HG_TRY(cli_he_open(&he, g, &hp, &opts, batch, max_memory));
    printf("parameters: ");
    cli_he_print_params(stdout, &hp, he.params);
    hg_he_tensor *in[MAX_FILES] = {0}, *out[MAX_FILES] = {0};
    hg_status s = HG_OK;
    for (size_t i = 0; i < n_in && s == HG_OK; i++)
        s = hg_he_client_encrypt(he.client, inputs[i], &in[i]);
    hg_he_run_opts ro = {.client = (hg_he_client_fn)hg_he_client_activate,
                         .client_user = he.client, .pk = he.pk};
    hg_he_run_stats st = {0};
    if (s == HG_OK)
        s = hg_he_run(he.model, he.rlk, he.gk, in, n_in, &ro, out, &st);
    for (size_t i = 0; i < n_out && s == HG_OK; i++) {
        hg_ndarray *y;
        s = hg_he_client_decrypt(he.client, out[i], &y);
        if (s != HG_OK)
            break;
        double worst = 0, top = 0;
        for (size_t k = 0; k < y->size; k++) {
            double e = fabs(y->data[k] - outputs[i]->data[k]);
            worst = e > worst ? e : worst;
            top = fabs(outputs[i]->data[k]) > top ? fabs(outputs[i]->data[k]) : top;
        }
        printf("encrypted output '%s': max |error| %.3g against the plain backend (%.1f bits "
               "below the largest value %.3g)\n",
               hg_graph_output_name(g, i), worst, worst > 0 ? log2(top / worst) : 64.0, top);
        hg_ndarray_free(outputs[i]);
        outputs[i] = y;
    }
    if (s == HG_OK)
        printf("server %.3f s, client activations %.3f s, peak ciphertext memory %.2f GB\n",
               st.server_seconds, st.client_seconds, (double)st.peak_bytes / 1e9);
    for (size_t i = 0; i < MAX_FILES; i++) {
        hg_he_tensor_free(in[i]);
        hg_he_tensor_free(out[i]);
    }
    cli_he_close(&he);
    return s;
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *in_paths[MAX_FILES], *out_paths[MAX_FILES], *ref_paths[MAX_FILES];
    size_t n_in = 0, n_outp = 0, n_ref = 0;
    double tol = 1e-5;
    bool encrypted = false, real = false, unmasked = false;
    const char *params_path = NULL;
    size_t max_memory = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(stdout);
        if (!strcmp(a, "--encrypted") || !strcmp(a, "--real") || !strcmp(a, "--unmasked")) {
            encrypted |= a[2] == 'e';
            real |= a[2] == 'r';
            unmasked |= a[2] == 'u';
            continue;
        }
        if (!strcmp(a, "--params")) {
            if (i + 1 >= argc)
                return cli_usage_error("eval: --params needs a file");
            params_path = argv[++i];
            continue;
        }
        if (!strcmp(a, "--max-memory")) {
            if (i + 1 >= argc || !cli_parse_size_gb(argv[i + 1], &max_memory))
                return cli_usage_error("eval: --max-memory needs a size in GB");
            i++;
            continue;
        }
        bool takes = !strcmp(a, "--input") || !strcmp(a, "--output") || !strcmp(a, "--expect") ||
                     !strcmp(a, "--tol");
        if (takes && i + 1 >= argc)
            return cli_usage_error("eval: %s needs a value", a);
        if (!strcmp(a, "--input") || !strcmp(a, "--output") || !strcmp(a, "--expect")) {
            size_t *n = a[2] == 'i' ? &n_in : a[2] == 'o' ? &n_outp : &n_ref;
            const char **arr = a[2] == 'i' ? in_paths : a[2] == 'o' ? out_paths : ref_paths;
            if (*n == MAX_FILES)
                return cli_usage_error("eval: too many %s files", a);
            arr[(*n)++] = argv[++i];
        } else if (!strcmp(a, "--tol")) {
            char *end;
            tol = strtod(argv[++i], &end);
            if (*end || !(tol >= 0))
                return cli_usage_error("eval: --tol needs a non-negative number");
        } else if (a[0] == '-') {
            return cli_usage_error("eval: unknown option '%s'", a);
        } else if (!model) {
            model = a;
        } else {
            return cli_usage_error("eval: more than one model given");
        }
    }
    if (!model)
        return usage(stderr);

    int rc = 1;
    hg_status s;
    hg_graph *g = NULL;
    hg_ndarray *inputs[MAX_FILES] = {0}, *outputs[MAX_FILES] = {0};
    const hg_ndarray *run_in[MAX_FILES];
    size_t n_run = 0, n_out = 0;
    s = hg_onnx_load_file(model, &g);
    if (s != HG_OK)
        goto fail;
    size_t n_graph_in = hg_graph_n_inputs(g);
    if (n_in != n_graph_in) {
        rc = cli_usage_error("eval: the model has %zu inputs, %zu --input given", n_graph_in, n_in);
        goto out;
    }
    n_out = hg_graph_n_outputs(g);
    if (n_outp > n_out || n_ref > n_out || n_out > MAX_FILES) {
        rc = cli_usage_error("eval: the model has %zu outputs", n_out);
        goto out;
    }
    /* Operands (a Reshape shape, Clip bounds...) become constants; data stays an input. */
    {
        bool operand[MAX_FILES];
        char *names[MAX_FILES];
        for (size_t i = 0; i < n_in; i++) {
            operand[i] = hg_graph_input_is_operand(g, i);
            names[i] = strdup(hg_graph_input_name(g, i));
        }
        int64_t batch = 0;
        s = HG_OK;
        for (size_t i = 0; i < n_in && s == HG_OK; i++) {
            s = hg_onnx_tensor_read_file(in_paths[i], &inputs[i], NULL, NULL);
            if (s != HG_OK)
                break;
            if (operand[i]) {
                s = hg_graph_bind_input(g, names[i], inputs[i]);
            } else {
                if (!batch && inputs[i]->rank > 0)
                    batch = inputs[i]->dims[0];
                run_in[n_run++] = inputs[i];
            }
        }
        for (size_t i = 0; i < n_in; i++)
            free(names[i]);
        if (s != HG_OK)
            goto fail;
        s = hg_graph_optimize(g, batch);
        if (s != HG_OK)
            goto fail;
    }
    s = hg_plain_run(g, run_in, n_run, outputs);
    if (s != HG_OK)
        goto fail;
    if (encrypted) {
        s = eval_encrypted(g, run_in, n_run, outputs, n_out, params_path, real, unmasked,
                           max_memory);
        if (s != HG_OK)
            goto fail;
    }
    for (size_t i = 0; i < n_outp; i++) {
        hg_dtype dt;
        hg_graph_output_shape(g, i, NULL, &dt);
        s = hg_onnx_tensor_write_file(out_paths[i], outputs[i], hg_graph_output_name(g, i), dt);
        if (s != HG_OK)
            goto fail;
    }
    rc = 0;
    for (size_t i = 0; i < n_ref; i++)
        rc |= cli_expect(hg_graph_output_name(g, i), outputs[i], ref_paths[i], tol);
    goto out;
fail:
    rc = cli_fail(s);
out:
    for (size_t i = 0; i < MAX_FILES; i++) {
        hg_ndarray_free(inputs[i]);
        hg_ndarray_free(outputs[i]);
    }
    hg_graph_free(g);
    return rc;
}
