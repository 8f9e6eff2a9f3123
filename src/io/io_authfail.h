/*
 * io_authfail.h -- failed AUTH attempts per client address, shared by all
 * sessions of the process, to slow down and then cut off password guessing
 * (issue 3; RFC 4954 14 asks servers to protect against such attacks).
 *
 * Trust boundary: keys are client addresses from accept(); the table is
 * bounded in entries so a flood of addresses cannot grow it without limit.
 */
#ifndef TLSMTA_IO_AUTHFAIL_H
#define TLSMTA_IO_AUTHFAIL_H

#include <time.h>

#define IO_AUTHFAIL_MAX_ENTRIES 65536   /* addresses tracked at once */

struct io_authfail;

/* A table that remembers each failure for window seconds. Returns NULL if
 * memory runs out. */
struct io_authfail *io_authfail_new(unsigned window);

/* Record one failure of addr at now; returns how many failures addr has
 * within the window, this one included (at least 1). When the table is
 * full of live entries the oldest address is forgotten. */
unsigned io_authfail_record(struct io_authfail *t, const char *addr,
                            time_t now);

/* Failures of addr within the window at now (0 if none). */
unsigned io_authfail_count(struct io_authfail *t, const char *addr,
                           time_t now);

void io_authfail_free(struct io_authfail *t);

#endif
