/*
 * procstat.c -- see obs.h (procstat).
 *
 * What the Prometheus client libraries export as process_* (client_golang's
 * process collector reads the same files): /proc/self/stat for CPU time,
 * virtual size, resident pages and the start tick; /proc/stat's btime to
 * turn the start tick into UNIX time; /proc/self/fd for the open
 * descriptors; RLIMIT_NOFILE for the limit. /proc/self is the whole process
 * (the thread group), whichever thread reads it.
 */
#include "obs.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Read a small /proc file whole (they are generated, so one read may be short). */
static int
read_small(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* Boot time in UNIX seconds (the "btime" line of /proc/stat), or -1. */
static long long
boot_time(void)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return -1;
    char line[256];
    long long bt = -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "btime ", 6) == 0) {
            bt = strtoll(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return bt;
}

static int64_t
count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

int
proc_self_read(proc_self *out)
{
    out->cpu_seconds = -1;
    out->rss_bytes = out->vsize_bytes = out->open_fds = out->max_fds = -1;
    out->start_time = -1;

    char buf[1024];
    if (read_small("/proc/self/stat", buf, sizeof(buf)) == 0) {
        /*
         * "pid (comm) state ppid ...": comm may hold spaces and ')', so the
         * fields are counted from the last ')'. After it come field 3
         * (state) onwards: utime is 14, stime 15, starttime 22, vsize 23,
         * rss 24 (pages).
         */
        char *p = strrchr(buf, ')');
        unsigned long long f[25] = {0};
        int field = 2;
        if (p != NULL) {
            for (char *sp = strchr(p, ' '); sp != NULL && field < 24; sp = strchr(sp + 1, ' ')) {
                field++;
                f[field] = strtoull(sp + 1, NULL, 10);
            }
        }
        long tick = sysconf(_SC_CLK_TCK);
        long page = sysconf(_SC_PAGESIZE);
        if (field == 24 && tick > 0 && page > 0) {
            out->cpu_seconds = (double)(f[14] + f[15]) / (double)tick;
            out->vsize_bytes = (int64_t)f[23];
            out->rss_bytes = (int64_t)f[24] * page;
            long long bt = boot_time();
            if (bt > 0)
                out->start_time = (double)bt + (double)f[22] / (double)tick;
        }
    }
    out->open_fds = count_fds();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        out->max_fds = rl.rlim_cur == RLIM_INFINITY ? INT64_MAX : (int64_t)rl.rlim_cur;
    return out->rss_bytes >= 0 ? 0 : -1;
}
