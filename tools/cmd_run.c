/*
 * hegraph run: encrypted inference on a data set, client and server in one process. The client
 * encrypts the test images in batches at the slot capacity, the server evaluates the model on
 * the ciphertexts, the client decrypts; the predictions are compared with the labels and with
 * the plain backend's.
 */
#include "cli.h"
#include "util/util.h"
#include "he_session.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(FILE *f) {
    fprintf(f,
            "usage: hegraph run MODEL.onnx --dataset mnist|fashion-mnist [--limit N]\n"
            "                  [--params P.json] [--real] [--unmasked] [--batch B] [--threads T]\n"
            "                  [--max-memory GB] [--json]\n\n"
            "Encrypts the data set's test images in batches (one ciphertext per pixel, the batch\n"
            "in the slots), evaluates the model on the ciphertexts, decrypts, and reports the\n"
            "encrypted and plain accuracy, the predictions that differ, latency, throughput,\n"
            "client time and memory. Parameters come from P.json (nGraph-HE2's format) or are\n"
            "chosen for the model at 128-bit security (complex packing unless --real).\n"
            "Client activations are masked unless --unmasked. A run whose predicted memory\n"
            "exceeds --max-memory (default: 90%% of the RAM) does not start.\n");
    return f == stdout ? 0 : 2;
}

static size_t argmax(const double *v, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Images [from, from + n) of a (N, ...) array, as a new array. */
static hg_status slice(const hg_ndarray *a, size_t from, size_t n, hg_ndarray **out) {
    int64_t dims[HG_MAX_RANK];
    memcpy(dims, a->dims, sizeof dims);
    dims[0] = (int64_t)n;
    HG_TRY(hg_ndarray_new(a->rank, dims, out));
    size_t per = a->size / (size_t)a->dims[0];
    memcpy((*out)->data, a->data + from * per, n * per * sizeof(double));
    return HG_OK;
}

int cmd_run(int argc, char **argv) {
    const char *model = NULL, *dataset = NULL, *params_path = NULL;
    long limit = 0, batch_opt = 0, threads = 0;
    size_t max_memory = 0;
    bool json = false, real = false, unmasked = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(stdout);
        bool takes = !strcmp(a, "--dataset") || !strcmp(a, "--limit") ||
                     !strcmp(a, "--params") || !strcmp(a, "--batch") || !strcmp(a, "--threads") ||
                     !strcmp(a, "--max-memory");
        if (takes && i + 1 >= argc)
            return cli_usage_error("run: %s needs a value", a);
        if (!strcmp(a, "--dataset"))
            dataset = argv[++i];
        else if (!strcmp(a, "--params"))
            params_path = argv[++i];
        else if (!strcmp(a, "--max-memory")) {
            if (!cli_parse_size_gb(argv[++i], &max_memory))
                return cli_usage_error("run: --max-memory needs a size in GB (e.g. 20)");
        }
        else if (!strcmp(a, "--limit")) {
            if (!cli_parse_long(argv[++i], 1, 1000000, &limit))
                return cli_usage_error("run: --limit needs a number of images >= 1");
        } else if (!strcmp(a, "--batch")) {
            if (!cli_parse_long(argv[++i], 1, 1 << 16, &batch_opt))
                return cli_usage_error("run: --batch needs a number in [1, 65536]");
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_long(argv[++i], 1, 1024, &threads))
                return cli_usage_error("run: --threads needs a number >= 1");
        } else if (!strcmp(a, "--json"))
            json = true;
        else if (!strcmp(a, "--unmasked"))
            unmasked = true;
        else if (!strcmp(a, "--real"))
            real = true;
        else if (a[0] == '-')
            return cli_usage_error("run: unknown option '%s'", a);
        else if (!model)
            model = a;
        else
            return cli_usage_error("run: more than one model given");
    }
    if (!model || !dataset)
        return usage(stderr);
    hg_dataset ds;
    if (hg_dataset_parse(dataset, &ds) != HG_OK)
        return cli_usage_error("run: unknown data set '%s' (mnist or fashion-mnist)", dataset);
    if (threads > 0)
        omp_set_num_threads((int)threads);
    FILE *out = json ? stderr : stdout;

    int rc = 1;
    hg_status s;
    hg_graph *g = NULL;
    hg_ndarray *images = NULL, *labels = NULL, *plain = NULL;
    cli_he he = {0};
    double *server = NULL;
    size_t *enc_pred = NULL;

    if ((s = hg_onnx_load_file(model, &g)) != HG_OK)
        goto fail;
    if ((s = hg_data_load(ds, HG_DATA_TEST, limit, &images, &labels)) != HG_OK)
        goto fail;
    const size_t n_images = (size_t)images->dims[0];
    if ((s = hg_graph_optimize(g, (int64_t)n_images)) != HG_OK)
        goto fail;

    /* The oracle: the plain backend on every image. */
    double t0 = cli_now_ms();
    const hg_ndarray *in1[1] = {images};
    if ((s = hg_plain_run(g, in1, 1, &plain)) != HG_OK)
        goto fail;
    double plain_seconds = (cli_now_ms() - t0) / 1e3;
    const size_t classes = plain->size / n_images;

    hg_he_params hp;
    if ((s = cli_he_params(g, params_path, !real, &hp)) != HG_OK)
        goto fail;
    if (real)
        hp.complex_packing = false;
    hg_he_opts opts;
    hg_he_opts_default(&opts);
    opts.threads = (int)threads;
    opts.masking = !unmasked;
    size_t cap = ((size_t)1 << hp.lit.log_n) / (hp.complex_packing ? 1 : 2);
    size_t batch = batch_opt > 0 ? (size_t)batch_opt : cap;
    if (batch > n_images)
        batch = n_images;
    if ((s = cli_he_open(&he, g, &hp, &opts, batch, max_memory)) != HG_OK)
        goto fail;
    t0 = cli_now_ms();
    if ((s = hg_he_model_reserve(he.model)) != HG_OK)
        goto fail;
    double reserve_seconds = (cli_now_ms() - t0) / 1e3;

    fprintf(out, "model: %s, %s test set, %zu images\n", model, hg_dataset_name(ds), n_images);
    fprintf(out, "parameters: ");
    cli_he_print_params(out, &hp, he.params);
    fprintf(out, "batches of up to %zu images (capacity %zu), %d threads, kernels %s\n", batch, cap,
            omp_get_max_threads(), hg_ckks_ctx_simd(he.ctx));
    fprintf(out, "set-up: keys %.2f s, memory reserved %.2f s\n", he.keygen_seconds,
            reserve_seconds);

    const size_t n_batches = (n_images + batch - 1) / batch;
    server = calloc(n_batches, sizeof *server);
    enc_pred = calloc(n_images, sizeof *enc_pred);
    if (!server || !enc_pred) {
        s = hg_fail(HG_ERR_NOMEM, "out of memory");
        goto fail;
    }
    double enc_total = 0, dec_total = 0, server_total = 0;
    size_t full_batches = 0;
    for (size_t b = 0; b < n_batches; b++) {
        size_t from = b * batch, n = n_images - from < batch ? n_images - from : batch;
        hg_ndarray *x = NULL, *y = NULL;
        hg_he_tensor *ct_in = NULL, *ct_out = NULL;
        if ((s = slice(images, from, n, &x)) != HG_OK)
            goto fail;
        double ta = cli_now_ms();
        s = hg_he_client_encrypt(he.client, x, &ct_in);
        double tb = cli_now_ms();
        hg_he_run_stats st = {0};
        hg_he_run_opts ro = {.client = (hg_he_client_fn)hg_he_client_activate,
                             .client_user = he.client, .pk = he.pk};
        if (s == HG_OK)
            s = hg_he_run(he.model, he.rlk, he.gk, &ct_in, 1, &ro, &ct_out, &st);
        double tc = cli_now_ms();
        if (s == HG_OK)
            s = hg_he_client_decrypt(he.client, ct_out, &y);
        double td = cli_now_ms();
        hg_he_tensor_free(ct_in);
        hg_he_tensor_free(ct_out);
        hg_ndarray_free(x);
        if (s != HG_OK) {
            hg_ndarray_free(y);
            goto fail;
        }
        for (size_t i = 0; i < n; i++)
            enc_pred[from + i] = argmax(y->data + i * classes, classes);
        hg_ndarray_free(y);
        enc_total += (tb - ta) / 1e3;
        dec_total += (td - tc) / 1e3;
        server[b] = st.server_seconds;
        server_total += st.server_seconds;
        if (n == batch)
            full_batches++;
        if (!json)
            fprintf(out,
                    "batch %zu/%zu: %zu images: client encrypts %.2f s, server %.2f s%s, client "
                    "decrypts %.2f s\n",
                    b + 1, n_batches, n, (tb - ta) / 1e3, st.server_seconds,
                    st.client_seconds > 0 ? " (+ client activations)" : "", (td - tc) / 1e3);
        cli_progress(NULL, "encrypted inference", from + n, n_images);
    }

    size_t enc_ok = 0, plain_ok = 0, differ = 0;
    for (size_t i = 0; i < n_images; i++) {
        size_t want = (size_t)labels->data[i];
        size_t p = argmax(plain->data + i * classes, classes);
        enc_ok += enc_pred[i] == want;
        plain_ok += p == want;
        differ += p != enc_pred[i];
    }
    /* Latency and throughput over the full batches (the last one may be partial). */
    qsort(server, full_batches, sizeof *server, cmp_double);
    double lat = full_batches ? server[full_batches / 2] : server_total;
    double thr = full_batches ? (double)batch / lat : (double)n_images / server_total;
    size_t peak = cli_peak_rss();
    const hg_ckks_params *p = he.params;
    if (json) {
        printf("{\n  \"model\": \"%s\",\n  \"dataset\": \"%s\",\n  \"images\": %zu,\n", model,
               hg_dataset_name(ds), n_images);
        printf("  \"encrypted_accuracy\": %.6f,\n  \"plain_accuracy\": %.6f,\n"
               "  \"predictions_differ\": %zu,\n",
               (double)enc_ok / (double)n_images, (double)plain_ok / (double)n_images, differ);
        printf("  \"batch\": %zu,\n  \"batches\": %zu,\n  \"server_latency_s\": %.4f,\n"
               "  \"throughput_images_per_s\": %.1f,\n  \"server_total_s\": %.3f,\n",
               batch, n_batches, lat, thr, server_total);
        printf("  \"client_encrypt_s_per_batch\": %.4f,\n  \"client_decrypt_s_per_batch\": %.4f,\n",
               enc_total / (double)n_batches, dec_total / (double)n_batches);
        printf("  \"peak_memory_bytes\": %zu,\n  \"predicted_peak_bytes\": %zu,\n", peak,
               hg_he_model_peak_bytes(he.model));
        printf("  \"threads\": %d,\n  \"poly_modulus_degree\": %zu,\n  \"coeff_modulus\": [",
               omp_get_max_threads(), hg_ckks_params_n(p));
        for (int i = 0; i < hp.lit.n_primes; i++)
            printf("%s%d", i ? ", " : "", hp.lit.bits[i]);
        printf("],\n  \"scale\": %.0f,\n  \"complex_packing\": %s,\n  \"security_level\": %d\n}\n",
               hp.lit.scale, hp.complex_packing ? "true" : "false", hg_ckks_params_security(p));
    } else {
        printf("accuracy: encrypted %.2f%% (%zu/%zu), plain %.2f%% (%zu/%zu), %zu predictions "
               "differ\n",
               100.0 * (double)enc_ok / (double)n_images, enc_ok, n_images,
               100.0 * (double)plain_ok / (double)n_images, plain_ok, n_images, differ);
        printf("server: %.3f s per batch of %zu (median of %zu full batches), %.0f images/s; "
               "%.2f s for all %zu images\n",
               lat, batch, full_batches, thr, server_total, n_images);
        printf("client: encrypts %.2f s and decrypts %.2f s per batch (plain backend: %.2f s for "
               "all images)\n",
               enc_total / (double)n_batches, dec_total / (double)n_batches, plain_seconds);
        printf("memory: peak %.2f GB (predicted for the server: %.2f GB)\n", (double)peak / 1e9,
               (double)hg_he_model_peak_bytes(he.model) / 1e9);
    }
    rc = 0;
    goto done;
fail:
    rc = cli_fail(s);
done:
    free(server);
    free(enc_pred);
    cli_he_close(&he);
    hg_ndarray_free(images);
    hg_ndarray_free(labels);
    hg_ndarray_free(plain);
    hg_graph_free(g);
    return rc;
}
