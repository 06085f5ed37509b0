/*
 * latstat.c -- summarise a latency file written by `baseline --latency-file`
 * or by the stamp plugin (format: bench_util.h):
 *
 *   latstat FILE [--count N] [--skip K]
 *
 * Reads the first N slots (default: the whole file), ignores the first K
 * (warm-up), and prints {"samples":..,"missing":..,"p50_ms":..,"p99_ms":..,
 * "max_ms":..,"mean_ms":..} with nearest-rank percentiles. A slot still 0 is
 * a message that was never processed: counted as missing. Exits 1 when
 * there is no sample at all.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>

#include "bench_util.h"

static int
latstat_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double
latstat_pct(const int64_t *v, size_t n, double p)
{
    size_t rank = (size_t)ceil(p * (double)n);
    if (rank < 1)
        rank = 1;
    return (double)v[rank - 1] / 1e6;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'n'},
        {"skip", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    long long count = -1;
    long long skip = 0;
    int c;
    while ((c = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            count = bench_arg_ll("--count", optarg);
            break;
        case 'k':
            skip = bench_arg_ll("--skip", optarg);
            break;
        default:
            fprintf(stderr, "usage: latstat FILE [--count N] [--skip K]\n");
            return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: latstat FILE [--count N] [--skip K]\n");
        return 2;
    }
    FILE *fp = fopen(argv[optind], "rb");
    if (fp == NULL) {
        perror(argv[optind]);
        return 1;
    }
    fseek(fp, 0, SEEK_END);
    long long slots = ftell(fp) / 8;
    rewind(fp);
    if (count < 0 || count > slots)
        count = slots;
    int64_t *v = calloc((size_t)(count > 0 ? count : 1), sizeof(*v));
    if (v == NULL || fread(v, sizeof(*v), (size_t)count, fp) != (size_t)count) {
        fprintf(stderr, "latstat: cannot read %lld slots of %s\n", count, argv[optind]);
        return 1;
    }
    fclose(fp);

    size_t n = 0;
    long long missing = 0;
    double sum = 0;
    for (long long i = skip; i < count; i++) {
        if (v[i] > 0) {
            v[n++] = v[i];
            sum += (double)v[i];
        } else {
            missing++;
        }
    }
    if (n == 0) {
        fprintf(stderr, "latstat: no sample in %s\n", argv[optind]);
        free(v);
        return 1;
    }
    qsort(v, n, sizeof(*v), latstat_cmp);
    printf("{\"samples\":%zu,\"missing\":%lld,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
           "\"mean_ms\":%.3f}\n",
           n, missing, latstat_pct(v, n, 0.50), latstat_pct(v, n, 0.99), (double)v[n - 1] / 1e6,
           sum / (double)n / 1e6);
    free(v);
    return 0;
}
