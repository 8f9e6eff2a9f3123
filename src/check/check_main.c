/*
 * check_main.c -- `tlsmta check`: parse the command line, probe the
 * server (or, with --domain, each MX host of the domain in preference
 * order), judge, print, and return the exit status of docs/check.md
 * ("Exit status").
 *
 * Trust boundary: the command line (check_cli.c checks it); the reports
 * hold server bytes, which the printers escape.
 */
#include <stdio.h>
#include <stdlib.h>

#include "check/check_internal.h"

#define CHECK_EX_USAGE 64 /* sysexits.h EX_USAGE */
#define CHECK_EX_UNREACHABLE 3
#define CHECK_EX_SOFTWARE 70 /* sysexits.h: out of memory */
#define CHECK_DOMAIN_SCHEMA "tlsmta-check-domain/1"

/* Probe, grade and print one host; JSON as a document of its own
 * (json_indent < 0) or as an element of the --domain array. Returns the
 * host's exit status. */
static int
check_main_host(const struct check_options *opt, int json_indent)
{
    struct check_report *r = calloc(1, sizeof(*r)); /* ~300 KiB */
    int status;

    if (r == NULL) {
        fprintf(stderr, "tlsmta check: out of memory\n");
        return CHECK_EX_SOFTWARE;
    }
    check_probe(opt, r);
    check_grade(r);
    if (!opt->json)
        check_print_text(r, stdout);
    else if (json_indent < 0)
        check_print_json(r, stdout);
    else
        check_json_report(r, stdout, json_indent);
    status = r->exit_status;
    check_report_free(r);
    free(r);
    fflush(stdout);
    return status;
}

/* The --domain JSON document around the hosts' reports: opened here,
 * closed by check_main_domain_end(). */
static void
check_main_domain_begin(const struct check_options *opt, const char *err,
                        const char *note)
{
    if (!opt->json) {
        FILE *fp = err != NULL ? stderr : stdout;
        if (err == NULL && note[0] == '\0')
            return;
        fputs("tlsmta check: --domain ", fp);
        check_text_safe(fp, opt->domain);
        fputs(err != NULL ? ": " : ": note: ", fp);
        check_text_safe(fp, err != NULL ? err : note);
        fputs(err != NULL ? "\n" : "\n\n", fp);
        return;
    }
    printf("{\n  \"schema\": \"%s\",\n  \"domain\": ", CHECK_DOMAIN_SCHEMA);
    check_json_string(stdout, opt->domain);
    printf(",\n  \"error\": ");
    check_json_string(stdout, err);
    printf(",\n  \"note\": ");
    check_json_string(stdout, note[0] ? note : NULL);
    printf(",\n  \"hosts\": [");
}

static void
check_main_domain_end(const struct check_options *opt, size_t n, int status)
{
    if (opt->json)
        printf("%s],\n  \"exit_status\": %d\n}\n", n > 0 ? "\n  " : "", status);
}

static int
check_main_domain(const struct check_options *opt)
{
    char err[CHECK_TEXT_MAX], note[CHECK_TEXT_MAX], **hosts = NULL;
    size_t n = 0;
    int status = 0;

    if (check_domain_mx(opt, &hosts, &n, note, sizeof(note), err,
                        sizeof(err)) < 0) {
        check_main_domain_begin(opt, err, "");
        check_main_domain_end(opt, 0, CHECK_EX_UNREACHABLE);
        return CHECK_EX_UNREACHABLE;
    }
    check_main_domain_begin(opt, NULL, note);
    for (size_t i = 0; i < n; i++) {
        struct check_options one = *opt;
        /* Each MX host on port 25, checked under its own name. */
        snprintf(one.host, sizeof(one.host), "%s", hosts[i]);
        snprintf(one.servername, sizeof(one.servername), "%s", hosts[i]);
        if (opt->json)
            printf("%s\n    ", i > 0 ? "," : "");
        else if (i > 0)
            printf("\n%s\n\n", "========================================");
        int s = check_main_host(&one, 4);
        status = s > status ? s : status;
    }
    check_main_domain_end(opt, n, status);
    check_domain_free(hosts, n);
    return status;
}

int
check_main(int argc, char **argv)
{
    struct check_options opt;
    int r = check_cli_parse(argc, argv, &opt);

    char err[CHECK_TEXT_MAX];

    if (r != 0)
        return r > 0 ? 0 : CHECK_EX_USAGE;
    /* Our own files are our mistake, not the server's: no grade. */
    if (opt.mode != CHECK_MODE_PLAIN &&
        check_tls_preflight(&opt, err, sizeof(err)) < 0) {
        fputs("tlsmta check: ", stderr);
        check_text_safe(stderr, err);
        fputc('\n', stderr);
        return CHECK_EX_USAGE;
    }
    return opt.domain != NULL ? check_main_domain(&opt)
                              : check_main_host(&opt, -1);
}
