/*
 * bad_magic.so -- negative test fixture: the descriptor's magic is wrong.
 */
#include "fixture.h"

FX_DESCRIPTOR("bad_magic", 0xdeadbeefu, JW_ABI_MAJOR, JW_ABI_MINOR, sizeof(jw_plugin), JW_BUILD_SIG,
              fx_handle)
