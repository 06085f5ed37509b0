/*
 * record_v2.so -- record.so (see record.c) built with default `version`
 * "v2" and plugin version "2": different file bytes, same options, so a
 * reload test can replace the plugin file itself and see which build
 * handled each message.
 */
#define RECORD_DEFAULT_VERSION "v2"
#define RECORD_PLUGIN_VERSION  "2"
#include "record.c"
