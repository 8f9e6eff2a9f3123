/*
 * smtp_data.c -- DATA framing and dot-unstuffing (RFC 5321 4.1.1.4, 4.5.2)
 * as a transition table, so that what ends the data can be read at a
 * glance (see smtp_data.h for the SMTP smuggling background).
 *
 * Trust boundary: every byte comes from the network.
 */
#include "smtp/smtp_data.h"

#include <string.h>

/* Where we are in the input. */
enum data_state {
    ST_BOL,    /* start of a line: after a real CRLF, or right after 354 */
    ST_TEXT,   /* inside a line */
    ST_CR,     /* inside a line, a CR held back until we see what follows */
    ST_DOT,    /* start of a line, then "." (dropped: it is the stuffing) */
    ST_DOT_CR, /* start of a line, ".", CR held back */
    ST_COUNT
};

/* What one input byte is, for the table. */
enum data_class { CL_CR, CL_LF, CL_DOT, CL_OTHER, CL_COUNT };

/* What to store for one input byte. */
enum data_action {
    ACT_NONE,      /* store nothing (held CR, stuffing dot) */
    ACT_BYTE,      /* store the byte */
    ACT_CRLF,      /* a real CRLF ends the line: store CRLF */
    ACT_BARE,      /* bare CR or LF: store CRLF or refuse the message */
    ACT_BARE_BYTE, /* a held CR was bare: as ACT_BARE, then the byte */
    ACT_END,       /* <CRLF>.<CRLF>: end of data */
};

struct data_step {
    unsigned char next;   /* enum data_state */
    unsigned char action; /* enum data_action */
};

/* The whole DATA framing. Only ST_DOT_CR + LF ends the data, and ST_DOT_CR
 * is reachable only from ST_BOL, which only a real CRLF (or the start)
 * enters: so only <CRLF>.<CRLF> ends it. After a bare CR or LF we are in
 * ST_TEXT, never ST_BOL: a "." there is content, not stuffing. */
/* clang-format off */
static const struct data_step data_table[ST_COUNT][CL_COUNT] = {
    [ST_BOL] = {
        [CL_CR] = {ST_CR, ACT_NONE},
        [CL_LF] = {ST_TEXT, ACT_BARE},          /* <CRLF><LF> */
        [CL_DOT] = {ST_DOT, ACT_NONE},          /* RFC 5321 4.5.2 */
        [CL_OTHER] = {ST_TEXT, ACT_BYTE},
    },
    [ST_TEXT] = {
        [CL_CR] = {ST_CR, ACT_NONE},
        [CL_LF] = {ST_TEXT, ACT_BARE},          /* bare LF */
        [CL_DOT] = {ST_TEXT, ACT_BYTE},
        [CL_OTHER] = {ST_TEXT, ACT_BYTE},
    },
    [ST_CR] = {
        [CL_CR] = {ST_CR, ACT_BARE},            /* first CR was bare */
        [CL_LF] = {ST_BOL, ACT_CRLF},
        [CL_DOT] = {ST_TEXT, ACT_BARE_BYTE},    /* <CR>. */
        [CL_OTHER] = {ST_TEXT, ACT_BARE_BYTE},
    },
    [ST_DOT] = {
        [CL_CR] = {ST_DOT_CR, ACT_NONE},
        [CL_LF] = {ST_TEXT, ACT_BARE},          /* <CRLF>.<LF> */
        [CL_DOT] = {ST_TEXT, ACT_BYTE},         /* ".." stores "." */
        [CL_OTHER] = {ST_TEXT, ACT_BYTE},
    },
    [ST_DOT_CR] = {
        [CL_CR] = {ST_CR, ACT_BARE},            /* <CRLF>.<CR><CR> */
        [CL_LF] = {ST_BOL, ACT_END},            /* <CRLF>.<CRLF> */
        [CL_DOT] = {ST_TEXT, ACT_BARE_BYTE},    /* <CRLF>.<CR>. */
        [CL_OTHER] = {ST_TEXT, ACT_BARE_BYTE},
    },
};
/* clang-format on */

static enum data_class
data_class_of(char c)
{
    if (c == '\r')
        return CL_CR;
    if (c == '\n')
        return CL_LF;
    return c == '.' ? CL_DOT : CL_OTHER;
}

void
smtp_data_init(struct smtp_data *d, uint64_t limit, bool reject_bare,
               smtp_data_write_fn *write, void *ctx)
{
    memset(d, 0, offsetof(struct smtp_data, stage));
    d->write = write;
    d->ctx = ctx;
    d->limit = limit;
    d->reject_bare = reject_bare;
    d->hdr_received = true;
    d->state = ST_BOL;
}

/* True once the message is refused: keep reading, stop writing. */
static bool
data_refused(const struct smtp_data *d)
{
    return d->too_big || d->write_failed || (d->bare_seen && d->reject_bare) ||
           (d->hop_limit != 0 && d->hops >= d->hop_limit);
}

void
smtp_data_set_hop_limit(struct smtp_data *d, unsigned hop_limit)
{
    d->hop_limit = hop_limit;
}

/* Count "Received:" fields in the header section of the stored content
 * (CRLF lines; the section ends at the first empty line, RFC 5322 2.1).
 * Continuation lines start with white space, so they never match. */
static void
data_scan_header(struct smtp_data *d, const char *p, size_t n)
{
    static const char field[] = "received:";
    for (size_t i = 0; i < n && !d->in_body; i++) {
        char c = p[i];
        if (c == '\n') {
            d->in_body = d->hdr_col <= 1; /* "" or "\r": empty line */
            d->hdr_col = 0;
            d->hdr_received = true;
            continue;
        }
        if (d->hdr_col < sizeof(field) - 1) {
            char lc = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            d->hdr_received &= lc == field[d->hdr_col];
            if (d->hdr_col == sizeof(field) - 2 && d->hdr_received)
                d->hops++;
            d->hdr_col++;
        } else if (d->hdr_col < 255) {
            d->hdr_col++;
        }
    }
}

static void
data_flush(struct smtp_data *d)
{
    if (d->staged > 0 && !data_refused(d) &&
        d->write(d->ctx, d->stage, d->staged, &d->nospace) < 0)
        d->write_failed = true;
    d->staged = 0;
}

/* Store n bytes of content: count them, stage them, write full chunks. */
static void
data_store(struct smtp_data *d, const char *p, size_t n)
{
    d->size += n;
    if (d->limit != 0 && d->size > d->limit)
        d->too_big = true;
    if (!d->in_body)
        data_scan_header(d, p, n);
    while (n > 0 && !data_refused(d)) {
        size_t room = sizeof(d->stage) - d->staged;
        size_t take = n < room ? n : room;
        memcpy(d->stage + d->staged, p, take);
        d->staged += take;
        p += take;
        n -= take;
        if (d->staged == sizeof(d->stage))
            data_flush(d);
    }
}

static void
data_bare(struct smtp_data *d)
{
    d->bare_seen = true;
    data_store(d, "\r\n", 2);
}

static void
data_act(struct smtp_data *d, enum data_action a, const char *byte)
{
    if (a == ACT_BARE || a == ACT_BARE_BYTE)
        data_bare(d);
    if (a == ACT_BYTE || a == ACT_BARE_BYTE)
        data_store(d, byte, 1);
    else if (a == ACT_CRLF)
        data_store(d, "\r\n", 2);
    else if (a == ACT_END)
        d->done = true;
}

/* Inside a line, store the run of bytes up to the next CR or LF at once
 * (the table would say ACT_BYTE for each). Returns the run length. */
static size_t
data_text_run(struct smtp_data *d, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] != '\r' && p[i] != '\n')
        i++;
    data_store(d, p, i);
    return i;
}

size_t
smtp_data_feed(struct smtp_data *d, const char *data, size_t len, bool *done)
{
    size_t i = 0;

    while (i < len && !d->done) {
        if (d->state == ST_TEXT) {
            i += data_text_run(d, data + i, len - i);
            if (i == len)
                break;
        }
        const struct data_step *st =
            &data_table[d->state][data_class_of(data[i])];
        d->state = st->next;
        data_act(d, (enum data_action)st->action, data + i);
        i++;
    }
    if (d->done)
        *done = true;
    return i;
}

enum smtp_data_result
smtp_data_finish(struct smtp_data *d)
{
    data_flush(d);
    if (d->too_big)
        return SMTP_DATA_TOO_BIG;
    if (d->hop_limit != 0 && d->hops >= d->hop_limit)
        return SMTP_DATA_TOO_MANY_HOPS;
    if (d->bare_seen && d->reject_bare)
        return SMTP_DATA_BARE_NEWLINE;
    if (d->write_failed)
        return d->nospace ? SMTP_DATA_NO_SPACE : SMTP_DATA_WRITE_FAILED;
    return SMTP_DATA_OK;
}

uint64_t
smtp_data_size(const struct smtp_data *d)
{
    return d->size;
}
