/* hegraph client: the client side of client-aided inference over TCP. It holds the keys and the
 * data; the server (`hegraph serve`) sees only ciphertexts. */
#include "cli.h"
#include "util/util.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 16

static int usage(FILE *f) {
    fprintf(f,
            "usage: hegraph client --connect HOST:PORT --keys KEYDIR\n"
            "                      (--dataset mnist|fashion-mnist [--limit N] |\n"
            "                       --input IN.pb [--input IN2.pb ...] [--output OUT.pb ...]\n"
            "                       [--expect REF.pb ... [--tol T]])\n"
            "                      [--batch B] [--timeout S] [--require-masked] [--threads T]\n\n"
            "Connects to `hegraph serve`, checks that the server's parameters are those of the\n"
            "keys in KEYDIR (`hegraph keygen`) and secure, sends the public keys and the\n"
            "encrypted inputs, answers the server's activation requests (decrypt, apply,\n"
            "re-encrypt) and decrypts the outputs. With --dataset, the test images go in\n"
            "batches (at most the server's) and the accuracy is reported; with --input, the\n"
            "TensorProto inputs are run as one batch and the outputs written to --output files;\n"
            "--expect compares each output with a reference (max |error| <= T, default 1e-2).\n"
            "Prints the bytes sent and received, the round trips and the times.\n");
    return f == stdout ? 0 : 2;
}

static size_t argmax(const double *v, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* Images [from, from + n) of an (N, ...) array, as a new array. */
static hg_status slice(const hg_ndarray *a, size_t from, size_t n, hg_ndarray **out) {
    int64_t dims[HG_MAX_RANK];
    memcpy(dims, a->dims, sizeof dims);
    dims[0] = (int64_t)n;
    hg_status s = hg_ndarray_new(a->rank, dims, out);
    if (s != HG_OK)
        return s;
    size_t per = a->size / (size_t)a->dims[0];
    memcpy((*out)->data, a->data + from * per, n * per * sizeof(double));
    return HG_OK;
}

static void print_stats(const hg_net_stats *st, size_t images) {
    double per = images ? (double)images : 1;
    printf("traffic: %.2f MB sent, %.2f MB received (%.1f kB and %.1f kB per image), %llu "
           "activation round trips in %llu batches (%llu masked)\n",
           (double)st->bytes_sent / 1e6, (double)st->bytes_received / 1e6,
           (double)st->bytes_sent / per / 1e3, (double)st->bytes_received / per / 1e3,
           (unsigned long long)st->requests, (unsigned long long)st->batches,
           (unsigned long long)st->masked_requests);
    printf("time: %.2f s in all, server %.2f s, client %.2f s (encrypt, answer, decrypt)\n",
           st->wall_seconds, st->server_seconds, st->client_seconds);
}

int cmd_client(int argc, char **argv) {
    const char *address = NULL, *keydir = NULL, *dataset = NULL;
    const char *in_paths[MAX_FILES], *out_paths[MAX_FILES], *ref_paths[MAX_FILES];
    size_t n_in = 0, n_outp = 0, n_ref = 0;
    double tol = 1e-2;
    long limit = 0, batch_opt = 0, timeout = 600, threads = 0;
    bool require_masked = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(stdout);
        if (!strcmp(a, "--require-masked")) {
            require_masked = true;
            continue;
        }
        bool takes = !strcmp(a, "--connect") || !strcmp(a, "--keys") || !strcmp(a, "--dataset") ||
                     !strcmp(a, "--limit") || !strcmp(a, "--input") || !strcmp(a, "--output") ||
                     !strcmp(a, "--expect") || !strcmp(a, "--tol") || !strcmp(a, "--batch") || !strcmp(a, "--timeout") || !strcmp(a, "--threads");
        if (!takes)
            return cli_usage_error("client: unknown argument '%s'", a);
        if (i + 1 >= argc)
            return cli_usage_error("client: %s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--connect"))
            address = v;
        else if (!strcmp(a, "--keys"))
            keydir = v;
        else if (!strcmp(a, "--dataset"))
            dataset = v;
        else if (!strcmp(a, "--input") || !strcmp(a, "--output") || !strcmp(a, "--expect")) {
            size_t *n = a[2] == 'i' ? &n_in : a[2] == 'o' ? &n_outp : &n_ref;
            const char **arr = a[2] == 'i' ? in_paths : a[2] == 'o' ? out_paths : ref_paths;
            if (*n == MAX_FILES)
                return cli_usage_error("client: too many %s files", a);
            arr[(*n)++] = v;
        } else if (!strcmp(a, "--tol")) {
            char *end;
            tol = strtod(v, &end);
            if (*end || !(tol >= 0))
                return cli_usage_error("client: --tol needs a non-negative number");
        } else if (!strcmp(a, "--limit")) {
            if (!cli_parse_long(v, 1, 1000000, &limit))
                return cli_usage_error("client: --limit needs a number of images >= 1");
        } else if (!strcmp(a, "--batch")) {
            if (!cli_parse_long(v, 1, 1 << 16, &batch_opt))
                return cli_usage_error("client: --batch needs a number in [1, 65536]");
        } else if (!strcmp(a, "--timeout")) {
            if (!cli_parse_long(v, 1, 86400, &timeout))
                return cli_usage_error("client: --timeout needs seconds in [1, 86400]");
        } else if (!cli_parse_long(v, 1, 1024, &threads))
            return cli_usage_error("client: --threads needs a number >= 1");
    }
    if (!address || !keydir || (!dataset == !n_in))
        return usage(stderr);
    if (dataset && (n_outp || n_ref))
        return cli_usage_error("client: --output and --expect go with --input, not --dataset");
    hg_dataset ds = HG_DATASET_MNIST;
    if (dataset && hg_dataset_parse(dataset, &ds) != HG_OK)
        return cli_usage_error("client: unknown data set '%s' (mnist or fashion-mnist)", dataset);
    if (threads > 0)
        omp_set_num_threads((int)threads);

    hg_status s;
    int rc = 0;
    hg_net_keys k = {0};
    hg_net_client *c = NULL;
    hg_ndarray *images = NULL, *labels = NULL, *inputs[MAX_FILES] = {0}, *outputs[MAX_FILES] = {0};
    if ((s = hg_net_keys_load(keydir, false, &k)) != HG_OK)
        goto fail;
    if (dataset && (s = hg_data_load(ds, HG_DATA_TEST, limit, &images, &labels)) != HG_OK)
        goto fail;
    for (size_t i = 0; i < n_in; i++)
        if ((s = hg_onnx_tensor_read_file(in_paths[i], &inputs[i], NULL, NULL)) != HG_OK)
            goto fail;
    hg_net_client_opts o;
    hg_net_client_opts_default(&o);
    o.timeout_ms = (int)(timeout * 1000);
    o.require_masked = require_masked;
    o.threads = (int)threads;
    if ((s = hg_net_client_connect(address, k.ctx, k.sk, k.pk, k.rlk, k.gk, &o, &c)) != HG_OK)
        goto fail;
    const hg_net_server_info *info = hg_net_client_server_info(c);
    printf("connected to %s: %zu input(s), batches of up to %zu, %s packing, activations %s\n",
           address, info->n_inputs, info->max_batch, info->complex_packing ? "complex" : "real",
           info->masked ? "masked" : "unmasked");
    if (n_outp > info->n_outputs || n_ref > info->n_outputs) {
        s = hg_fail(HG_ERR_INVALID_ARG, "%zu --%s files for a model with %zu outputs",
                    n_outp > n_ref ? n_outp : n_ref, n_outp > n_ref ? "output" : "expect",
                    info->n_outputs);
        goto fail;
    }
    hg_net_stats total = {0};
    if (dataset) {
        if (info->n_inputs != 1) {
            s = hg_fail(HG_ERR_INVALID_ARG, "the model has %zu inputs, a data set gives one",
                        info->n_inputs);
            goto fail;
        }
        const size_t n_images = (size_t)images->dims[0];
        size_t batch = batch_opt > 0 ? (size_t)batch_opt : info->max_batch;
        if (batch > info->max_batch)
            batch = info->max_batch;
        size_t correct = 0;
        for (size_t from = 0; from < n_images; from += batch) {
            size_t n = n_images - from < batch ? n_images - from : batch;
            hg_ndarray *x = NULL, *y[16] = {0};
            if ((s = slice(images, from, n, &x)) != HG_OK)
                goto fail;
            const hg_ndarray *in1[1] = {x};
            hg_net_stats st;
            s = hg_net_client_infer(c, in1, 1, y, &st);
            hg_ndarray_free(x);
            if (s != HG_OK)
                goto fail;
            hg_net_stats_add(&total, &st);
            const size_t classes = y[0]->size / n;
            for (size_t i = 0; i < n; i++)
                correct +=
                    argmax(y[0]->data + i * classes, classes) == (size_t)labels->data[from + i];
            for (size_t i = 0; i < info->n_outputs; i++)
                hg_ndarray_free(y[i]);
            cli_progress(NULL, "encrypted inference", from + n, n_images);
        }
        printf("accuracy: %.2f%% (%zu/%zu) on the %s test set, encrypted over TCP\n",
               100.0 * (double)correct / (double)n_images, correct, n_images, hg_dataset_name(ds));
        print_stats(&total, n_images);
    } else {
        const hg_ndarray *in[MAX_FILES];
        for (size_t i = 0; i < n_in; i++)
            in[i] = inputs[i];
        if ((s = hg_net_client_infer(c, in, n_in, outputs, &total)) != HG_OK)
            goto fail;
        for (size_t i = 0; i < n_outp; i++) {
            if ((s = hg_onnx_tensor_write_file(out_paths[i], outputs[i], NULL, HG_DTYPE_FLOAT32)) !=
                HG_OK)
                goto fail;
            printf("output %zu written to %s\n", i, out_paths[i]);
        }
        print_stats(&total, inputs[0]->rank ? (size_t)inputs[0]->dims[0] : 1);
        for (size_t i = 0; i < n_ref; i++) {
            char name[32];
            snprintf(name, sizeof name, "%zu", i);
            rc |= cli_expect(name, outputs[i], ref_paths[i], tol);
        }
    }
    hg_net_client_close(c);
    c = NULL;
    goto done;
fail:
    rc = cli_fail(s);
done:
    hg_net_client_close(c);
    for (size_t i = 0; i < MAX_FILES; i++) {
        hg_ndarray_free(inputs[i]);
        hg_ndarray_free(outputs[i]);
    }
    hg_ndarray_free(images);
    hg_ndarray_free(labels);
    hg_net_keys_clear(&k);
    return rc;
}
