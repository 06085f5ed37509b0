/*
 * pub_info.h -- `jetway pub --stream-info` / `--consumer-info`: a stream's
 * or consumer's state as one JSON object on stdout, for scripts and tests.
 *
 * Threads: blocking JetStream requests; a command's thread.
 */
#ifndef JW_PUB_INFO_H
#define JW_PUB_INFO_H

#include <nats/nats.h>
#include <stdio.h>

/* 0 on success; -1 with a message on stderr. */
int pub_info_stream(jsCtx *js, const char *stream, FILE *out);
int pub_info_consumer(jsCtx *js, const char *stream, const char *consumer, FILE *out);

#endif /* JW_PUB_INFO_H */
