/*
 * ctlsock -- the control socket of `jetway run --pid-file PATH`: a unix
 * stream socket at PATH.sock (mode 0600: the pid file's owner controls the
 * process), for `jetway consumer pause|resume NAME --pid-file PATH`.
 *
 * Protocol: one request line per connection, "pause NAME\n" or
 * "resume NAME\n" (at most CTLSOCK_LINE_MAX bytes); one answer line,
 * "ok WHAT WAS DONE\n" or "error WHY\n", then the server closes. A
 * connection that sends no full line within CTLSOCK_TIMEOUT_MS is closed.
 *
 * Threads: the loop thread only.
 */
#ifndef JW_CTLSOCK_H
#define JW_CTLSOCK_H

#include "rt_int.h"

#define CTLSOCK_LINE_MAX   512
#define CTLSOCK_TIMEOUT_MS 5000

/* Listen at r->pid_file + ".sock" (no-op without a pid file). Returns 0, or
 * -1 (logged; the process runs on without the socket). */
int ctlsock_start(rt_host *r);
/* Close the listener and the connections, remove the socket file. */
void ctlsock_stop(rt_host *r);

/* Answer one request line (also the HTTP endpoint's, through rt_obs.c):
 * 0 with "ok ..." or -1 with "error ..." in out. Any thread. */
int ctlsock_handle(const char *line, char *out, size_t outlen);

#endif /* JW_CTLSOCK_H */
