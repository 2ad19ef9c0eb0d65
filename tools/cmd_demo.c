/* hegraph demo: a CKKS demonstration (filled in with the ckks layer). */
#include "cli.h"

#include <stdio.h>

int cmd_demo(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "hegraph demo: not built yet\n");
    return 1;
}
