/*
 * ack_v2.so -- test fixture: ack.so with version "2", standing in for a
 * rebuilt plugin (reload and memfd tests swap it in at the same path).
 */
#define ACK_VERSION "2"
#include "ack.c"
