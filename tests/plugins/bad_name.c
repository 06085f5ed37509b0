/*
 * bad_name.so -- negative test fixture: the plugin name has characters outside [a-z0-9_].
 */
#include "fixture.h"

FX_DESCRIPTOR("Bad-Name", JW_PLUGIN_MAGIC, JW_ABI_MAJOR, JW_ABI_MINOR, sizeof(jw_plugin),
              JW_BUILD_SIG, fx_handle)
