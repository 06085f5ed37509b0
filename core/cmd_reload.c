/* cmd_reload.c -- placeholder until the command lands. */
#include <stdio.h>

#include "cmd.h"

int
cmd_reload(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "jetway reload: not implemented yet\n");
    return 1;
}
