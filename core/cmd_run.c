/* cmd_run.c -- placeholder until the command lands. */
#include <stdio.h>

#include "cmd.h"

int
cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "jetway run: not implemented yet\n");
    return 1;
}
