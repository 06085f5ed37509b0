/*
 * abi_minor99.so -- negative test fixture: claims ABI 1.99, newer than any host.
 */
#include "fixture.h"

FX_DESCRIPTOR("abi_minor99", JW_PLUGIN_MAGIC, JW_ABI_MAJOR, 99, sizeof(jw_plugin), JW_BUILD_SIG,
              fx_handle)
