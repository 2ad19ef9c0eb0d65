/* hegraph: the command-line tool. One subcommand per cmd_*.c file. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"run", cmd_run, "encrypted inference on a data set: accuracy, latency, throughput"},
    {"demo", cmd_demo, "encrypt, compute on and decrypt a vector with CKKS, checking each step"},
    {"info", cmd_info, "inputs, outputs, ops, parameters and multiplicative depth of a model"},
    {"eval", cmd_eval, "run a model on TensorProto inputs with the plain float64 backend"},
    {"keygen", cmd_keygen, "a client's keys in a directory, for serve and client"},
    {"serve", cmd_serve, "serve encrypted inference over TCP (holds the model, never a key)"},
    {"client", cmd_client, "encrypted inference against a server (holds the keys and the data)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: hegraph COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nhegraph COMMAND --help describes a command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("hegraph %s\n", hg_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "hegraph: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
