/* hegraph info: what a model computes and how it would run on ciphertexts. */
#include "cli.h"

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
    fprintf(f, "usage: hegraph info MODEL.onnx [--batch N]\n\n"
               "Prints the model's inputs and outputs, each op (after hegraph's graph passes)\n"
               "with its output shape for a batch of N (default 1), the parameter count, the\n"
               "multiplicative depth between client-evaluated activations, and which ops run\n"
               "on ciphertexts and which need the client.\n");
    return f == stdout ? 0 : 2;
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    long batch = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return usage(stdout);
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
    hg_graph_free(g);
    return 0;
}
