/*
 * args.c - the command line of `roost`: finds the command in the table from
 * its words ("device create"), collects positionals and flags, and prints the
 * help texts. Global flags (--data-dir, --json, ...) may stand anywhere, as
 * with the AWS CLI; a command's own flags come after its words, because only
 * then is it known whether `--out` takes a value. Pure: no I/O except the
 * FILE* the help is printed to, no allocation.
 */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum gflag_kind { G_DATA_DIR, G_ENDPOINT, G_CA_FILE, G_CREDENTIALS, G_PROFILE, G_REGION,
                  G_JSON, G_HELP, G_VERSION };

struct gflag {
    const char *name;
    const char *metavar; /* NULL: a switch */
    enum gflag_kind kind;
    const char *help;
};

static const struct gflag gflags[] = {
    {"data-dir", "DIR", G_DATA_DIR,
     "roostd's data dir (default $ROOST_DATA_DIR, ./roost-data)"},
    {"endpoint", "URL", G_ENDPOINT, "API endpoint (default https://localhost:<https port>)"},
    {"ca-file", "FILE", G_CA_FILE, "CA to trust for HTTPS (default DIR/pki/root-ca.pem)"},
    {"credentials", "FILE", G_CREDENTIALS,
     "AWS credentials file (default DIR/admin.credentials)"},
    {"profile", "NAME", G_PROFILE, "profile in the credentials file (default default)"},
    {"region", "REGION", G_REGION, "signing region (default us-east-1)"},
    {"json", NULL, G_JSON, "print the API's JSON instead of tables"},
    {"help", NULL, G_HELP, "help for the command"},
    {"version", NULL, G_VERSION, "print the version"},
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* "--name" or "--name=value": the name's length and the inline value. */
static void split_flag(const char *arg, size_t *out_name_len, const char **out_inline)
{
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    *out_name_len = eq ? (size_t)(eq - name) : strlen(name);
    *out_inline = eq ? eq + 1 : NULL;
}

static bool name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(name, want, n) == 0;
}

static const struct gflag *gflag_find(const char *name, size_t n)
{
    for (size_t i = 0; i < ROOST_ARRAY_LEN(gflags); i++)
        if (name_is(name, n, gflags[i].name))
            return &gflags[i];
    return NULL;
}

static int cflag_find(const struct cli_command *cmd, const char *name, size_t n)
{
    if (!cmd || !cmd->flags)
        return -1;
    for (int i = 0; cmd->flags[i].name && i < CLI_MAX_FLAGS; i++)
        if (name_is(name, n, cmd->flags[i].name))
            return i;
    return -1;
}

static void gflag_set(struct cli_global *g, enum gflag_kind kind, const char *value)
{
    switch (kind) {
    case G_DATA_DIR: g->data_dir = value; break;
    case G_ENDPOINT: g->endpoint = value; break;
    case G_CA_FILE: g->ca_file = value; break;
    case G_CREDENTIALS: g->credentials = value; break;
    case G_PROFILE: g->profile = value; break;
    case G_REGION: g->region = value; break;
    case G_JSON: g->json = true; break;
    case G_HELP: g->help = true; break;
    case G_VERSION: g->version = true; break;
    }
}

static bool group_exists(const struct cli_command *cmds, size_t n_cmds, const char *group)
{
    for (size_t i = 0; i < n_cmds; i++)
        if (strcmp(cmds[i].group, group) == 0)
            return true;
    return false;
}

static bool group_has_verbs(const struct cli_command *cmds, size_t n_cmds, const char *group)
{
    for (size_t i = 0; i < n_cmds; i++)
        if (strcmp(cmds[i].group, group) == 0 && cmds[i].verb)
            return true;
    return false;
}

static const struct cli_command *cmd_find(const struct cli_command *cmds, size_t n_cmds,
                                          const char *group, const char *verb)
{
    for (size_t i = 0; i < n_cmds; i++) {
        if (strcmp(cmds[i].group, group) != 0)
            continue;
        if (!cmds[i].verb && !verb)
            return &cmds[i];
        if (cmds[i].verb && verb && strcmp(cmds[i].verb, verb) == 0)
            return &cmds[i];
    }
    return NULL;
}

/* "create, ls, rm": a group's verbs for the error message. */
static void verbs_list(const struct cli_command *cmds, size_t n_cmds, const char *group,
                       char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n_cmds && used < len; i++) {
        if (strcmp(cmds[i].group, group) != 0 || !cmds[i].verb)
            continue;
        int w = snprintf(out + used, len - used, "%s%s", used ? ", " : "", cmds[i].verb);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Pass 1: the command's words, skipping global flags. Stops at the first
 * other flag, whose arity is not known before the command is. */
static void find_words(int argc, char *const argv[], const char *words[2], size_t *out_n,
                       struct cli_global *g)
{
    size_t n = 0;
    for (int i = 1; i < argc && n < 2; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc && n < 2; i++)
                words[n++] = argv[i];
            break;
        }
        if (strcmp(a, "-h") == 0) {
            g->help = true;
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') {
            if (a[1] != '-')
                break;
            size_t nl;
            const char *inl;
            split_flag(a, &nl, &inl);
            const struct gflag *gf = gflag_find(a + 2, nl);
            if (!gf)
                break;
            if (gf->metavar && !inl)
                i++; /* its value */
            if (!gf->metavar)
                gflag_set(g, gf->kind, NULL);
            continue;
        }
        words[n++] = a;
    }
    *out_n = n;
}

int cli__parse_args(int argc, char *const argv[], const struct cli_command *cmds, size_t n_cmds,
                    struct cli_invocation *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';

    const char *words[2] = {NULL, NULL};
    size_t n_words = 0;
    struct cli_global probe = {0};
    find_words(argc, argv, words, &n_words, &probe);

    const struct cli_command *cmd = NULL;
    size_t cmd_words = 0;
    if (n_words == 0) {
        if (!probe.help && !probe.version) {
            /* A flag first can still be a command flag: say what is missing. */
            set_err(err, errlen, "no command given");
            return CLI_EUSAGE;
        }
    } else if (!group_exists(cmds, n_cmds, words[0])) {
        set_err(err, errlen, "unknown command '%s'", words[0]);
        return CLI_EUSAGE;
    } else if (!group_has_verbs(cmds, n_cmds, words[0])) {
        cmd = cmd_find(cmds, n_cmds, words[0], NULL);
        cmd_words = 1;
    } else if (n_words < 2) {
        if (!probe.help) {
            char verbs[256];
            verbs_list(cmds, n_cmds, words[0], verbs, sizeof(verbs));
            set_err(err, errlen, "'%s' needs a subcommand: %s", words[0], verbs);
            return CLI_EUSAGE;
        }
        out->help_group = words[0];
    } else {
        cmd = cmd_find(cmds, n_cmds, words[0], words[1]);
        if (!cmd) {
            if (probe.help) {
                out->help_group = words[0];
            } else {
                set_err(err, errlen, "unknown command '%s %s'", words[0], words[1]);
                return CLI_EUSAGE;
            }
        }
        cmd_words = 2;
    }
    out->cmd = cmd;

    /* Pass 2: everything, now that the command's flags are known. */
    size_t words_seen = 0;
    bool flags_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool is_flag = !flags_done && a[0] == '-' && a[1] != '\0';
        if (is_flag && strcmp(a, "--") == 0) {
            flags_done = true;
            continue;
        }
        if (is_flag && strcmp(a, "-h") == 0) {
            out->g.help = true;
            continue;
        }
        if (is_flag) {
            if (a[1] != '-') {
                set_err(err, errlen, "unknown option '%s'", a);
                return CLI_EUSAGE;
            }
            size_t nl;
            const char *inl;
            split_flag(a, &nl, &inl);
            const struct gflag *gf = gflag_find(a + 2, nl);
            int ci = gf ? -1 : cflag_find(cmd, a + 2, nl);
            if (!gf && ci < 0) {
                if (cmd)
                    set_err(err, errlen, "unknown option '--%.*s' for '%s%s%s'", (int)nl, a + 2,
                            cmd->group, cmd->verb ? " " : "", cmd->verb ? cmd->verb : "");
                else
                    set_err(err, errlen, "unknown option '--%.*s'", (int)nl, a + 2);
                return CLI_EUSAGE;
            }
            const char *metavar = gf ? gf->metavar : cmd->flags[ci].metavar;
            const char *value = "";
            if (metavar) {
                if (inl) {
                    value = inl;
                } else if (i + 1 < argc) {
                    value = argv[++i];
                } else {
                    set_err(err, errlen, "option '--%.*s' needs a value (%s)", (int)nl, a + 2,
                            metavar);
                    return CLI_EUSAGE;
                }
            } else if (inl) {
                set_err(err, errlen, "option '--%.*s' takes no value", (int)nl, a + 2);
                return CLI_EUSAGE;
            }
            if (gf)
                gflag_set(&out->g, gf->kind, value);
            else
                out->flag_val[ci] = value;
            continue;
        }
        if (words_seen < cmd_words || (!cmd && words_seen < n_words)) {
            words_seen++;
            continue;
        }
        if (out->n_pos >= CLI_MAX_POS) {
            set_err(err, errlen, "too many arguments");
            return CLI_EUSAGE;
        }
        out->pos[out->n_pos++] = a;
    }

    if (out->g.help || out->g.version)
        return 0;
    if (out->n_pos < cmd->min_pos) {
        set_err(err, errlen, "missing argument: %s%s%s %s", cmd->group, cmd->verb ? " " : "",
                cmd->verb ? cmd->verb : "", cmd->args ? cmd->args : "");
        return CLI_EUSAGE;
    }
    if (out->n_pos > cmd->max_pos) {
        set_err(err, errlen, "unexpected argument '%s'", out->pos[cmd->max_pos]);
        return CLI_EUSAGE;
    }
    return 0;
}

const char *cli__flag(const struct cli_invocation *inv, const char *name)
{
    int i = cflag_find(inv->cmd, name, strlen(name));
    return i < 0 ? NULL : inv->flag_val[i];
}

/* ---- help ---------------------------------------------------------------- */

static void print_usage_line(FILE *f, const struct cli_command *c)
{
    fprintf(f, "usage: roost %s%s%s", c->group, c->verb ? " " : "", c->verb ? c->verb : "");
    if (c->args && c->args[0])
        fprintf(f, " %s", c->args);
    for (size_t i = 0; c->flags && c->flags[i].name; i++) {
        if (c->flags[i].metavar)
            fprintf(f, " [--%s %s]", c->flags[i].name, c->flags[i].metavar);
        else
            fprintf(f, " [--%s]", c->flags[i].name);
    }
    fputc('\n', f);
}

static void print_command_list(FILE *f, const struct cli_command *cmds, size_t n_cmds,
                               const char *group)
{
    char left[96];
    for (size_t i = 0; i < n_cmds; i++) {
        const struct cli_command *c = &cmds[i];
        if (group && strcmp(c->group, group) != 0)
            continue;
        snprintf(left, sizeof(left), "%s%s%s%s%s", c->group, c->verb ? " " : "",
                 c->verb ? c->verb : "", c->args && c->args[0] ? " " : "",
                 c->args ? c->args : "");
        fprintf(f, "  %-24s %s\n", left, c->summary);
    }
}

static void print_globals(FILE *f)
{
    char left[64];
    fputs("\nGlobal flags:\n", f);
    for (size_t i = 0; i < ROOST_ARRAY_LEN(gflags); i++) {
        snprintf(left, sizeof(left), "--%s%s%s", gflags[i].name, gflags[i].metavar ? " " : "",
                 gflags[i].metavar ? gflags[i].metavar : "");
        fprintf(f, "  %-19s %s\n", left, gflags[i].help);
    }
}

void cli__help_print(FILE *f, const struct cli_command *cmds, size_t n_cmds, const char *group,
                     const struct cli_command *cmd)
{
    if (cmd) {
        print_usage_line(f, cmd);
        fprintf(f, "\n%s\n", cmd->summary);
        if (cmd->help)
            fprintf(f, "\n%s\n", cmd->help);
        if (cmd->flags && cmd->flags[0].name) {
            char left[64];
            fputs("\nFlags:\n", f);
            for (size_t i = 0; cmd->flags[i].name; i++) {
                snprintf(left, sizeof(left), "--%s%s%s", cmd->flags[i].name,
                         cmd->flags[i].metavar ? " " : "",
                         cmd->flags[i].metavar ? cmd->flags[i].metavar : "");
                if (strlen(left) > 19) /* too wide for the column: help below it */
                    fprintf(f, "  %s\n  %-19s %s\n", left, "", cmd->flags[i].help);
                else
                    fprintf(f, "  %-19s %s\n", left, cmd->flags[i].help);
            }
        }
        print_globals(f);
        return;
    }
    if (group) {
        fprintf(f, "usage: roost %s <subcommand> [args] [flags]\n\nCommands:\n", group);
        print_command_list(f, cmds, n_cmds, group);
        fputs("\n`roost <command> --help` tells more about one.\n", f);
        return;
    }
    fputs("usage: roost [global flags] <command> [args] [flags]\n"
          "\n"
          "The admin command line of Roost: manages devices, certificates, policies,\n"
          "device CAs and provisioning templates over roostd's HTTPS API (the AWS IoT\n"
          "API, SigV4-signed with the admin credentials from the data dir).\n"
          "\nCommands:\n",
          f);
    print_command_list(f, cmds, n_cmds, NULL);
    print_globals(f);
    fputs("\nExit status: 0 ok, 1 the server refused (AWS error) or a local step failed,\n"
          "2 bad usage or configuration, 3 the server cannot be reached.\n",
          f);
}
