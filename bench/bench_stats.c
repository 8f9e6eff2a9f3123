/*
 * bench_stats.c -- counters of one benchmark run (see bench_stats.h).
 */
#include "bench_stats.h"

#include <stdlib.h>
#include <string.h>

static int
bench_lat_init(struct bench_lat *lat, size_t cap)
{
    memset(lat, 0, sizeof *lat);
    lat->us = calloc(cap ? cap : 1, sizeof *lat->us);
    lat->cap = cap;
    return lat->us == NULL ? -1 : 0;
}

int
bench_stats_init(struct bench_stats *st, size_t samples)
{
    memset(st, 0, sizeof *st);
    if (bench_lat_init(&st->msg_lat, samples) < 0
        || bench_lat_init(&st->setup_lat, samples) < 0) {
        bench_stats_free(st);
        return -1;
    }
    return 0;
}

void
bench_stats_free(struct bench_stats *st)
{
    free(st->msg_lat.us);
    free(st->setup_lat.us);
    st->msg_lat.us = st->setup_lat.us = NULL;
}

static int
bench_fail_same(const struct bench_fail *f, const char *step, int code,
                const char *kind)
{
    if (strcmp(f->step, step) != 0 || f->code != code)
        return 0;
    return code != 0 || strcmp(f->kind, kind) == 0;
}

void
bench_stats_fail(struct bench_stats *st, const char *step, int code,
                 const char *kind)
{
    size_t i;

    for (i = 0; i < st->nfail; i++)
        if (bench_fail_same(&st->fail[i], step, code, kind))
            break;
    if (i == st->nfail) {
        if (st->nfail == BENCH_STATS_FAIL_MAX)
            i = BENCH_STATS_FAIL_MAX - 1; /* overflow: lump into the last */
        else
            st->fail[st->nfail++] = (struct bench_fail){
                .step = step, .code = code, .kind = code ? NULL : kind };
    }
    st->fail[i].count++;
}

void
bench_stats_tls(struct bench_stats *st, const char *desc, int resumed)
{
    size_t i;

    st->handshakes++;
    st->resumed += resumed != 0;
    for (i = 0; i < st->ntls; i++)
        if (strncmp(st->tls[i].desc, desc, BENCH_STATS_TLS_LEN - 1) == 0)
            break;
    if (i == st->ntls) {
        if (st->ntls == BENCH_STATS_TLS_MAX)
            return;
        snprintf(st->tls[i].desc, sizeof st->tls[i].desc, "%s", desc);
        st->ntls++;
    }
    st->tls[i].count++;
}

void
bench_lat_add(struct bench_lat *lat, double us)
{
    lat->sum += us;
    lat->offered++;
    if (lat->n < lat->cap)
        lat->us[lat->n++] = us;
}

static int
bench_lat_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Print "avg A  p50 B  p99 C  max D ms"; sorts the samples in place. */
static void
bench_lat_print(const struct bench_lat *lat, const char *what, FILE *out)
{
    double *v = lat->us;
    size_t n = lat->n;

    if (n == 0)
        return;
    qsort(v, n, sizeof *v, bench_lat_cmp);
    fprintf(out, "latency    %-28s avg %.2f  p50 %.2f  p99 %.2f  max %.2f ms\n",
            what, lat->sum / (double)lat->offered / 1e3, v[n / 2] / 1e3,
            v[n * 99 / 100] / 1e3, v[n - 1] / 1e3);
}

void
bench_stats_print(const struct bench_stats *st, FILE *out)
{
    bench_lat_print(&st->setup_lat, "session setup (to MAIL)", out);
    bench_lat_print(&st->msg_lat, "message (MAIL to 250)", out);
    for (size_t i = 0; i < st->ntls; i++)
        fprintf(out, "tls        %lu x %s\n", st->tls[i].count,
                st->tls[i].desc);
    if (st->nfail == 0)
        fprintf(out, "failures   none\n");
    for (size_t i = 0; i < st->nfail; i++) {
        const struct bench_fail *f = &st->fail[i];

        if (f->code)
            fprintf(out, "failures   %-9s %d: %lu\n", f->step, f->code,
                    f->count);
        else
            fprintf(out, "failures   %-9s %s: %lu\n", f->step, f->kind,
                    f->count);
    }
}
