/*
 * bench_net.h -- addresses, sockets and limits for the benchmark tools.
 *
 * Targets are numeric only ("127.0.0.1:2525", "[::1]:2525"): the tools never
 * resolve names, so a benchmark can only go where it was pointed. Trust
 * boundary: command-line arguments.
 */
#ifndef BENCH_NET_H
#define BENCH_NET_H

#include <stddef.h>
#include <sys/socket.h>

struct bench_addr {
    struct sockaddr_storage ss; /* the target */
    socklen_t len;              /* bytes of ss in use */
    char host[64];              /* numeric host part, without brackets */
};

/* Parse "IPv4:port" or "[IPv6]:port" into *addr. Returns 0, or -1 for any
 * other form (names included), a port of 0 or above 65535. */
int bench_addr_parse(const char *text, struct bench_addr *addr);

/* A non-blocking, close-on-exec TCP socket for addr's family with
 * TCP_NODELAY set (commands and replies are small; without it a reply may
 * wait for a delayed ACK, DESIGN.md "Performance notes"). Returns the
 * descriptor or -1 with errno set. */
int bench_socket(const struct bench_addr *addr);

/* Raise RLIMIT_NOFILE so that `need` descriptors fit (soft up to the hard
 * limit, and the hard limit too when privileged). Returns the soft limit
 * in force afterwards. */
size_t bench_raise_nofile(size_t need);

/* Seconds since an arbitrary start, from CLOCK_MONOTONIC. */
double bench_now(void);

#endif
