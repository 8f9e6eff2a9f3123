/*
 * io_authfail.c -- failed AUTH attempts per client address.
 *
 * A chained hash table of addresses; each entry counts failures since its
 * first one and is forgotten window seconds after its last one. Entries
 * also sit on a list in order of last failure, so the oldest can be
 * dropped when the table is full.
 */
#include "io/io_authfail.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IO_AUTHFAIL_BUCKETS 4096
#define IO_AUTHFAIL_ADDR_MAX 64

struct io_authfail_entry {
    char addr[IO_AUTHFAIL_ADDR_MAX];    /* client address text */
    unsigned failures;                  /* within the window */
    time_t last;                        /* time of the latest failure */
    struct io_authfail_entry *chain;    /* next in its bucket */
    struct io_authfail_entry *older, *newer; /* age list */
};

struct io_authfail {
    unsigned window;                    /* seconds a failure counts */
    size_t n;                           /* entries */
    struct io_authfail_entry *bucket[IO_AUTHFAIL_BUCKETS];
    struct io_authfail_entry *oldest, *newest;
};

static uint32_t
io_authfail_hash(const char *s)
{
    uint32_t h = 2166136261u;           /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % IO_AUTHFAIL_BUCKETS;
}

struct io_authfail *
io_authfail_new(unsigned window)
{
    struct io_authfail *t = calloc(1, sizeof(*t));
    if (t != NULL)
        t->window = window ? window : 1;
    return t;
}

static void
io_authfail_unlink_age(struct io_authfail *t, struct io_authfail_entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        t->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        t->newest = e->older;
    e->older = e->newer = NULL;
}

static void
io_authfail_push_newest(struct io_authfail *t, struct io_authfail_entry *e)
{
    e->older = t->newest;
    e->newer = NULL;
    if (t->newest)
        t->newest->newer = e;
    else
        t->oldest = e;
    t->newest = e;
}

static void
io_authfail_remove(struct io_authfail *t, struct io_authfail_entry *e)
{
    struct io_authfail_entry **p = &t->bucket[io_authfail_hash(e->addr)];
    while (*p != e)
        p = &(*p)->chain;
    *p = e->chain;
    io_authfail_unlink_age(t, e);
    t->n--;
    free(e);
}

/* Forget entries whose last failure left the window. */
static void
io_authfail_expire(struct io_authfail *t, time_t now)
{
    while (t->oldest && now - t->oldest->last >= (time_t)t->window)
        io_authfail_remove(t, t->oldest);
}

static struct io_authfail_entry *
io_authfail_find(struct io_authfail *t, const char *addr)
{
    struct io_authfail_entry *e = t->bucket[io_authfail_hash(addr)];
    while (e && strcmp(e->addr, addr) != 0)
        e = e->chain;
    return e;
}

unsigned
io_authfail_record(struct io_authfail *t, const char *addr, time_t now)
{
    io_authfail_expire(t, now);
    struct io_authfail_entry *e = io_authfail_find(t, addr);
    if (e == NULL) {
        if (t->n >= IO_AUTHFAIL_MAX_ENTRIES)
            io_authfail_remove(t, t->oldest);
        if ((e = calloc(1, sizeof(*e))) == NULL)
            return 1;
        strncpy(e->addr, addr, sizeof(e->addr) - 1);
        uint32_t h = io_authfail_hash(e->addr);
        e->chain = t->bucket[h];
        t->bucket[h] = e;
        t->n++;
    } else {
        io_authfail_unlink_age(t, e);
    }
    e->failures++;
    e->last = now;
    io_authfail_push_newest(t, e);
    return e->failures;
}

unsigned
io_authfail_count(struct io_authfail *t, const char *addr, time_t now)
{
    io_authfail_expire(t, now);
    struct io_authfail_entry *e = io_authfail_find(t, addr);
    return e ? e->failures : 0;
}

void
io_authfail_free(struct io_authfail *t)
{
    if (t == NULL)
        return;
    while (t->oldest)
        io_authfail_remove(t, t->oldest);
    free(t);
}
