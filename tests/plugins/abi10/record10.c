/*
 * record10.so -- record.so (see ../record.c) compiled against the frozen
 * ABI 1.0 header next to this file (jetway/plugin.h as of fefbac6), as a
 * plugin built before ABI 1.1 existed: its descriptor ends at reserved[]
 * and its abi_minor is 0. The loader tests and t_abi_side_by_side run it
 * next to 1.1 plugins in one process.
 */
#include <jetway/plugin.h>

#if JW_ABI_MINOR != 0
#error "record10.c must be built against tests/plugins/abi10/jetway/plugin.h (ABI 1.0)"
#endif

#define RECORD_PLUGIN_NAME     "record10"
#define RECORD_DEFAULT_VERSION "v10"
#define RECORD_PLUGIN_VERSION  "10"
#include "../record.c"
