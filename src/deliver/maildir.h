/*
 * maildir.h -- final delivery of one message to one recipient's Maildir
 * (the Maildir format: https://cr.yp.to/proto/maildir.html).
 *
 * The file written is "Return-Path: <sender>" (RFC 5321 4.4: added at final
 * delivery), "Delivered-To: rcpt" (loop detection, as Postfix writes it),
 * then the spooled content with every CRLF turned into LF: a Maildir holds
 * Unix text files, which is what Postfix local/virtual, Dovecot LDA and
 * mutt write and read. A lone CR is kept as it is.
 *
 * Durability: the file is written in tmp/, fsynced, renamed into new/; the
 * rename is durable once the new/ directory is fsynced. Deliveries collect
 * their new/ directories in a struct maildir_batch, and maildir_batch_sync()
 * fsyncs each directory once for all of them (group commit): a caller must
 * not drop its own copy of a message before that returns 0.
 *
 * Trust boundary: the recipient comes from the network (through the spool).
 * It is reduced to path components that cannot leave the template's
 * directory: no '/', no leading '.', no control characters. Never forks.
 */
#ifndef TLSMTA_DELIVER_MAILDIR_H
#define TLSMTA_DELIVER_MAILDIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAILDIR_PATH_MAX 4096          /* bytes incl. NUL, any path here */

enum maildir_error {
    MAILDIR_OK = 0,
    MAILDIR_ERR_IO = -1,               /* transient: defer and retry */
    MAILDIR_ERR_NOSPACE = -2,          /* ENOSPC/EDQUOT: defer and retry */
    MAILDIR_ERR_ADDRESS = -3,          /* the recipient (or sender) cannot
                                          name a mailbox or header safely:
                                          retrying will not help */
    MAILDIR_ERR_TEMPLATE = -4,         /* the maildir template is bad (a
                                          configuration error) */
};

/* Expand the template tmpl for rcpt ("local@domain", the local part as
 * received, possibly quoted). In tmpl, "%d" is the domain and "%u" the
 * local part (unquoted), both lower-cased (ASCII) and encoded so that each
 * is one safe path component: '/', '%', control characters, DEL and a
 * leading '.' become "%XX" (upper-case hex). "%%" is a '%'. Writes the
 * path (no trailing '/') to out (outlen bytes). Returns MAILDIR_OK;
 * MAILDIR_ERR_ADDRESS if rcpt has no '@', an empty local part or domain,
 * or the result does not fit; MAILDIR_ERR_TEMPLATE for another "%x" or an
 * empty template. */
int maildir_expand(const char *tmpl, const char *rcpt, char *out,
                   size_t outlen);

/* The domain of rcpt ("local@domain", the local part possibly quoted): a
 * pointer into rcpt just after the '@' that ends the local part, or NULL if
 * there is no such '@' or nothing after it. Routing uses this so that the
 * domain tested against local_domains is the one the path is made from. */
const char *maildir_rcpt_domain(const char *rcpt);

/* What to deliver: the content is length bytes of fd from offset (read
 * with pread, so fd's offset is not used), lines ending in CRLF. */
struct maildir_msg {
    const char *sender;                /* reverse-path, "" for <> */
    const char *rcpt;                  /* "local@domain" as received */
    int fd;                            /* borrowed; the content */
    off_t offset;                      /* where the content starts in fd */
    uint64_t length;                   /* content bytes */
};

/* The new/ directories written to since the last maildir_batch_sync(). */
struct maildir_batch;

/* Returns an empty batch, or NULL if out of memory. */
struct maildir_batch *maildir_batch_new(void);

/* fsync each new/ directory noted since the last call, once, and forget
 * them. Returns MAILDIR_OK (every delivery made with this batch since the
 * last call is durable), or MAILDIR_ERR_IO / MAILDIR_ERR_NOSPACE (none of
 * them may be counted as durable; why gets a reason, whylen bytes). */
int maildir_batch_sync(struct maildir_batch *b, char *why, size_t whylen);

/* Free b (without syncing). NULL is ignored. */
void maildir_batch_free(struct maildir_batch *b);

/* Deliver msg into the Maildir that tmpl gives for msg->rcpt, creating it
 * (tmp/, new/, cur/, mode 0700, and missing parents) if needed. The file is
 * written to tmp/NAME with O_EXCL, fsynced, and renamed to
 * new/NAME,S=<size> where NAME is "<sec>.M<usec>P<pid>Q<n>.<hostname>"
 * (hostname with '/' and ':' written as \057 and \072) and size the bytes
 * of the file. Its new/ directory is noted in batch. On MAILDIR_OK, path
 * (pathlen bytes) holds the file's path in new/. On error nothing is left
 * in tmp/ or new/, and why (whylen bytes) says what failed; returns
 * MAILDIR_ERR_IO, MAILDIR_ERR_NOSPACE, MAILDIR_ERR_ADDRESS (also for a
 * sender or recipient containing a control character, which could forge a
 * header line) or MAILDIR_ERR_TEMPLATE. */
int maildir_deliver(const char *tmpl, const char *hostname,
                    const struct maildir_msg *msg, struct maildir_batch *batch,
                    char *path, size_t pathlen, char *why, size_t whylen);

#endif
