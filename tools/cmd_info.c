/* hegraph info: what a model computes and how it would run on ciphertexts. */
#include "cli.h"
#include "he_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void format_shape(const hg_shape *s, char *buf, size_t cap) {
    size_t p = 0;
    p += (size_t)snprintf(buf + p, cap - p, "[");
    for (int i = 0; i < s->rank && p < cap; i++) {
        if (s->dims[i] < 0)
            p += (size_t)snprintf(buf + p, cap - p, "%sN", i ? ", " : "");
        else
            p += (size_t)snprintf(buf + p, cap - p, "%s%lld", i ? ", " : "", (long long)s->dims[i]);
    }
    if (p < cap)
        snprintf(buf + p, cap - p, "]");
}

static int usage(FILE *f) {
    fprintf(f, "usage: hegraph info MODEL.onnx [--batch N] [--params P.json] [--real]\n"
               "                   [--unmasked] [--plain]\n\n"
               "Prints the model's inputs and outputs, each op (after hegraph's graph passes)\n"
               "with its output shape for a batch of N (default 1), the parameter count, the\n"
               "multiplicative depth between client-evaluated activations, and which ops run\n"
               "on ciphertexts and which need the client. Then, unless --plain, the encryption\n"
               "parameters (from P.json, or the automatic choice at 128-bit security), the plan\n"
               "(levels, rescales, relinearizations, client round trips) and the predicted peak\n"
               "memory of the server.\n");
    return f == stdout ? 0 : 2;
}

/* The encryption part: parameters, plan and predicted memory. */
static int print_encryption(const hg_graph *g, const char *params_path, bool real,
                            bool unmasked) {
    hg_he_params hp;
    hg_status s = cli_he_params(g, params_path, !real, &hp);
    if (s != HG_OK)
        return cli_fail(s);
    if (real)
        hp.complex_packing = false;
    hg_ckks_params *p = NULL;
    hg_ckks_ctx *ctx = NULL;
    hg_he_model *m = NULL;
    hg_he_opts o;
    hg_he_opts_default(&o);
    o.complex_packing = hp.complex_packing;
    o.masking = !unmasked;
    s = hg_ckks_params_new(&hp.lit, &p);
    if (s == HG_OK)
        s = hg_ckks_ctx_new(p, &ctx);
    size_t cap = 0;
    if (s == HG_OK) {
        cap = hg_ckks_params_n(p) / (hp.complex_packing ? 1 : 2);
        s = hg_he_model_new(g, ctx, &o, cap, &m);
    }
    if (s == HG_OK) {
        printf("encryption (%s):\n  ", params_path ? params_path : "automatic choice");
        cli_he_print_params(stdout, &hp, p);
        hg_he_plan_stats st;
        hg_he_model_stats(m, &st);
        printf("  batch capacity %zu; levels used %d of %d; per batch: %zu rescales, %zu "
               "relinearizations, %zu conjugations, %zu ciphertext products\n",
               cap, st.levels_used, hg_ckks_ctx_max_level(ctx) + 1, st.rescales, st.relins,
               st.conjugations, st.ct_ct_products);
        printf("  client round trips: %zu (%zu masked)\n", st.client_calls, st.masked_calls);
        printf("  predicted peak memory of the server: %.2f GB\n",
               (double)hg_he_model_peak_bytes(m) / 1e9);
        char json[1024];
        if (hg_he_params_to_json(&hp, json, sizeof json) == HG_OK)
            printf("  as a parameter file:\n%s", json);
    }
    hg_he_model_free(m);
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
    return s == HG_OK ? 0 : cli_fail(s);
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    long batch = 1;
    const char *params_path = NULL;
    bool real = false, unmasked = false, plain = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return usage(stdout);
        if (!strcmp(argv[i], "--real") || !strcmp(argv[i], "--unmasked") ||
            !strcmp(argv[i], "--plain")) {
            real |= argv[i][2] == 'r';
            unmasked |= argv[i][2] == 'u';
            plain |= argv[i][2] == 'p' && argv[i][3] == 'l';
            continue;
        }
        if (!strcmp(argv[i], "--params")) {
            if (i + 1 >= argc)
                return cli_usage_error("info: --params needs a file");
            params_path = argv[++i];
            continue;
        }
        if (!strcmp(argv[i], "--batch")) {
            if (i + 1 >= argc || !cli_parse_long(argv[i + 1], 1, 1L << 24, &batch))
                return cli_usage_error("info: --batch needs a positive integer");
            i++;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("info: unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error("info: more than one model given");
        }
    }
    if (!path)
        return usage(stderr);

    hg_graph *g = NULL;
    hg_status s = hg_onnx_load_file(path, &g);
    if (s != HG_OK)
        return cli_fail(s);
    char buf[256];
    printf("model: %s\ninputs:\n", path);
    for (size_t i = 0; i < hg_graph_n_inputs(g); i++) {
        hg_shape sh;
        hg_dtype dt;
        hg_graph_input_shape(g, i, &sh, &dt);
        format_shape(&sh, buf, sizeof buf);
        printf("  %-24s %-8s %s%s\n", hg_graph_input_name(g, i), hg_dtype_name(dt), buf,
               hg_graph_input_is_operand(g, i) ? "  (operand: must be bound to a constant)" : "");
    }
    s = hg_graph_optimize(g, batch);
    if (s != HG_OK) {
        hg_graph_free(g);
        return cli_fail(s);
    }
    printf("outputs:\n");
    for (size_t i = 0; i < hg_graph_n_outputs(g); i++) {
        hg_shape sh;
        hg_dtype dt;
        hg_graph_output_shape(g, i, &sh, &dt);
        format_shape(&sh, buf, sizeof buf);
        printf("  %-24s %-8s %s\n", hg_graph_output_name(g, i), hg_dtype_name(dt), buf);
    }
    size_t nn = hg_graph_n_nodes(g);
    printf("ops (after graph passes, batch %ld):\n", batch);
    printf("  %4s  %-18s %-28s %-22s %s\n", "#", "op", "name", "output shape", "runs on");
    int n_cipher[HG_OP_COUNT] = {0}, n_client[HG_OP_COUNT] = {0};
    for (size_t i = 0; i < nn; i++) {
        hg_op op = hg_graph_node_op(g, i);
        const hg_op_info *info = hg_op_get_info(op);
        hg_shape sh;
        hg_graph_node_shape(g, i, &sh);
        format_shape(&sh, buf, sizeof buf);
        char where[96];
        if (info->needs_client) {
            snprintf(where, sizeof where, "client");
            n_client[op]++;
        } else {
            snprintf(where, sizeof where, "ciphertext, depth %d%s", info->mult_depth,
                     hg_graph_node_has_const_weights(g, i) || info->max_inputs == 1
                         ? ""
                         : ", ciphertext operands");
            n_cipher[op]++;
        }
        if (!hg_graph_node_keeps_batch(g, i))
            strncat(where, " (mixes the batch axis)", sizeof where - strlen(where) - 1);
        printf("  %4zu  %-18s %-28.28s %-22s %s\n", i, info->name, hg_graph_node_name(g, i), buf,
               where);
    }
    printf("parameters: %lld\n", (long long)hg_graph_param_count(g));

    hg_depth_report r;
    s = hg_graph_depth_report(g, &r);
    if (s != HG_OK) {
        hg_graph_free(g);
        return cli_fail(s);
    }
    printf("multiplicative depth between activations:\n");
    for (size_t i = 0; i < r.n_segments; i++) {
        const hg_depth_segment *sg = &r.segments[i];
        if (sg->end_node >= 0)
            printf("  up to %-18s %-28.28s depth %d\n",
                   hg_op_get_info(hg_graph_node_op(g, (size_t)sg->end_node))->name,
                   hg_graph_node_name(g, (size_t)sg->end_node), sg->depth);
        else
            printf("  up to the outputs %-35s depth %d\n", "", sg->depth);
    }
    printf("  max depth: %d\n", r.max_depth);
    hg_depth_report_clear(&r);

    printf("on ciphertexts:");
    for (int op = 0; op < HG_OP_COUNT; op++)
        if (n_cipher[op])
            printf(" %s x%d", hg_op_get_info((hg_op)op)->name, n_cipher[op]);
    printf("\nneeds the client:");
    bool any = false;
    for (int op = 0; op < HG_OP_COUNT; op++)
        if (n_client[op]) {
            printf(" %s x%d", hg_op_get_info((hg_op)op)->name, n_client[op]);
            any = true;
        }
    printf("%s\n", any ? "" : " nothing");
    int rc = plain ? 0 : print_encryption(g, params_path, real, unmasked);
    hg_graph_free(g);
    return rc;
}
