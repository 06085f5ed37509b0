/*
 * status_int.h -- the status page's files, compiled into the binary.
 *
 * scripts/embed-assets turns every file of core/obs/status/ into
 * $(BUILD)/gen/status_assets.c (a byte array each), so the page needs
 * nothing from outside the process: no CDN, no files at run time.
 * Read-only data: any thread.
 */
#ifndef JW_OBS_STATUS_INT_H
#define JW_OBS_STATUS_INT_H

#include <stddef.h>

typedef struct status_asset {
    const char *name; /* the file name under core/obs/status/, e.g. "status.js" */
    const unsigned char *data;
    size_t len;
} status_asset;

extern const status_asset status_assets[];
extern const size_t status_nassets;

#endif /* JW_OBS_STATUS_INT_H */
