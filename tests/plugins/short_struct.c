/*
 * short_struct.so -- negative test fixture: struct_size is smaller than the ABI 1.0 descriptor.
 */
#include "fixture.h"

FX_DESCRIPTOR("short_struct", JW_PLUGIN_MAGIC, JW_ABI_MAJOR, JW_ABI_MINOR,
              offsetof(jw_plugin, reserved), JW_BUILD_SIG, fx_handle)
