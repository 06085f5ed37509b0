/* cmd_load.c -- placeholder until the command lands. */
#include <stdio.h>

#include "cmd.h"

int
cmd_load(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "jetway load: not implemented yet\n");
    return 1;
}
