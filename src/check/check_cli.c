/*
 * check_cli.c -- the command line of `tlsmta check` (docs/check.md
 * "Usage"): one table of options (name, argument, handler, help), from
 * which both getopt_long's array and the --help text are made.
 *
 *   tlsmta check [options] HOST[:PORT]      HOST: name, IPv4, IPv6, or
 *   tlsmta check [options] --domain DOMAIN  [IPv6]:PORT
 *
 * Trust boundary: the command line of a local user; every argument is
 * checked (lengths, characters, numeric ranges) before it is used, and a
 * problem is reported as "tlsmta check: ..." with the usage line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check/check_internal.h"

#define CLI_PORT_DEFAULT 25    /* RFC 5321 4.5.4.2 */
#define CLI_TIMEOUT_DEFAULT 10 /* seconds per network step */
#define CLI_TIMEOUT_MAX 3600
#define CLI_NAME_MAX 255 /* RFC 1035 2.3.4, as text */
#define CLI_OPT_BASE 256 /* getopt values above any character */

static const char CLI_USAGE_LINE[] =
    "usage: tlsmta check [options] HOST[:PORT]\n"
    "       tlsmta check [options] --domain DOMAIN\n";

/* What is known only while parsing. */
struct cli_state {
    int n_modes; /* --starttls/--implicit/--plain seen */
    bool servername_set;
};

typedef int cli_handler(struct check_options *o, struct cli_state *st,
                        const char *arg);

struct cli_opt {
    const char *name;    /* long option, without "--" */
    const char *meta;    /* its argument ("FILE"), or NULL */
    cli_handler *handle; /* stores it; 0, or -1 after printing */
    const char *help;    /* one line for --help */
};

/* The message may quote argv: control bytes are escaped, so an argument
 * cannot drive the terminal. */
static int __attribute__((format(printf, 1, 2))) cli_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fputs("tlsmta check: ", stderr);
    check_text_safe(stderr, msg);
    fputc('\n', stderr);
    return -1;
}

/* ---- argument checks ---- */

/* A decimal number in [min, max], digits only. */
static int
cli_number(const char *arg, unsigned long min, unsigned long max, unsigned *out)
{
    char *end;
    unsigned long v;

    if (arg[0] < '0' || arg[0] > '9')
        return -1;
    errno = 0;
    v = strtoul(arg, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* A host name as DNS writes it: letters, digits, '-', '.', '_' (SRV-style
 * labels appear in the wild), at most CLI_NAME_MAX bytes. */
static bool
cli_dns_name_ok(const char *s)
{
    size_t len = strlen(s);

    return len > 0 && len <= CLI_NAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789-._") == len;
}

static bool
cli_is_address(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int
cli_readable(const char *what, const char *path)
{
    if (access(path, R_OK) != 0)
        return cli_error("%s %s: %s", what, path, strerror(errno));
    return 0;
}

/* ---- handlers ---- */

static int
cli_mode(struct check_options *o, struct cli_state *st, enum check_mode m)
{
    if (++st->n_modes > 1)
        return cli_error("--starttls, --implicit and --plain exclude each "
                         "other");
    o->mode = m;
    return 0;
}

static int
cli_starttls(struct check_options *o, struct cli_state *st, const char *a)
{
    (void)a;
    return cli_mode(o, st, CHECK_MODE_STARTTLS);
}

static int
cli_implicit(struct check_options *o, struct cli_state *st, const char *a)
{
    (void)a;
    return cli_mode(o, st, CHECK_MODE_IMPLICIT);
}

static int
cli_plain(struct check_options *o, struct cli_state *st, const char *a)
{
    (void)a;
    return cli_mode(o, st, CHECK_MODE_PLAIN);
}

static int
cli_servername(struct check_options *o, struct cli_state *st, const char *a)
{
    if (!cli_dns_name_ok(a))
        return cli_error("--servername %s: not a host name", a);
    snprintf(o->servername, sizeof(o->servername), "%s", a);
    st->servername_set = true;
    return 0;
}

static int
cli_ca_file(struct check_options *o, struct cli_state *st, const char *a)
{
    (void)st;
    o->ca_file = a;
    return cli_readable("--ca-file", a);
}

static int
cli_client_cert(struct check_options *o, struct cli_state *st, const char *a)
{
    (void)st;
    o->client_cert = a;
    return cli_readable("--client-cert", a);
}

static int
cli_client_key(struct check_options *o, struct cli_state *st, const char *a)
{
    (void)st;
    o->client_key = a;
    return cli_readable("--client-key", a);
}

static int
cli_timeout(struct check_options *o, struct cli_state *st, const char *a)
{
    (void)st;
    if (cli_number(a, 1, CLI_TIMEOUT_MAX, &o->timeout) < 0)
        return cli_error("--timeout %s: expected whole seconds from 1 to %d", a,
                         CLI_TIMEOUT_MAX);
    return 0;
}

static int
cli_json(struct check_options *o, struct cli_state *st, const char *a)
{
    (void)st, (void)a;
    o->json = true;
    return 0;
}

static int
cli_show_certs(struct check_options *o, struct cli_state *st, const char *a)
{
    (void)st, (void)a;
    o->show_certs = true;
    return 0;
}

static int
cli_domain(struct check_options *o, struct cli_state *st, const char *a)
{
    (void)st;
    if (!cli_dns_name_ok(a) || cli_is_address(a))
        return cli_error("--domain %s: not a domain name", a);
    o->domain = a;
    return 0;
}

/* IP[@PORT]: the DNS server for --domain. */
static int
cli_dns_resolver(struct check_options *o, struct cli_state *st, const char *a)
{
    char ip[INET6_ADDRSTRLEN + 1];
    const char *at = strchr(a, '@');
    size_t len = at ? (size_t)(at - a) : strlen(a);
    unsigned port;

    (void)st;
    if (len == 0 || len >= sizeof(ip))
        return cli_error("--dns-resolver %s: expected IP[@PORT]", a);
    snprintf(ip, sizeof(ip), "%.*s", (int)len, a);
    if (!cli_is_address(ip))
        return cli_error("--dns-resolver %s: %s is not an IP address", a, ip);
    if (at != NULL && cli_number(at + 1, 1, 65535, &port) < 0)
        return cli_error("--dns-resolver %s: bad port", a);
    o->dns_resolver = a;
    return 0;
}

/* RFC 5321 4.1.1.1: a domain or an address literal; no spaces or
 * controls, which would end the command or inject another. */
static int
cli_helo(struct check_options *o, struct cli_state *st, const char *a)
{
    size_t len = strlen(a);

    (void)st;
    for (size_t i = 0; i < len; i++)
        if (a[i] <= ' ' || a[i] >= 0x7f)
            return cli_error("--helo: the name may not contain spaces, "
                             "control characters or non-ASCII bytes");
    if (len == 0 || len > CLI_NAME_MAX)
        return cli_error("--helo: expected a name of 1 to %d bytes",
                         CLI_NAME_MAX);
    o->helo_name = a;
    return 0;
}

static int cli_help(struct check_options *o, struct cli_state *st,
                    const char *a);

static const struct cli_opt CLI_OPTS[] = {
    {"starttls", NULL, cli_starttls,
     "STARTTLS after EHLO (default, except on port 465)"},
    {"implicit", NULL, cli_implicit,
     "TLS from the first byte (default on "
     "port 465)"},
    {"plain", NULL, cli_plain, "no TLS: greeting and EHLO only"},
    {"servername", "NAME", cli_servername,
     "SNI and the name to match (default HOST)"},
    {"ca-file", "FILE", cli_ca_file,
     "trust anchors, PEM (default: the system store)"},
    {"client-cert", "FILE", cli_client_cert, "client certificate, PEM"},
    {"client-key", "FILE", cli_client_key, "its private key, PEM"},
    {"timeout", "SECONDS", cli_timeout,
     "limit per network step, 1-3600 (default 10)"},
    {"json", NULL, cli_json, "print one JSON document (docs/check-json.md)"},
    {"show-certs", NULL, cli_show_certs, "also print the chain in PEM"},
    {"domain", "DOMAIN", cli_domain, "check each MX host of DOMAIN"},
    {"dns-resolver", "IP[@PORT]", cli_dns_resolver,
     "with --domain: the DNS server to ask"},
    {"helo", "NAME", cli_helo, "the EHLO argument (default: our host name)"},
    {"help", NULL, cli_help, "print this help (also -h)"},
};
#define CLI_N_OPTS (sizeof(CLI_OPTS) / sizeof(CLI_OPTS[0]))

static void
cli_usage(FILE *fp)
{
    char left[40];

    fputs(CLI_USAGE_LINE, fp);
    fputs("\nTest an SMTP server's TLS: EHLO before and after TLS, versions,"
          "\ncipher suites, certificate chain, known weaknesses; a grade "
          "and\nexit status 0 (ok), 1 (warnings), 2 (failures), 3 "
          "(unreachable).\n\noptions:\n",
          fp);
    for (size_t i = 0; i < CLI_N_OPTS; i++) {
        snprintf(left, sizeof(left), "--%s%s%s", CLI_OPTS[i].name,
                 CLI_OPTS[i].meta ? " " : "",
                 CLI_OPTS[i].meta ? CLI_OPTS[i].meta : "");
        fprintf(fp, "  %-26s %s\n", left, CLI_OPTS[i].help);
    }
    fputs("\nDocumentation: docs/check.md, docs/check-json.md\n", fp);
}

static int
cli_help(struct check_options *o, struct cli_state *st, const char *a)
{
    (void)o, (void)st, (void)a;
    cli_usage(stdout);
    return 1;
}

/* ---- HOST[:PORT] ---- */

static int
cli_port(const char *arg, const char *p, struct check_options *o)
{
    if (cli_number(p, 1, 65535, &o->port) < 0)
        return cli_error("%s: the port must be a number from 1 to 65535", arg);
    return 0;
}

static int
cli_target_bracketed(const char *arg, struct check_options *o)
{
    const char *close = strchr(arg, ']');
    size_t len = close ? (size_t)(close - arg - 1) : 0;
    unsigned char buf[sizeof(struct in6_addr)];

    if (close == NULL || len == 0 || len >= sizeof(o->host))
        return cli_error("%s: expected [IPv6] or [IPv6]:PORT", arg);
    snprintf(o->host, sizeof(o->host), "%.*s", (int)len, arg + 1);
    if (inet_pton(AF_INET6, o->host, buf) != 1)
        return cli_error("%s: %s is not an IPv6 address", arg, o->host);
    if (close[1] == '\0')
        return 0;
    if (close[1] != ':')
        return cli_error("%s: expected ':' and a port after ']'", arg);
    return cli_port(arg, close + 2, o);
}

static int
cli_target(const char *arg, struct check_options *o)
{
    const char *colon = strchr(arg, ':');

    if (arg[0] == '[')
        return cli_target_bracketed(arg, o);
    if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        /* Two colons: an IPv6 address without brackets, and no port. */
        snprintf(o->host, sizeof(o->host), "%s", arg);
        if (strlen(arg) >= sizeof(o->host) || !cli_is_address(arg))
            return cli_error("%s: not an IPv6 address (write [IPv6]:PORT "
                             "for a port)",
                             arg);
        return 0;
    }
    size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
    if (len >= sizeof(o->host))
        return cli_error("%s: the host name is too long", arg);
    snprintf(o->host, sizeof(o->host), "%.*s", (int)len, arg);
    if (!cli_dns_name_ok(o->host))
        return cli_error("%s: not a host name or address", arg);
    return colon ? cli_port(arg, colon + 1, o) : 0;
}

/* ---- the whole command line ---- */

static int
cli_options(int argc, char **argv, struct check_options *o,
            struct cli_state *st)
{
    struct option longs[CLI_N_OPTS + 1];
    int c;

    for (size_t i = 0; i < CLI_N_OPTS; i++)
        longs[i] =
            (struct option){CLI_OPTS[i].name,
                            CLI_OPTS[i].meta ? required_argument : no_argument,
                            NULL, CLI_OPT_BASE + (int)i};
    longs[CLI_N_OPTS] = (struct option){NULL, 0, NULL, 0};
    optind = 0; /* glibc: start afresh (check_main may run twice in tests) */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        int r;
        if (c == 'h')
            return cli_help(o, st, NULL);
        if (c == ':')
            return cli_error("%s needs an argument", argv[optind - 1]);
        if (c < CLI_OPT_BASE)
            return cli_error("unknown option %s", argv[optind - 1]);
        r = CLI_OPTS[c - CLI_OPT_BASE].handle(o, st, optarg);
        if (r != 0)
            return r;
    }
    return 0;
}

/* Cross-checks and defaults once every option is known. */
static int
cli_finish(int argc, char **argv, struct check_options *o,
           const struct cli_state *st)
{
    int rest = argc - optind;

    if (o->domain != NULL && rest > 0)
        return cli_error("give --domain DOMAIN or HOST[:PORT], not both");
    if (o->domain == NULL && rest != 1)
        return cli_error(rest == 0 ? "expected HOST[:PORT] or --domain DOMAIN"
                                   : "unexpected argument: %s",
                         rest == 0 ? "" : argv[optind + 1]);
    if (o->domain != NULL && st->servername_set)
        return cli_error("--servername cannot be used with --domain (each "
                         "MX host is checked under its own name)");
    if (o->dns_resolver != NULL && o->domain == NULL)
        return cli_error("--dns-resolver is only used with --domain");
    if ((o->client_cert == NULL) != (o->client_key == NULL))
        return cli_error("--client-cert and --client-key go together");
    if (o->domain == NULL && cli_target(argv[optind], o) < 0)
        return -1;
    if (!st->servername_set && !cli_is_address(o->host))
        snprintf(o->servername, sizeof(o->servername), "%s", o->host);
    o->mode = check_mode_resolve(o);
    return 0;
}

int
check_cli_parse(int argc, char **argv, struct check_options *opt)
{
    struct cli_state st = {0};
    int r;

    memset(opt, 0, sizeof(*opt));
    opt->port = CLI_PORT_DEFAULT;
    opt->timeout = CLI_TIMEOUT_DEFAULT;
    opt->mode = CHECK_MODE_AUTO;
    r = cli_options(argc, argv, opt, &st);
    if (r == 0)
        r = cli_finish(argc, argv, opt, &st);
    if (r < 0)
        fprintf(stderr, "%s(tlsmta check --help lists the options)\n",
                CLI_USAGE_LINE);
    return r;
}
