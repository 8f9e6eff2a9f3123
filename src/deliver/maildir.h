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
 * Durability, as the Maildir specification asks: the file is written in
 * tmp/, fsynced, renamed into new/, and the rename is durable once new/ is
 * fsynced. Deliveries are made in groups (struct maildir_batch): all files
 * of a group are written, then made durable at once (fs_sync_many(): one
 * syncfs() per file system instead of one fsync() per file), renamed, and
 * the new/ directories made durable at once (group commit). A caller must
 * not drop its own copy of a message before maildir_batch_result() says
 * MAILDIR_OK.
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

/* A group of deliveries made durable together. */
struct maildir_batch;

/* Returns an empty batch, or NULL if out of memory. */
struct maildir_batch *maildir_batch_new(void);

/* Phase 1 of a delivery: write msg into the Maildir that tmpl gives for
 * msg->rcpt, creating the Maildir (tmp/, new/, cur/, mode 0700, and missing
 * parents) if needed. The file is created in tmp/ as NAME =
 * "<sec>.M<usec>P<pid>Q<n>.<hostname>" (O_EXCL; hostname with '/' and ':'
 * written as \057 and \072) and kept open in batch; it is not yet fsynced
 * nor in new/. On MAILDIR_OK, *slot is its index for
 * maildir_batch_result(). On error nothing is left behind and why (whylen
 * bytes) says what failed: MAILDIR_ERR_IO, MAILDIR_ERR_NOSPACE,
 * MAILDIR_ERR_ADDRESS (also for a sender or recipient with a control
 * character, which could forge a header line) or MAILDIR_ERR_TEMPLATE.
 * Not allowed between maildir_batch_sync() and maildir_batch_clear(). */
int maildir_deliver(const char *tmpl, const char *hostname,
                    const struct maildir_msg *msg, struct maildir_batch *batch,
                    size_t *slot, char *why, size_t whylen);

/* Phases 2 and 3, for every delivery in b at once: make all the files
 * durable (fs_sync_many(): fsync() for a lone file, else one syncfs() per
 * file system), rename each tmp/NAME to new/NAME,S=<bytes>, then make the
 * new/ directories durable the same way. Returns the number of deliveries that failed; the
 * outcome of each is then read with maildir_batch_result(). A failed one
 * is removed from tmp/ (or, if only the fsync of new/ failed, may remain
 * in new/: retrying may then deliver it twice, never lose it). */
size_t maildir_batch_sync(struct maildir_batch *b);

/* After maildir_batch_sync(): MAILDIR_OK with *path the file in new/ (now
 * durable), or the error with *why. Both strings live until
 * maildir_batch_clear(). */
int maildir_batch_result(const struct maildir_batch *b, size_t slot,
                         const char **path, const char **why);

/* Deliveries in b. */
size_t maildir_batch_count(const struct maildir_batch *b);

/* Forget every delivery in b; files of deliveries never synced are removed
 * from tmp/. b can then take new deliveries. */
void maildir_batch_clear(struct maildir_batch *b);

/* Clear and free b. NULL is ignored. */
void maildir_batch_free(struct maildir_batch *b);

#endif
