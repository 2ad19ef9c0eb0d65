/* Shared helpers of the hegraph command-line tool: error reporting, option parsing, progress. */
#ifndef HG_TOOLS_CLI_H
#define HG_TOOLS_CLI_H

#include "hegraph/hegraph.h"

#include <stdbool.h>
#include <stdint.h>

/* Prints "hegraph: <status>: <detail>" to stderr and returns exit code 1. */
int cli_fail(hg_status s);
/* Prints "hegraph: <message>" to stderr and returns exit code 2 (usage errors). */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a decimal integer option value in [lo, hi]; false on a malformed value. */
bool cli_parse_long(const char *s, long lo, long hi, long *out);

/* A progress callback (hg_progress_fn) that draws a bar on stderr when stderr is a terminal
 * and stays silent otherwise. user is unused. */
void cli_progress(void *user, const char *stage, uint64_t done, uint64_t total);

/* Parses a size in GB ("20", "1.5") into bytes; false on a malformed or non-positive value. */
bool cli_parse_size_gb(const char *s, size_t *bytes);

/* Compares an output with the reference tensor in ref_path (same shape, every |difference| at
 * most tol) and prints the outcome: 0 when they agree, 1 (after a message on stderr) when
 * they do not or the reference cannot be read. */
int cli_expect(const char *name, const hg_ndarray *out, const char *ref_path, double tol);

/* Monotonic milliseconds. */
double cli_now_ms(void);

/* Subcommands: each parses its own arguments (argv[0] is the subcommand name). */
int cmd_demo(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_client(int argc, char **argv);

#endif
