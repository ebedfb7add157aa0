/*
 * main.c - roostd, the Roost server process. Reads DIR/roost.conf and the
 * command line (flags win), makes the data dir and its PKI on first start,
 * opens the store, starts the event loops with the broker on them, writes
 * DIR/ports.json, prints "roostd ready ..." and serves until SIGTERM/SIGINT,
 * which stop it cleanly (sessions and retained messages kept).
 */
#include "roostd.h"

#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HOSTNAMES 16

struct roostd_config {
    char data_dir[PATH_MAX];
    char bind[128];
    int mqtt_port;
    int https_port;
    int mqtt_plain_port;
    int ws_plain_port;
    unsigned threads;
    enum roost_log_level log_level;
    char region[32];
    char account_id[16];
    char endpoint_host[256];      /* DescribeEndpoint answer; "" = localhost:<https port> */
    bool allow_unregistered_certs;
    bool jitp_first_connect_accept;
    char *hostnames[MAX_HOSTNAMES];
    size_t n_hostnames;
    struct roost_broker_config broker;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: roostd [options]\n"
            "  --data-dir DIR         state, PKI and roost.conf (default ./roost-data,\n"
            "                         or $ROOST_DATA_DIR)\n"
            "  --bind ADDR            listen address (default all)\n"
            "  --mqtt-port N          MQTT over TLS with client certificates (default 8883)\n"
            "  --https-port N         HTTPS API and MQTT over ALPN x-amzn-mqtt-ca (default 8443)\n"
            "  --mqtt-plain-port N    plain MQTT (default 0 = off unless given)\n"
            "  --ws-plain-port N      MQTT over plain WebSocket at /mqtt (default off)\n"
            "  --hostname NAME        extra DNS name/IP for the server certificate (repeatable)\n"
            "  --threads N            I/O event loops (default: number of cores)\n"
            "  --log-level LEVEL      error, warn, info, debug, trace (default info)\n"
            "A port given as 0 where the flag enables a listener picks a free port; the\n"
            "ports in use are written to DIR/ports.json. roost.conf in DIR takes the same\n"
            "settings as `key = value` (mqtt_port = 8883) plus the broker limits:\n"
            "max_payload, max_client_id, max_topic, max_inflight, max_queued,\n"
            "receive_maximum, topic_alias_maximum, connect_timeout, session_expiry_default,\n"
            "session_expiry_max, keepalive_max; and region, account_id (for ARNs),\n"
            "endpoint_host (DescribeEndpoint), allow_unregistered_certs (development:\n"
            "accept any certificate of a trusted CA without registering it),\n"
            "jitp_first_connect = reject|accept (JITP: close a new device's first\n"
            "connection as AWS does, or hold it until the device is provisioned; a CA's\n"
            "tag roost:jitp_first_connect overrides it).\n");
}

/* ==== Settings ============================================================= */

/* -1 = "flag not given" for ports, so the config file and defaults apply. */
struct flag_overrides {
    const char *data_dir;
    const char *bind;
    int mqtt_port, https_port, mqtt_plain_port, ws_plain_port;
    int threads;
    const char *log_level;
    const char *hostnames[MAX_HOSTNAMES];
    size_t n_hostnames;
};

static int parse_port(const char *v, int *out)
{
    uint64_t n;
    if (roost_parse_u64(v, 0, 65535, &n))
        return ROOST_ECONFIG;
    *out = (int)n;
    return 0;
}

static int parse_u32(const char *v, uint32_t *out)
{
    uint64_t n;
    if (roost_parse_u64(v, 0, UINT32_MAX, &n))
        return ROOST_ECONFIG;
    *out = (uint32_t)n;
    return 0;
}

static int add_hostname(struct roostd_config *cfg, const char *name)
{
    if (cfg->n_hostnames == MAX_HOSTNAMES || !*name)
        return ROOST_ECONFIG;
    cfg->hostnames[cfg->n_hostnames++] = roost_xstrdup(name);
    return 0;
}

static int apply_setting(void *ud, const char *key, const char *value)
{
    struct roostd_config *cfg = ud;
    struct roost_broker_config *bc = &cfg->broker;
    uint32_t u = 0;
    if (strcmp(key, "bind") == 0) {
        snprintf(cfg->bind, sizeof(cfg->bind), "%s", value);
        return 0;
    }
    if (strcmp(key, "mqtt_port") == 0)
        return parse_port(value, &cfg->mqtt_port);
    if (strcmp(key, "https_port") == 0)
        return parse_port(value, &cfg->https_port);
    if (strcmp(key, "mqtt_plain_port") == 0)
        return parse_port(value, &cfg->mqtt_plain_port);
    if (strcmp(key, "ws_plain_port") == 0)
        return parse_port(value, &cfg->ws_plain_port);
    if (strcmp(key, "hostname") == 0) {
        /* comma-separated list */
        char *copy = roost_xstrdup(value), *save = NULL;
        int rc = 0;
        for (char *t = strtok_r(copy, ", ", &save); t && !rc; t = strtok_r(NULL, ", ", &save))
            rc = add_hostname(cfg, t);
        roost_free(copy);
        return rc;
    }
    if (strcmp(key, "region") == 0) {
        size_t n = strlen(value);
        if (n == 0 || n >= sizeof(cfg->region) || strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
            return ROOST_ECONFIG;
        snprintf(cfg->region, sizeof(cfg->region), "%s", value);
        return 0;
    }
    if (strcmp(key, "account_id") == 0) {
        if (strlen(value) != 12 || strspn(value, "0123456789") != 12)
            return ROOST_ECONFIG;
        snprintf(cfg->account_id, sizeof(cfg->account_id), "%s", value);
        return 0;
    }
    if (strcmp(key, "endpoint_host") == 0) {
        if (!*value || strlen(value) >= sizeof(cfg->endpoint_host))
            return ROOST_ECONFIG;
        snprintf(cfg->endpoint_host, sizeof(cfg->endpoint_host), "%s", value);
        return 0;
    }
    if (strcmp(key, "jitp_first_connect") == 0) {
        if (strcmp(value, "accept") && strcmp(value, "reject"))
            return ROOST_ECONFIG;
        cfg->jitp_first_connect_accept = strcmp(value, "accept") == 0;
        return 0;
    }
    if (strcmp(key, "allow_unregistered_certs") == 0) {
        if (strcmp(value, "true") && strcmp(value, "false"))
            return ROOST_ECONFIG;
        cfg->allow_unregistered_certs = strcmp(value, "true") == 0;
        return 0;
    }
    if (strcmp(key, "log_level") == 0)
        return roost_log_level_parse(value, &cfg->log_level) ? ROOST_ECONFIG : 0;
    if (strcmp(key, "threads") == 0) {
        if (parse_u32(value, &u) || u < 1 || u > 256)
            return ROOST_ECONFIG;
        cfg->threads = u;
        return 0;
    }
    struct {
        const char *name;
        uint32_t *field;
        uint32_t min;
    } limits[] = {
        {"max_payload", &bc->max_payload, 1},
        {"max_client_id", &bc->max_client_id, 1},
        {"max_topic", &bc->max_topic, 1},
        {"max_inflight", &bc->max_inflight, 1},
        {"max_queued", &bc->max_queued, 0},
        {"receive_maximum", &bc->receive_maximum, 1},
        {"connect_timeout", &bc->connect_timeout_s, 0},
        {"session_expiry_default", &bc->session_expiry_default, 0},
        {"session_expiry_max", &bc->session_expiry_max, 0},
        {"keepalive_max", &bc->keepalive_max, 0},
    };
    for (size_t i = 0; i < ROOST_ARRAY_LEN(limits); i++) {
        if (strcmp(key, limits[i].name) == 0) {
            if (parse_u32(value, &u) || u < limits[i].min)
                return ROOST_ECONFIG;
            *limits[i].field = u;
            return 0;
        }
    }
    if (strcmp(key, "topic_alias_maximum") == 0) {
        if (parse_u32(value, &u) || u > 65535)
            return ROOST_ECONFIG;
        bc->topic_alias_maximum = (uint16_t)u;
        return 0;
    }
    fprintf(stderr, "roostd: unknown setting '%s'\n", key);
    return ROOST_ECONFIG;
}

static int load_config_file(struct roostd_config *cfg)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/roost.conf", cfg->data_dir);
    char *text = NULL;
    size_t len = 0;
    int rc = roost_read_file(path, 1 << 20, &text, &len);
    if (rc == -ENOENT)
        return 0;
    int line = 0;
    if (!rc)
        rc = roost_config_parse(text, len, apply_setting, cfg, &line);
    if (rc && line)
        fprintf(stderr, "roostd: %s line %d: invalid setting\n", path, line);
    else if (rc)
        fprintf(stderr, "roostd: cannot read %s: %s\n", path, roost_strerror(rc));
    roost_free(text);
    return rc;
}

static int parse_flags(int argc, char **argv, struct flag_overrides *fo)
{
    enum { O_DATA = 1, O_BIND, O_MQTT, O_HTTPS, O_PLAIN, O_WS, O_THREADS, O_LOG, O_HOST, O_HELP };
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, O_DATA},
        {"bind", required_argument, NULL, O_BIND},
        {"mqtt-port", required_argument, NULL, O_MQTT},
        {"https-port", required_argument, NULL, O_HTTPS},
        {"mqtt-plain-port", required_argument, NULL, O_PLAIN},
        {"ws-plain-port", required_argument, NULL, O_WS},
        {"threads", required_argument, NULL, O_THREADS},
        {"log-level", required_argument, NULL, O_LOG},
        {"hostname", required_argument, NULL, O_HOST},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    fo->mqtt_port = fo->https_port = fo->mqtt_plain_port = fo->ws_plain_port = -1;
    fo->threads = -1;
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int *port = NULL;
        switch (o) {
        case O_DATA: fo->data_dir = optarg; break;
        case O_BIND: fo->bind = optarg; break;
        case O_MQTT: port = &fo->mqtt_port; break;
        case O_HTTPS: port = &fo->https_port; break;
        case O_PLAIN: port = &fo->mqtt_plain_port; break;
        case O_WS: port = &fo->ws_plain_port; break;
        case O_THREADS: {
            uint64_t n;
            if (roost_parse_u64(optarg, 1, 256, &n)) {
                fprintf(stderr, "roostd: --threads takes 1..256\n");
                return 2;
            }
            fo->threads = (int)n;
            break;
        }
        case O_LOG: fo->log_level = optarg; break;
        case O_HOST:
            if (fo->n_hostnames == MAX_HOSTNAMES) {
                fprintf(stderr, "roostd: at most %d --hostname\n", MAX_HOSTNAMES);
                return 2;
            }
            fo->hostnames[fo->n_hostnames++] = optarg;
            break;
        case 'h':
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return 2;
        }
        if (port && parse_port(optarg, port)) {
            fprintf(stderr, "roostd: invalid port '%s'\n", optarg);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "roostd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return 0;
}

static int build_config(int argc, char **argv, struct roostd_config *cfg)
{
    struct flag_overrides fo = {0};
    int rc = parse_flags(argc, argv, &fo);
    if (rc)
        return rc;
    memset(cfg, 0, sizeof(*cfg));
    const char *dir = fo.data_dir ? fo.data_dir : getenv("ROOST_DATA_DIR");
    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", dir && *dir ? dir : "./roost-data");
    cfg->mqtt_port = 8883;
    cfg->https_port = 8443;
    cfg->mqtt_plain_port = -1;
    cfg->ws_plain_port = -1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cores > 0 ? (unsigned)cores : 1;
    cfg->log_level = ROOST_LOG_INFO;
    snprintf(cfg->region, sizeof(cfg->region), "us-east-1");
    snprintf(cfg->account_id, sizeof(cfg->account_id), "123456789012");
    roost_broker_config_defaults(&cfg->broker);

    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "roostd: cannot create data dir %s: %s\n", cfg->data_dir, strerror(errno));
        return 1;
    }
    if (load_config_file(cfg))
        return 2;
    /* A port of 0 in roost.conf for the optional listeners means "off";
     * on the command line it means "pick one". */
    if (cfg->mqtt_plain_port == 0)
        cfg->mqtt_plain_port = -1;
    if (cfg->ws_plain_port == 0)
        cfg->ws_plain_port = -1;

    if (fo.bind)
        snprintf(cfg->bind, sizeof(cfg->bind), "%s", fo.bind);
    if (fo.mqtt_port >= 0) cfg->mqtt_port = fo.mqtt_port;
    if (fo.https_port >= 0) cfg->https_port = fo.https_port;
    if (fo.mqtt_plain_port >= 0) cfg->mqtt_plain_port = fo.mqtt_plain_port;
    if (fo.ws_plain_port >= 0) cfg->ws_plain_port = fo.ws_plain_port;
    if (fo.threads > 0) cfg->threads = (unsigned)fo.threads;
    if (fo.log_level && roost_log_level_parse(fo.log_level, &cfg->log_level)) {
        fprintf(stderr, "roostd: unknown log level '%s'\n", fo.log_level);
        return 2;
    }
    for (size_t i = 0; i < fo.n_hostnames; i++)
        if (add_hostname(cfg, fo.hostnames[i]))
            return 2;
    return 0;
}

/* ==== Start-up ============================================================= */

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int write_ports_file(const char *dir, const int ports[4])
{
    char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
    snprintf(path, sizeof(path), "%s/ports.json", dir);
    snprintf(tmp, sizeof(tmp), "%s/ports.json.tmp", dir);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    fprintf(f, "{\"mqtt\": %d, \"https\": %d, \"mqtt_plain\": %d, \"ws_plain\": %d}\n", ports[0],
            ports[1], ports[2], ports[3]);
    if (fclose(f) != 0)
        return -errno;
    return rename(tmp, path) == 0 ? 0 : -errno;
}

/* The HTTPS port's default protocol: the control-plane API once created. */
static struct roost_conn_handler https_default_handler;

int main(int argc, char **argv)
{
    struct roostd_config cfg;
    struct roostd d = {0};
    struct roost_api_credentials creds = {0};
    struct roost_api *api = NULL;
    char *ca_pem = NULL;
    /* Blocked from the start (the store writer and loop threads inherit the
     * mask): a SIGTERM during start-up is taken by sigwait below, not by the
     * default action. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    int rc = build_config(argc, argv, &cfg);
    if (rc)
        return rc;
    roost_log_threshold = cfg.log_level;
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    d.allow_unregistered = cfg.allow_unregistered_certs;
    d.region = cfg.region;
    d.account_id = cfg.account_id;

    char pki_dir[PATH_MAX + 8], path[PATH_MAX + 32];
    snprintf(pki_dir, sizeof(pki_dir), "%s/pki", cfg.data_dir);
    bool created = false;
    rc = roost_pki_bootstrap(pki_dir, (const char *const *)cfg.hostnames, cfg.n_hostnames, &created);
    if (rc) {
        roost_log_error("roostd", "cannot set up the PKI in %s: %s", pki_dir, roost_strerror(rc));
        goto out;
    }
    if (created)
        roost_log_info("roostd", "created root CA and server certificate in %s", pki_dir);
    char cert[PATH_MAX + 32], key[PATH_MAX + 32], ca[PATH_MAX + 32], ca_key[PATH_MAX + 32];
    snprintf(cert, sizeof(cert), "%s/%s", pki_dir, ROOST_PKI_SERVER_CERT);
    snprintf(key, sizeof(key), "%s/%s", pki_dir, ROOST_PKI_SERVER_KEY);
    snprintf(ca, sizeof(ca), "%s/%s", pki_dir, ROOST_PKI_ROOT_CERT);
    snprintf(ca_key, sizeof(ca_key), "%s/%s", pki_dir, ROOST_PKI_ROOT_KEY);
    rc = roost_pki_ca_load(ca, ca_key, &d.ca);
    if (!rc)
        rc = roost_read_file(ca, 1 << 20, &ca_pem, NULL);
    if (rc) {
        roost_log_error("roostd", "cannot load the root CA %s: %s", ca, roost_strerror(rc));
        goto out;
    }

    snprintf(path, sizeof(path), "%s/roost.db", cfg.data_dir);
    rc = roost_store_open(path, &d.store);
    if (rc) {
        roost_log_error("roostd", "cannot open the store %s: %s", path, roost_strerror(rc));
        goto out;
    }

    struct roost_net_config nc = {
        .threads = cfg.threads,
        .tls_cert_file = cert,
        .tls_key_file = key,
        .client_ca_file = ca,
        .handshake_timeout_ms = cfg.broker.connect_timeout_s ? cfg.broker.connect_timeout_s * 1000 : 10000,
        .max_input = (size_t)cfg.broker.max_payload + cfg.broker.max_topic + 65536,
        .max_output = 64u * 1024 * 1024,
        .verify = roostd_verify_client,
        .verify_ud = &d,
    };
    rc = roost_net_create(&nc, &d.net);
    if (rc) {
        roost_log_error("roostd", "cannot set up networking: %s", roost_strerror(rc));
        goto out;
    }
    rc = roost_broker_create(&cfg.broker, d.net, d.store, &d.broker);
    if (rc)
        goto out;
    rc = roost_shadow_service_create(d.broker, d.store, NULL, &d.shadow);
    if (rc)
        goto out;
    roost_broker_set_authorizer(d.broker, roostd_resolve_policies, &d);

    const struct roost_conn_handler *mqtt = roost_broker_handler(d.broker);
    https_default_handler = *mqtt; /* replaced by the API below */
    const char *bind = cfg.bind[0] ? cfg.bind : NULL;
    int ports[4] = {0, 0, 0, 0};
    struct roost_listener_config listeners[] = {
        {.name = "mqtt", .bind = bind, .port = (uint16_t)cfg.mqtt_port, .tls = true,
         .require_client_cert = true, .handler = mqtt},
        {.name = "https", .bind = bind, .port = (uint16_t)cfg.https_port, .tls = true,
         .require_client_cert = false, .handler = &https_default_handler,
         .alpn_routes = {{.alpn = "x-amzn-mqtt-ca", .handler = mqtt, .require_client_cert = true},
                         /* devices over HTTPS (AWS's port-443 form of mTLS) */
                         {.alpn = "x-amzn-http-ca", .handler = &https_default_handler,
                          .require_client_cert = true}}},
        {.name = "mqtt_plain", .bind = bind, .port = (uint16_t)cfg.mqtt_plain_port,
         .handler = mqtt},
        {.name = "ws_plain", .bind = bind, .port = (uint16_t)cfg.ws_plain_port, .websocket = true,
         .handler = mqtt},
    };
    int wanted[4] = {cfg.mqtt_port, cfg.https_port, cfg.mqtt_plain_port, cfg.ws_plain_port};
    for (int i = 0; i < 4; i++) {
        if (wanted[i] < 0)
            continue;
        uint16_t bound = 0;
        rc = roost_net_listen(d.net, &listeners[i], &bound);
        if (rc)
            goto out;
        ports[i] = bound;
    }

    if (!cfg.endpoint_host[0])
        snprintf(cfg.endpoint_host, sizeof(cfg.endpoint_host), "localhost:%d", ports[1]);
    struct roost_registry_config rcfg = {
        .region = cfg.region,
        .account_id = cfg.account_id,
        .endpoint_host = cfg.endpoint_host,
        .ca = d.ca,
        .ca_pem = ca_pem,
    };
    rc = roost_registry_create(&rcfg, d.store, &d.registry);
    if (rc) {
        roost_log_error("roostd", "cannot load the registry: %s", roost_strerror(rc));
        goto out;
    }
    /* Before roost_net_start: it adds the fleet-provisioning services. */
    const struct roost_provision_config pc = {
        .broker = d.broker,
        .store = d.store,
        .registry = d.registry,
        .jitp_first_connect_accept = cfg.jitp_first_connect_accept,
        .on_effects = roostd_on_registry_effects,
        .effects_ud = &d,
    };
    rc = roost_provision_create(&pc, &d.provision);
    if (rc) {
        roost_log_error("roostd", "cannot start provisioning: %s", roost_strerror(rc));
        goto out;
    }
    {
        char cred_path[PATH_MAX + 32];
        snprintf(cred_path, sizeof(cred_path), "%s/%s", cfg.data_dir, ROOST_API_CREDENTIALS_FILE);
        bool cred_created = false;
        rc = roost_api_credentials_load_or_create(cred_path, &creds, &cred_created);
        if (rc) {
            roost_log_error("roostd", "cannot load admin credentials %s: %s", cred_path,
                            roost_strerror(rc));
            goto out;
        }
        if (cred_created)
            roost_log_info("roostd", "created admin credentials in %s", cred_path);
        struct roost_api_config acfg = {
            .registry = d.registry,
            .store = d.store,
            .creds = &creds,
            .mqtt_handler = mqtt,
            .on_effects = roostd_on_registry_effects,
            .effects_ud = &d,
            .metrics = roostd_metrics,
            .metrics_ud = &d,
            .shadow = d.shadow,
            .broker = d.broker,
            .authorize_device = roostd_authorize_device,
            .authorize_ud = &d,
        };
        rc = roost_api_create(&acfg, &api);
        if (rc)
            goto out;
        https_default_handler = *roost_api_handler(api);
        /* An HTTP client idle this long (between or inside requests) is closed. */
        https_default_handler.idle_timeout_ms = 60000;
    }
    {
        /* CAs registered before this start are trust anchors too. */
        struct roost_registry_effects fx = {.cas_changed = true};
        roostd_on_registry_effects(&d, &fx);
    }

    rc = write_ports_file(cfg.data_dir, ports);
    if (rc) {
        roost_log_error("roostd", "cannot write ports.json: %s", roost_strerror(rc));
        goto out;
    }
    rc = roost_net_start(d.net);
    if (rc)
        goto out;

    printf("roostd ready mqtts=%d https=%d mqtt=%d ws=%d data=%s ca=%s/%s\n", ports[0], ports[1],
           ports[2], ports[3], cfg.data_dir, pki_dir, ROOST_PKI_ROOT_CERT);
    fflush(stdout);
    roost_log_info("roostd", "serving with %u event loops", cfg.threads);
    if (ports[2] || ports[3]) {
        /* Clients without a certificate are the principal "anonymous":
         * bound by the policies attached to it, or, with none attached,
         * allowed everything (policies.c says when that changes live). */
        size_t n_anon = 0;
        int arc = roostd_anonymous_policies(&d, &n_anon);
        if (arc)
            roost_log_error("roostd", "cannot read the policies of 'anonymous': %s",
                            roost_strerror(arc));
        else if (n_anon == 0)
            roost_log_warn("roostd",
                           "plain listener%s open (mqtt=%d ws=%d) and no policy is attached to "
                           "principal 'anonymous': clients there are ALLOWED EVERYTHING "
                           "(development only; AttachPolicy with target \"anonymous\" ends this)",
                           ports[2] && ports[3] ? "s" : "", ports[2], ports[3]);
        else
            roost_log_info("roostd",
                           "plain listener%s open (mqtt=%d ws=%d): clients there are principal "
                           "'anonymous', bound by its %zu attached polic%s",
                           ports[2] && ports[3] ? "s" : "", ports[2], ports[3], n_anon,
                           n_anon == 1 ? "y" : "ies");
    }
    if (cfg.allow_unregistered_certs)
        roost_log_warn("roostd", "allow_unregistered_certs is on: any certificate of a trusted "
                                 "CA connects without being registered (development only)");

    int sig = 0;
    sigwait(&sigs, &sig);
    roost_log_info("roostd", "signal %d: shutting down", sig);
    roost_api_shutdown(api);
    roost_broker_begin_shutdown(d.broker);
    roost_net_stop(d.net);
    rc = 0;
out:
    /* After the loops stopped (no new request) and before the store closes
     * (requests already submitted are answered or dropped). */
    roost_provision_destroy(d.provision);
    roost_shadow_service_destroy(d.shadow);
    roost_broker_destroy(d.broker);
    roost_net_destroy(d.net);
    roost_api_destroy(api);
    roost_api_credentials_cleanup(&creds);
    roost_store_close(d.store);
    roostd_policies_cleanup(&d); /* the writer thread, its only user, has stopped */
    roost_registry_destroy(d.registry);
    roost_pki_ca_free(d.ca);
    roost_free(ca_pem);
    for (size_t i = 0; i < cfg.n_hostnames; i++)
        roost_free(cfg.hostnames[i]);
    if (rc)
        roost_log_error("roostd", "exiting: %s", roost_strerror(rc));
    return rc ? 1 : 0;
}
