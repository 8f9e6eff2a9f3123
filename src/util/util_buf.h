/*
 * util_buf.h -- a growable byte buffer with a hard size bound.
 *
 * Nothing mail-specific. Used for SMTP replies, envelope text and anything
 * else assembled in memory. Every append checks the bound, so a peer can
 * never make a buffer grow past what its owner allowed.
 */
#ifndef TLSMTA_UTIL_BUF_H
#define TLSMTA_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;     /* owned; NUL-terminated after every append (not counted) */
    size_t len;     /* bytes used, excluding the trailing NUL */
    size_t cap;     /* bytes allocated */
    size_t max;     /* hard bound on len in bytes; 0 means 64 MiB */
};

/* Initialise an empty buffer that may hold at most max bytes (0: 64 MiB).
 * Allocates nothing until the first append. */
void buf_init(struct buf *b, size_t max);

/* Append len bytes. Returns 0, or -1 if the bound would be passed or memory
 * ran out; on -1 the buffer is unchanged. */
int buf_append(struct buf *b, const void *data, size_t len);

/* Append a NUL-terminated string. Same returns as buf_append(). */
int buf_puts(struct buf *b, const char *s);

/* Append printf-style formatted text. Same returns as buf_append(). */
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* Remove the first n bytes (n <= len), keeping the rest. */
void buf_consume(struct buf *b, size_t n);

/* Forget the contents; keeps the allocation. */
void buf_reset(struct buf *b);

/* Release the allocation; the buffer is empty and reusable after. */
void buf_free(struct buf *b);

#endif
