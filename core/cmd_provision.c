/* cmd_provision.c -- placeholder until the command lands. */
#include <stdio.h>

#include "cmd.h"

int
cmd_provision(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "jetway provision: not implemented yet\n");
    return 1;
}
