/*
 * bad_sig.so -- negative test fixture: the build signature is not the host's.
 */
#include "fixture.h"

FX_DESCRIPTOR("bad_sig", JW_PLUGIN_MAGIC, JW_ABI_MAJOR, JW_ABI_MINOR, sizeof(jw_plugin),
              "p4.z4.l4.o4321", fx_handle)
