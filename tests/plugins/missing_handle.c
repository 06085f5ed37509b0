/*
 * missing_handle.so -- negative test fixture: the descriptor has no handle callback.
 */
#include "fixture.h"

FX_DESCRIPTOR("missing_handle", JW_PLUGIN_MAGIC, JW_ABI_MAJOR, JW_ABI_MINOR, sizeof(jw_plugin),
              JW_BUILD_SIG, NULL)
