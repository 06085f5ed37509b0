/* cmd_dlq.c -- placeholder until the command lands. */
#include <stdio.h>

#include "cmd.h"

int
cmd_dlq(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "jetway dlq: not implemented yet\n");
    return 1;
}
