/*
 * cli.h - the private header of `roost`, the admin command line. It speaks
 * roostd's HTTPS control plane exactly as the AWS CLI speaks AWS IoT's
 * (same routes and JSON, SigV4-signed), but its commands are tasks ("create
 * a device", "remove a device") rather than single operations.
 *
 * Files, from pure to impure:
 *   args.c     command line parsing and help text (pure; unit-tested);
 *   config.c   credentials file, ports.json, data dir and endpoint resolution;
 *   request.c  percent-encoding, paths, queries, SigV4 headers, AWS error
 *              parsing (pure; unit-tested, signatures checked with the
 *              server's own verifier);
 *   table.c    aligned table rendering (pure; unit-tested);
 *   provision.c  the bodies of ca register, template create|update and
 *              the claim policy (pure; unit-tested);
 *   http.c     the libcurl transport, one handle kept for connection reuse;
 *   cmd_*.c    the commands; main.c the command table and exit codes.
 * The unit test compiles the pure files into itself (#include "...c"), so
 * they must not depend on curl or on the cmd_* files.
 */
#ifndef ROOST_CLI_H
#define ROOST_CLI_H

#include "common/common.h"
#include "template/template.h"

#include <jansson.h>
#include <stdio.h>
#include <sys/types.h>

/* ==== Errors and exit codes ================================================ */

/* CLI-local codes, below the ROOST_E* range. Each becomes one exit code in
 * cli__exit_code (main.c), the single place where codes turn into exits. */
enum cli_err {
    CLI_EUSAGE = -2001, /* the command line is wrong: exit 2 */
    CLI_EAPI = -2002,   /* the server answered with an AWS error: exit 1 */
    CLI_EREACH = -2003, /* no answer from the server (connect, TLS, timeout): exit 3 */
    CLI_EFAIL = -2004,  /* a local step failed (file, config), already explained: exit 1 */
};

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_API = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_UNREACHABLE = 3,
};

int cli__exit_code(int rc);

/* ==== Command line (args.c) ================================================= */

#define CLI_MAX_POS 8
#define CLI_MAX_FLAGS 8

/* A command-specific flag: `--name VALUE` when metavar is set, else a switch. */
struct cli_flag {
    const char *name; /* without the dashes: "out" */
    const char *metavar;
    const char *help;
};

/* Flags every command takes, wherever they stand on the line. */
struct cli_global {
    const char *data_dir;
    const char *endpoint;
    const char *ca_file;
    const char *credentials;
    const char *profile;
    const char *region;
    bool json;
    bool help;
    bool version;
};

struct cli_ctx;
struct cli_invocation;
typedef int (*cli_run_fn)(struct cli_ctx *ctx, const struct cli_invocation *inv);

struct cli_command {
    const char *group;   /* "device", "endpoint" */
    const char *verb;    /* "create", or NULL for a one-word command */
    const char *args;    /* positionals for the usage line: "NAME" */
    size_t min_pos;
    size_t max_pos;
    const struct cli_flag *flags; /* terminated by a NULL name; may be NULL */
    const char *summary;          /* one line for the command list */
    const char *help;             /* the paragraph of `--help`; may be NULL */
    cli_run_fn run;
};

struct cli_invocation {
    const struct cli_command *cmd; /* NULL: only help/version asked for */
    const char *help_group;        /* `roost device --help`: that group */
    const char *pos[CLI_MAX_POS];
    size_t n_pos;
    const char *flag_val[CLI_MAX_FLAGS]; /* by index in cmd->flags; "" for a switch */
    struct cli_global g;
};

/* Parses argv (argv[0] is the program) against the command table. Global
 * flags may stand anywhere, command flags after the command's words; both
 * take `--flag VALUE` or `--flag=VALUE`; `--` ends the flags.
 * Returns 0 (see inv->g.help / g.version / cmd) or CLI_EUSAGE with a one-line
 * reason in err. Pure: pointers in `out` point into argv. */
int cli__parse_args(int argc, char *const argv[], const struct cli_command *cmds, size_t n_cmds,
                    struct cli_invocation *out, char *err, size_t errlen);

/* The value of a command flag, NULL when not given ("" for a given switch). */
const char *cli__flag(const struct cli_invocation *inv, const char *name);

/* Help text: the whole command list (group NULL), a group's commands, or one
 * command's usage with its flags. */
void cli__help_print(FILE *f, const struct cli_command *cmds, size_t n_cmds, const char *group,
                     const struct cli_command *cmd);

/* ==== Configuration (config.c) ============================================== */

#define CLI_AKID_MAX 128
#define CLI_SECRET_MAX 128
#define CLI_TOKEN_MAX 4096

struct cli_creds {
    char access_key_id[CLI_AKID_MAX + 1];
    char secret[CLI_SECRET_MAX + 1];
    char token[CLI_TOKEN_MAX + 1]; /* aws_session_token, "" when none */
};

/* Reads one profile from an AWS shared-credentials (INI) text: `[name]` or
 * `[profile name]` sections, `key = value` or `key: value`, `#`/`;` comments,
 * indented (continuation) lines ignored, as botocore reads it. ROOST_ENOTFOUND
 * when the profile or one of its two keys is missing, ROOST_ETOOBIG for a
 * value too long for cli_creds. */
int cli__creds_parse(const char *text, size_t len, const char *profile, struct cli_creds *out);

/* Reads roostd's ports.json ({"mqtt": N, "https": N, ...}); a missing member
 * gives 0. ROOST_EMALFORMED for text that is not a JSON object. */
int cli__ports_parse(const char *text, size_t len, int *out_mqtt, int *out_https);

/* Reads a whole file (at most `limit` bytes, else ROOST_ETOOBIG) into a
 * NUL-terminated roost_xmalloc'd buffer. -errno when it cannot be read. */
int cli__read_file(const char *path, size_t limit, char **out, size_t *out_len);

/* Splits an endpoint URL ("https://localhost:8443", optional trailing '/')
 * into what the Host header carries ("localhost:8443") and the bare host name
 * ("localhost"; "::1" for "[::1]:8443"). ROOST_EINVAL for a URL that is not
 * http(s) or carries a path. out_authority/out_host are roost_xmalloc'd. */
int cli__endpoint_split(const char *url, char **out_authority, char **out_host);

/* Everything a command needs to reach the server, resolved from the flags,
 * the environment and the data dir. */
struct cli_config {
    char *data_dir;
    char *endpoint;  /* "https://localhost:8443", no trailing '/' */
    char *authority; /* Host header */
    char *host;      /* for the mosquitto_pub line */
    char *ca_file;
    char *region;
    int mqtt_port;  /* from ports.json, else 8883 */
    int https_port; /* from ports.json, else 8443 */
    struct cli_creds creds;
};

/* Resolves the configuration: --data-dir, else $ROOST_DATA_DIR, else
 * ./roost-data; credentials from --credentials or DIR/admin.credentials
 * (profile --profile, else $ROOST_PROFILE, else "default"), falling back to
 * $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY when no file exists; CA from
 * --ca-file or DIR/pki/root-ca.pem; endpoint from --endpoint or
 * https://localhost:<ports.json https, else 8443>. On failure returns
 * CLI_EUSAGE with the reason in err. */
int cli__config_resolve(const struct cli_global *g, struct cli_config *out, char *err,
                        size_t errlen);
void cli__config_cleanup(struct cli_config *c);

/* ==== Requests (request.c) ================================================== */

/* Appends `s` percent-encoded the way botocore encodes URI labels and query
 * values: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX (uppercase). */
int cli__pct_encode(struct roost_buf *out, const char *s);

/* Builds a path from a template whose `{}` placeholders take the labels in
 * order, each percent-encoded: ("/things/{}/principals", {"a b"}) ->
 * "/things/a%20b/principals". NUL-terminated. ROOST_EINVAL when the number of
 * placeholders and labels differ. */
int cli__path_build(struct roost_buf *out, const char *tmpl, const char *const *labels,
                    size_t n_labels);

/* Appends key=value (both encoded) to a query string, '&'-separated;
 * NUL-terminated. A NULL value adds nothing. */
int cli__query_add(struct roost_buf *q, const char *key, const char *value);

/* One API request, already encoded. */
struct cli_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* percent-encoded: "/things/dev1" */
    const char *query;  /* encoded, without '?'; NULL or "" for none */
    const char *body;   /* JSON text, NULL for none */
    size_t body_len;
    const char *principal; /* x-amzn-principal header, NULL for none */
};

#define CLI_MAX_HEADERS 8

struct cli_header {
    const char *name;
    const char *value;
};

/* The headers that go with a request: host, x-amz-date, content-type (with
 * a body), x-amzn-principal, x-amz-security-token, all signed, and the
 * Authorization header of botocore's SigV4 (header form) over them.
 * `amz_date` is "YYYYMMDDTHHMMSSZ". Strings live in the arena. */
struct cli_signed {
    struct cli_header h[CLI_MAX_HEADERS];
    size_t n;
};
int cli__request_sign(const struct cli_request *req, const char *authority,
                      const struct cli_creds *creds, const char *region, const char *amz_date,
                      struct roost_arena *arena, struct cli_signed *out);
/* The same signed for another service name than the control plane's "iot":
 * the iot-data plane wants "iotdata". */
int cli__request_sign_for(const struct cli_request *req, const char *service,
                          const char *authority, const struct cli_creds *creds,
                          const char *region, const char *amz_date, struct roost_arena *arena,
                          struct cli_signed *out);

/* Unix seconds as SigV4's basic ISO 8601 form, "20261122T101500Z". */
void cli__amz_date(int64_t unix_s, char out[17]);

/* An AWS error answer as a client reads it (spec/aws-iot.md 0.4): the code
 * from the x-amzn-ErrorType header (cut at ':'), else body `code`/`Code`/
 * `__type` (cut at ':', after '#'), else one named after the HTTP status; the
 * message from `message`/`Message`, else the body text itself. */
void cli__error_parse(long status, const char *errtype_header, const char *body, size_t len,
                      char *out_type, size_t type_len, char *out_msg, size_t msg_len);

/* ==== Provisioning requests (provision.c) =================================== */

#define CLI_HOOK_MAX 2048        /* AWS preProvisioningHook.targetArn */
#define CLI_HOOK_PAYLOAD_VERSION "2020-04-01"
#define CLI_ACCOUNT_LEN 12
#define CLI_DEFAULT_ACCOUNT "123456789012" /* roostd's account_id when roost.conf sets none */
#define CLI_JITP_ROLE "roost-jitp"                 /* registrationConfig.roleArn's role */
#define CLI_PROVISIONING_ROLE "roost-provisioning" /* provisioningRoleArn's role */
#define CLI_FIRST_CONNECT_TAG "roost:jitp_first_connect"

extern const struct cli_flag cli__ca_register_flags[];
extern const struct cli_flag cli__template_create_flags[];
extern const struct cli_flag cli__template_update_flags[];
extern const struct cli_flag cli__claim_create_flags[];


/* "arn:aws:iot:REGION:ACCOUNT:" from any IoT ARN; ROOST_EINVAL for another
 * text, ROOST_ETOOBIG when it does not fit in len. */
int cli__arn_prefix(const char *arn, char *out, size_t len);
/* The 12-digit account of an IoT ARN; ROOST_EINVAL when there is none. */
int cli__account_of_arn(const char *arn, char out[CLI_ACCOUNT_LEN + 1]);
/* account_id from roostd's roost.conf text: ROOST_ENOTFOUND when it sets
 * none, ROOST_EMALFORMED for a text roostd would refuse too. */
int cli__conf_account(const char *text, size_t len, char out[CLI_ACCOUNT_LEN + 1]);

/* preProvisioningHook {targetArn, payloadVersion "2020-04-01"} from --hook:
 * an http(s) URL or exec:/absolute/path. CLI_EUSAGE with the reason in err. */
int cli__hook_build(const char *spec, json_t **out, char *err, size_t errlen);

/* A template body must be a JSON object: CLI_EFAIL with "FILE:LINE:COL: ..." */
int cli__template_body_check(const char *file, const char *text, size_t len, char *err,
                             size_t errlen);

/* RegisterCACertificate, from `ca register`. */
struct cli_ca_register {
    const char *ca_pem;
    const char *verification_pem;
    const char *template_body; /* --jitp-template's text, NULL for none */
    size_t template_len;
    const char *template_name; /* --jitp-template-name, NULL for none */
    const char *first_connect; /* "accept", "reject" or NULL */
    bool auto_registration;
    const char *account; /* for registrationConfig.roleArn */
};
/* Appends setAsActive=true&allowAutoRegistration=... to query and builds
 * {caCertificate, verificationCertificate, registrationConfig{templateBody,
 * roleArn} or {templateName}, tags[{Key "roost:jitp_first_connect", Value}]}.
 * CLI_EUSAGE for a --first-connect other than accept|reject or without a
 * template, both template flags, or a bad template name. */
int cli__ca_register_request(const struct cli_ca_register *r, struct roost_buf *query,
                             json_t **out_body, char *err, size_t errlen);

/* CreateProvisioningTemplate, from `template create`. */
struct cli_template_create {
    const char *name;
    const char *body; /* the file's text */
    size_t body_len;
    const char *type;        /* NULL: the server's default (FLEET_PROVISIONING) */
    const char *description; /* NULL for none */
    bool enabled;
    const char *hook;    /* --hook, NULL for none */
    const char *account; /* for provisioningRoleArn */
};
int cli__template_create_body(const struct cli_template_create *t, json_t **out, char *err,
                              size_t errlen);

/* UpdateProvisioningTemplate (PATCH), from `template update`; --file is sent
 * separately as CreateProvisioningTemplateVersion. */
struct cli_template_update {
    bool enable, disable, no_hook;
    const char *hook;
    const char *file;
    const char *description;
};
/* The PATCH body ({} when only --file was given); CLI_EUSAGE for nothing to
 * do or contradicting flags. */
int cli__template_update_body(const struct cli_template_update *u, json_t **out, char *err,
                              size_t errlen);

/* The claim certificate's policy: iot:Connect on any client id,
 * Publish/Receive on the topics and Subscribe on the topic filters under
 * $aws/certificates/create/, $aws/certificates/create-from-csr/ and
 * $aws/provisioning-templates/NAME/provision/ (each with a trailing "*"),
 * nothing else. */
json_t *cli__claim_policy_doc(const char *arn_prefix, const char *template_name);

/* ==== Tables (table.c) ====================================================== */

/* Rows of strings rendered in aligned columns, two spaces apart, the last
 * column not padded. Control characters in cells show as '?' so that a
 * hostile name cannot drive the terminal. */
struct cli_table {
    size_t ncols;
    const char *const *headers; /* NULL: no header row (key/value listings) */
    char **cells;               /* row-major, roost_xstrdup'd */
    size_t nrows;
    size_t cap_rows;
};

void cli__table_init(struct cli_table *t, size_t ncols, const char *const *headers);
void cli__table_add(struct cli_table *t, const char *const *cells); /* NULL cell = "" */
/* A key/value row for `show` listings: an empty value shows as "-". */
void cli__table_kv(struct cli_table *t, const char *key, const char *value);
int cli__table_render(const struct cli_table *t, struct roost_buf *out);
void cli__table_print(const struct cli_table *t, FILE *f);
void cli__table_cleanup(struct cli_table *t);

/* "2026-01-02T15:04:05Z" from an epoch-seconds JSON number ("" for none). */
void cli__time_format(const json_t *v, char out[32]);

/* ==== Transport and session (http.c) ======================================== */

struct cli_ctx {
    struct cli_config cfg;
    bool json;
    FILE *out; /* stdout */
    void *curl;
    const char *service; /* SigV4 service of the calls: NULL = "iot" ("iotdata": shadows) */
    /* The last failure, printed once by main (unless `reported`). */
    long err_status;
    char err_type[128];
    char err_msg[1024];
    bool reported;
};

int cli__ctx_init(struct cli_ctx *ctx);
void cli__ctx_cleanup(struct cli_ctx *ctx);

/* Sends one signed request. 0 with *out_body the JSON answer (an empty
 * object for an empty body; caller json_decref's) on 2xx; CLI_EAPI with
 * ctx->err_* set for an AWS error; CLI_EREACH when no answer came. */
int cli__call(struct cli_ctx *ctx, const struct cli_request *req, json_t **out_body);

/* One call whose path comes from a template with at most one `{}` label
 * ("/things/{}"; label NULL when there is none), with an encoded query (or
 * NULL), a JSON body (or NULL; not stolen) and an x-amzn-principal header
 * (or NULL). `out` may be NULL when the answer is not wanted. As cli__call. */
int cli__api(struct cli_ctx *ctx, const char *method, const char *tmpl, const char *label,
             const char *query, const json_t *body, const char *principal, json_t **out);

/* A paginated list operation. */
struct cli_list {
    const char *method;    /* NULL = "GET"; ListAttachedPolicies is a POST */
    const char *tmpl;      /* path template, as for cli__api */
    const char *label;
    const char *query;     /* filters, encoded; NULL for none */
    const char *principal; /* x-amzn-principal, NULL for none */
    const char *items_key; /* "things" */
    const char *token_in;  /* query parameter: "nextToken" or "marker" */
    const char *token_out; /* member of the answer: "nextToken" or "nextMarker" */
};

/* Follows a list operation through every page and returns the concatenated
 * `items_key` arrays (caller json_decref's). Stops with CLI_EFAIL when the
 * server repeats a token (as botocore's paginator does). */
int cli__list_all(struct cli_ctx *ctx, const struct cli_list *l, json_t **out_items);

/* Records a failure for main to print: "roost: <type>: <message>". */
void cli__fail(struct cli_ctx *ctx, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints the recorded failure now (once) on stderr. */
void cli__report(struct cli_ctx *ctx);

/* Prints a JSON value (indented) on ctx->out. */
void cli__json_print(struct cli_ctx *ctx, const json_t *v);

/* A string member, "" when absent or not a string. */
const char *cli__jstr(const json_t *obj, const char *key);

/* ==== Commands (cmd_*.c) ===================================================== */

int cli__cmd_device_create(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_device_ls(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_device_rm(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_thing_ls(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_thing_show(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_cert_ls(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_cert_show(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_cert_revoke(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_cert_activate(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_cert_deactivate(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_policy_ls(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_policy_show(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_policy_create(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_policy_rm(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_policy_attach(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_policy_detach(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_policy_targets(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_endpoint(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_shadow_get(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_shadow_update(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_shadow_delete(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_ca_register(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_ca_ls(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_ca_show(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_ca_activate(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_ca_deactivate(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_ca_rm(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_template_create(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_template_ls(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_template_show(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_template_update(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_template_rm(struct cli_ctx *ctx, const struct cli_invocation *inv);
int cli__cmd_claim_create(struct cli_ctx *ctx, const struct cli_invocation *inv);

/* Shared by the device and cert commands (cmd_cert.c): resolves a full
 * certificate id or a unique prefix of at least 4 hex digits into the full
 * id (roost_xmalloc'd). */
int cli__cert_resolve(struct cli_ctx *ctx, const char *id_or_prefix, char **out_id);
/* The same for any certificate list (`list_path` "/certificates" or
 * "/cacertificates"; `what` names it in errors). */
int cli__certificate_resolve(struct cli_ctx *ctx, const char *list_path, const char *what,
                             const char *id_or_prefix, char **out_id);
/* `cert ls` / `ca ls`: the list at `list_path` as a table (id, status,
 * created) or JSON {certificates: [...]}. */
int cli__certificate_ls(struct cli_ctx *ctx, const char *list_path, const char *id_header);
/* Removes one certificate the way `device rm` does: detaches its policies,
 * deactivates it when ACTIVE, deletes it. Progress lines go to stderr
 * unless quiet. */
int cli__cert_delete(struct cli_ctx *ctx, const char *cert_arn, const char *cert_id, bool quiet);

/* Shared by the commands that write files (cmd_device.c): makes `dir` when
 * it is missing (one level), CLI_EUSAGE when it is not a directory. */
int cli__out_dir_prepare(struct cli_ctx *ctx, const char *dir);
/* Writes a whole file with `mode` (also forced on an existing file);
 * `exclusive` refuses an existing one. -errno on failure. */
int cli__write_file(const char *path, const char *data, mode_t mode, bool exclusive);
/* The account id for IAM role ARNs: account_id in DATA_DIR/roost.conf, else
 * roostd's default. CLI_EFAIL (explained) for a roost.conf it cannot use. */
int cli__account_id(struct cli_ctx *ctx, char out[CLI_ACCOUNT_LEN + 1]);

#endif /* ROOST_CLI_H */
