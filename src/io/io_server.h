/*
 * io_server.h -- the libevent driver of the SMTP listeners: binds the
 * [listen] sockets, accepts connections and runs an io_session for each,
 * swapping TLS in for STARTTLS (RFC 3207) or from the first byte (RFC 8314).
 *
 * Trust boundary: everything read from the sockets comes from the network
 * and goes only to the sans-I/O SMTP session.
 */
#ifndef TLSMTA_IO_SERVER_H
#define TLSMTA_IO_SERVER_H

struct config;
struct io_server;

/* Bind every listener of cfg (nothing is accepted yet). cfg is borrowed and
 * must outlive the server. Returns the server, or NULL after logging which
 * listener failed and why (address in use, TLS files...). */
struct io_server *io_server_new(const struct config *cfg);

/* Start the queue manager child ("tlsmta qmgr", restarted if it dies),
 * then accept and serve until SIGTERM or SIGINT. Each committed message
 * writes one byte to the child's wake-up pipe. On return the child has been
 * told to stop (EOF on the pipe) and reaped. Returns 0 on a clean shutdown,
 * 1 on error. */
int io_server_run(struct io_server *srv);

/* Close the listeners and every session, and free the server. */
void io_server_free(struct io_server *srv);

#endif
