/*
 * queue_manager.h -- takes committed messages from the spool and delivers
 * them (for now: local domains to Maildir), retrying what fails.
 *
 * Runs in its own process, forked by "tlsmta serve" before it accepts
 * connections, so that delivery never blocks an SMTP session.
 */
#ifndef TLSMTA_QUEUE_MANAGER_H
#define TLSMTA_QUEUE_MANAGER_H

struct config;

/* Run the queue manager in the calling process. It scans queue/ at start
 * (picking up whatever a crash left), whenever a byte can be read from
 * wake_fd (the SMTP side writes one after each commit), and every
 * cfg->queue_retry_interval seconds. Returns 0 when wake_fd reaches EOF (the
 * server went away) or SIGTERM arrives, 1 on a fatal error (logged). A
 * recipient's spool entry is dropped only after its Maildir copy is fsynced;
 * the spool file is removed when every recipient is done. */
int queue_manager_run(const struct config *cfg, int wake_fd);

/* Deliver everything in the spool once and return (used by tests and by
 * "tlsmta queue flush"). Returns the number of messages still queued, or -1
 * on a fatal error. */
int queue_manager_run_once(const struct config *cfg);

#endif
