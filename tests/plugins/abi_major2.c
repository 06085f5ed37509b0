/*
 * abi_major2.so -- negative test fixture: claims ABI major 2 whatever the host asks for.
 */
#include "fixture.h"

FX_DESCRIPTOR("abi_major2", JW_PLUGIN_MAGIC, 2, JW_ABI_MINOR, sizeof(jw_plugin), JW_BUILD_SIG,
              fx_handle)
