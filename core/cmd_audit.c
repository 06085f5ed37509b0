/* cmd_audit.c -- placeholder until the command lands. */
#include <stdio.h>

#include "cmd.h"

int
cmd_audit(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "jetway audit: not implemented yet\n");
    return 1;
}
