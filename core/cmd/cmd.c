/*
 * cmd.c -- helpers shared by the subcommands (linked into test tools too,
 * unlike main.c).
 */
#include <string.h>

#include "cmd.h"

int
cmd_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}
