/*
 * smtp_data.h -- the DATA section of an SMTP transaction (RFC 5321 4.1.1.4,
 * 4.5.2), sans-I/O: end-of-data detection, dot-unstuffing, bare CR/LF
 * policy and the size limit.
 *
 * Only <CRLF>.<CRLF> ends the data, where the first CRLF may be the one
 * that ended the DATA command (the dot is then the first byte after 354).
 * <LF>.<LF>, <CR>.<CR>, <LF>.<CRLF>, <CRLF>.<LF> never do: a server that
 * ends data anywhere else lets a sender smuggle a second message past a
 * filter that ends it at the right place ("SMTP smuggling", CVE-2023-51764
 * / 51765 / 51766).
 *
 * Lines are the ones ended by a real CRLF: a line starting with "." loses
 * that first dot (RFC 5321 4.5.2), and only there. A bare CR or LF never
 * starts a line; it is stored as CRLF (normalised) or makes the whole
 * message be refused (reject mode), see smtp_server_params.bare_newline.
 *
 * Trust boundary: every byte comes from the network.
 */
#ifndef TLSMTA_SMTP_DATA_H
#define TLSMTA_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_DATA_CHUNK 8192 /* bytes handed to the writer at a time */

/* How a DATA section ended. When several apply, the first in this order
 * is reported: a permanent verdict on the message outranks our trouble. */
enum smtp_data_result {
    SMTP_DATA_OK,           /* stored in full */
    SMTP_DATA_TOO_BIG,      /* over the limit: 552 5.3.4 */
    SMTP_DATA_TOO_MANY_HOPS, /* Received: fields past the hop limit
                                (RFC 5321 6.3, a mail loop): 554 5.4.6 */
    SMTP_DATA_BARE_NEWLINE, /* bare CR/LF in reject mode: 550 5.5.2 */
    SMTP_DATA_NO_SPACE,     /* writer failed, disk full: 452 4.3.1 */
    SMTP_DATA_WRITE_FAILED, /* writer failed otherwise: 451 4.3.0 */
};

/* Receives the stored content in order, in pieces of at most
 * SMTP_DATA_CHUNK bytes. Returns 0, or -1 (setting *nospace when the
 * cause was a full disk); after -1 it is not called again. */
typedef int smtp_data_write_fn(void *ctx, const char *data, size_t len,
                               bool *nospace);

/* One DATA section. Large (it holds a chunk buffer): allocate it for the
 * duration of DATA only. All fields are private to smtp_data.c. */
struct smtp_data {
    smtp_data_write_fn *write;   /* borrowed */
    void *ctx;                   /* passed to write, borrowed */
    uint64_t limit;              /* stored bytes allowed; 0 means none */
    uint64_t size;               /* bytes stored (or that would have been) */
    unsigned char state;         /* position in the framing machine */
    bool reject_bare;            /* bare CR/LF refuses the message */
    bool bare_seen;              /* a bare CR or LF was received */
    bool too_big;                /* size passed limit */
    bool write_failed;           /* write returned -1 */
    bool nospace;                /* ... because the disk was full */
    bool done;                   /* <CRLF>.<CRLF> was seen */
    unsigned hop_limit;          /* Received: fields allowed; 0: none */
    unsigned hops;               /* Received: fields in the header */
    bool in_body;                /* the header section has ended */
    unsigned char hdr_col;       /* bytes of the current header line seen
                                    (counted up to 9) */
    bool hdr_received;           /* ... and they are "received:" so far */
    size_t staged;               /* bytes in stage */
    char stage[SMTP_DATA_CHUNK]; /* content not yet handed to write */
};

/* Start a DATA section right after the 354 reply. limit is in stored
 * octets (after unstuffing; RFC 1870 counts the message, not the dots),
 * 0 for none. With reject_bare, a bare CR or LF is not stored and the
 * section ends as SMTP_DATA_BARE_NEWLINE. */
void smtp_data_init(struct smtp_data *d, uint64_t limit, bool reject_bare,
                    smtp_data_write_fn *write, void *ctx);

/* Refuse the message (SMTP_DATA_TOO_MANY_HOPS) when its header section
 * holds hop_limit or more "Received:" fields (we are about to add one
 * more): RFC 5321 6.3 asks servers to detect loops by counting them, with
 * a threshold of at least 100. 0 turns the check off (the default after
 * smtp_data_init()). */
void smtp_data_set_hop_limit(struct smtp_data *d, unsigned hop_limit);

/* Take up to len bytes. Returns how many were consumed: all of them, or
 * fewer when the end of data was found, and then the count includes the
 * final LF and *done is set (it is left untouched otherwise). Once the
 * message is refused (size, bare newline, writer failure), bytes are still
 * read to the end of data but no longer written. */
size_t smtp_data_feed(struct smtp_data *d, const char *data, size_t len,
                      bool *done);

/* After *done: hand what is staged to the writer and say how the section
 * ended. Call once. */
enum smtp_data_result smtp_data_finish(struct smtp_data *d);

/* Octets of content stored (or, past the limit, that would have been). */
uint64_t smtp_data_size(const struct smtp_data *d);

#endif
