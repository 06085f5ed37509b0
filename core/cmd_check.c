/* cmd_check.c -- placeholder until the command lands. */
#include <stdio.h>

#include "cmd.h"

int
cmd_check(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "jetway check: not implemented yet\n");
    return 1;
}
