/*
 * main.c -- the tlsmta multi-call binary: subcommand dispatch.
 *
 *   tlsmta serve -c FILE [-f]     run the MTA (foreground with -f)
 *   tlsmta config check -c FILE   validate a config, FILE:LINE: errors
 *   tlsmta qmgr -c FILE --wake-fd N   the queue manager (started by serve)
 *   tlsmta user add|del NAME -c FILE  manage the sasldb (password on stdin)
 *   tlsmta check [options] HOST[:PORT]  test a server's TLS (check/check.h)
 *   tlsmta --version | --help
 *
 * Trust boundary: the command line and the config file it names, and for
 * "user add" a password on standard input (never on the command line).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "auth/auth_sasl.h"
#include "auth/auth_users.h"
#include "check/check.h"
#include "config/config.h"
#include "io/io_server.h"
#include "queue/queue_manager.h"
#include "tls/tls_client.h"
#include "tls/tls_ctx.h"
#include "util/util_buf.h"
#include "util/util_log.h"

#define EX_OK_ 0
#define EX_USAGE_ 64             /* sysexits.h EX_USAGE */
#define EX_DATAERR_ 65           /* sysexits.h EX_DATAERR */
#define EX_NOUSER_ 67            /* sysexits.h EX_NOUSER */
#define EX_SOFTWARE_ 70          /* sysexits.h EX_SOFTWARE */

struct cli {
    const char *config;          /* -c FILE */
    bool foreground;             /* -f */
    int wake_fd;                 /* --wake-fd N (qmgr) */
};

static const char USAGE[] =
    "usage: tlsmta COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  serve -c FILE [-f]     run the mail server (-f: stay in the\n"
    "                         foreground and log to stderr)\n"
    "  config check -c FILE   validate FILE; print FILE:LINE: errors,\n"
    "                         exit 78 if there are any\n"
    "  user add NAME -c FILE  add NAME to the sasldb or change its\n"
    "                         password, read from standard input (asked\n"
    "                         twice on a terminal); NAME logs in as given\n"
    "  user del NAME -c FILE  delete NAME from the sasldb\n"
    "  check [options] HOST[:PORT]\n"
    "                         test an SMTP server's TLS and grade it\n"
    "                         (tlsmta check --help for the options)\n"
    "  --version              print the version\n"
    "  --help                 print this help\n"
    "\n"
    "Documentation: README.md, docs/config.md, docs/check.md,\n"
    "etc/tlsmta.conf.example\n";

static int
cli_parse(int argc, char **argv, struct cli *cli)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"wake-fd", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    int c;

    cli->wake_fd = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:f", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cli->config = optarg;
            break;
        case 'f':
            cli->foreground = true;
            break;
        case 'w':
            cli->wake_fd = atoi(optarg);
            break;
        default:
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "tlsmta: unexpected argument: %s\n", argv[optind]);
        return -1;
    }
    if (cli->config == NULL) {
        fprintf(stderr, "tlsmta: -c FILE is required\n");
        return -1;
    }
    return 0;
}

/* Load the config; on error print every problem and return -1. The path is
 * made absolute so the queue manager child and a daemon (cwd /) find it. */
static int
load_config(const char *path, struct config *cfg)
{
    char abs[PATH_MAX];
    const char *use = realpath(path, abs) ? abs : path;

    if (config_load(use, cfg, NULL) != 0)
        return -1;
    return 0;
}

static void
raise_fd_limit(void)
{
    struct rlimit rl;
    /* 1,000+ concurrent sessions need more than the usual 1024 fds. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int
daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    if (chdir("/") < 0)
        return -1;
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return -1;
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
    return 0;
}

static int
cmd_serve(int argc, char **argv)
{
    struct cli cli = {0};
    struct config cfg = {0};

    if (cli_parse(argc, argv, &cli) < 0) {
        fputs(USAGE, stderr);
        return EX_USAGE_;
    }
    if (load_config(cli.config, &cfg) < 0)
        return CONFIG_EX_CONFIG;
    log_open("tlsmta", cli.foreground);
    raise_fd_limit();
    struct io_server *srv = io_server_new(&cfg);
    if (srv == NULL) {
        config_free(&cfg);
        return EX_SOFTWARE_;
    }
    if (!cli.foreground && daemonize() < 0) {
        log_err("cannot become a daemon: %s", strerror(errno));
        return EX_SOFTWARE_;
    }
    int r = io_server_run(srv);
    io_server_free(srv);
    config_free(&cfg);
    log_info("stopped");
    return r == 0 ? EX_OK_ : EX_SOFTWARE_;
}

static int
cmd_qmgr(int argc, char **argv)
{
    struct cli cli = {0};
    struct config cfg = {0};

    if (cli_parse(argc, argv, &cli) < 0 || cli.wake_fd < 0) {
        fputs(USAGE, stderr);
        return EX_USAGE_;
    }
    if (load_config(cli.config, &cfg) < 0)
        return CONFIG_EX_CONFIG;
    /* The parent's log sink: stderr if it has one that is not /dev/null. */
    log_open("tlsmta/qmgr", isatty(STDERR_FILENO) || getppid() != 1);
    int r = queue_manager_run(&cfg, cli.wake_fd);
    config_free(&cfg);
    return r;
}

static int
cmd_config(int argc, char **argv)
{
    struct cli cli = {0};
    struct config cfg = {0};

    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "tlsmta: config: %s%s\n",
                argc < 2 ? "missing subcommand" : "unknown subcommand: ",
                argc < 2 ? "" : argv[1]);
        fputs(USAGE, stderr);
        return EX_USAGE_;
    }
    if (cli_parse(argc - 1, argv + 1, &cli) < 0) {
        fputs(USAGE, stderr);
        return EX_USAGE_;
    }
    if (load_config(cli.config, &cfg) < 0)
        return CONFIG_EX_CONFIG;
    /* What serve will do with [tls]: parse the PEM files, match each key
     * to its cert, accept the cipher lists. */
    int r = EX_OK_;
    if (cfg.n_tls_pairs > 0) {
        char err[1024];
        SSL_CTX *ctx = tls_server_ctx_new(&cfg, err, sizeof(err));
        if (ctx == NULL) {
            fprintf(stderr, "%s\n", err);
            r = CONFIG_EX_CONFIG;
        }
        SSL_CTX_free(ctx);
    }
    /* What the queue manager will do with [outbound]: the client TLS
     * context and its trust anchors. */
    {
        char err[1024];
        SSL_CTX *ctx = tls_client_ctx_new(&cfg, err, sizeof(err));
        if (ctx == NULL) {
            fprintf(stderr, "%s\n", err);
            r = CONFIG_EX_CONFIG;
        }
        SSL_CTX_free(ctx);
    }
    /* What serve will do with [auth]: read the SASL config file. */
    bool any_auth = false;
    for (const struct config_listen *l = cfg.listens; l; l = l->next)
        any_auth |= l->auth != CONFIG_AUTH_OFF;
    if (any_auth) {
        char err[1024];
        if (auth_sasl_init(&cfg, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s: [auth]: %s\n", cfg.path, err);
            r = CONFIG_EX_CONFIG;
        } else {
            auth_sasl_done();
        }
    }
    if (r == EX_OK_)
        printf("%s: ok\n", cfg.path);
    config_free(&cfg);
    return r;
}

/* ---- tlsmta user add|del NAME -c FILE ---- */

struct user_cli {
    const char *action;          /* "add" or "del" */
    const char *name;            /* the login, "alice@example.org" */
    const char *config;          /* -c FILE */
};

static int
user_parse(int argc, char **argv, struct user_cli *u)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (c != 'c')
            return -1;
        u->config = optarg;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "tlsmta: user: expected add|del NAME\n");
        return -1;
    }
    u->action = argv[optind];
    u->name = argv[optind + 1];
    if (u->config == NULL) {
        fprintf(stderr, "tlsmta: -c FILE is required\n");
        return -1;
    }
    return 0;
}

static int
user_add(const struct config *cfg, const char *name)
{
    char password[AUTH_USERS_PASSWORD_MAX + 1], err[512];
    long len = auth_users_read_password(STDIN_FILENO, password,
                                        sizeof(password), err, sizeof(err));
    if (len < 0) {
        fprintf(stderr, "tlsmta: user add %s: %s\n", name, err);
        return EX_DATAERR_;
    }
    enum auth_users_result r = auth_users_set(cfg, name, password,
                                              (size_t)len, err, sizeof(err));
    explicit_bzero(password, sizeof(password));
    if (r == AUTH_USERS_ERROR) {
        fprintf(stderr, "tlsmta: user add %s: %s\n", name, err);
        return EX_SOFTWARE_;
    }
    printf("%s: %s (sasldb %s)\n", name,
           r == AUTH_USERS_ADDED ? "added" : "password changed",
           auth_sasl_option("sasldb_path"));
    return EX_OK_;
}

static int
user_del(const struct config *cfg, const char *name)
{
    char err[512];
    enum auth_users_result r = auth_users_delete(cfg, name, err, sizeof(err));
    if (r == AUTH_USERS_ERROR) {
        fprintf(stderr, "tlsmta: user del %s: %s\n", name, err);
        return EX_SOFTWARE_;
    }
    if (r == AUTH_USERS_UNKNOWN) {
        fprintf(stderr, "tlsmta: user del %s: no such user in %s\n", name,
                auth_sasl_option("sasldb_path"));
        return EX_NOUSER_;
    }
    printf("%s: deleted (sasldb %s)\n", name, auth_sasl_option("sasldb_path"));
    return EX_OK_;
}

static const struct {
    const char *name;
    int (*run)(const struct config *cfg, const char *name);
} USER_ACTIONS[] = {
    {"add", user_add},
    {"del", user_del},
};

static int
cmd_user(int argc, char **argv)
{
    struct user_cli u = {0};
    struct config cfg = {0};
    char err[512];
    size_t i = 0, n = sizeof(USER_ACTIONS) / sizeof(USER_ACTIONS[0]);

    if (user_parse(argc, argv, &u) < 0) {
        fputs(USAGE, stderr);
        return EX_USAGE_;
    }
    while (i < n && strcmp(u.action, USER_ACTIONS[i].name) != 0)
        i++;
    const char *why = auth_users_name_problem(u.name);
    if (i == n || why != NULL) {
        fprintf(stderr, "tlsmta: user: %s%s\n",
                i == n ? "unknown action: " : why, i == n ? u.action : "");
        return i == n ? EX_USAGE_ : EX_DATAERR_;
    }
    if (load_config(u.config, &cfg) < 0)
        return CONFIG_EX_CONFIG;
    if (auth_sasl_init(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "tlsmta: %s\n", err);
        config_free(&cfg);
        return CONFIG_EX_CONFIG;
    }
    auth_sasl_admin_mode(); /* "does the user exist" asks the sasldb */
    int r = USER_ACTIONS[i].run(&cfg, u.name);
    auth_sasl_done();
    config_free(&cfg);
    return r;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} COMMANDS[] = {
    {"serve", cmd_serve},
    {"config", cmd_config},
    {"qmgr", cmd_qmgr},
    {"user", cmd_user},
    {"check", check_main},
};

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(USAGE, stderr);
        return EX_USAGE_;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("tlsmta %s\n", TLSMTA_VERSION);
        return EX_OK_;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(USAGE, stdout);
        return EX_OK_;
    }
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0)
            return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tlsmta: unknown command: %s\n", argv[1]);
    fputs(USAGE, stderr);
    return EX_USAGE_;
}
