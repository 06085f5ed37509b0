/*
 * watch -- `run --watch-config`: reload when the config file's content
 * changes, as SIGHUP does.
 *
 * The directory holding the config path is watched (inotify through
 * uv_fs_event), not the file: editors replace files by rename, and a
 * Kubernetes ConfigMap volume changes by swapping the `..data` symlink the
 * file's own symlink goes through, so the file's inode never changes and a
 * watch on it would see nothing. When the path resolves into another
 * directory (a symlink elsewhere, or `..data/` of a ConfigMap), that
 * directory is watched too, and re-resolved after every change. Events are
 * debounced (WATCH_DEBOUNCE_MS after the last one, so a swap made of
 * several steps counts once); then the file is read and hashed on the
 * libuv threadpool (never on the loop) and a reload is requested only when
 * its SHA-256 differs from the last one seen: the running config's at
 * start, then each one that requested a reload. Unrelated files in the
 * directory, touch(1) and rewriting the same bytes reload nothing.
 * The reload itself is reload_request(): validate, then swap, coalesced
 * with SIGHUP and with reloads already running, reported the same way.
 *
 * Threads: every function on the loop thread (the hash runs on the libuv
 * threadpool and reports back to the loop).
 */
#ifndef JW_WATCH_H
#define JW_WATCH_H

#include "rt_int.h"

#define WATCH_DEBOUNCE_MS 200

/* Start watching r->config_path. Returns 0, or -1 (logged). */
int watch_start(rt_host *r);
/* Close the handles (at shutdown); a hash in flight finishes on its own. */
void watch_stop(rt_host *r);

#endif /* JW_WATCH_H */
