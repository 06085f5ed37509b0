/* cmd_pub.c -- placeholder until the command lands. */
#include <stdio.h>

#include "cmd.h"

int
cmd_pub(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "jetway pub: not implemented yet\n");
    return 1;
}
