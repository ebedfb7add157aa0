/*
 * main.c - roost-bench's command line: parses the options, raises the file
 * descriptor limit, runs one mode (pubsub, connect, idle, shadow, jitp) and prints
 * a human summary on stderr plus one machine-readable `RESULT {json}` line on
 * stdout (scripts/bench.py reads that line). Exit status: 0 ok, 1 messages
 * lost under --require-no-loss (shadow: always, for an unanswered update or a
 * missing delta; jitp: a device that never connected), 2 bad usage, 3 setup
 * failed (connections could not be made).
 */
#include "bench.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    ROOST_UNUSED(sig);
    stop_flag = 1;
}

static const char usage[] =
    "usage: roost-bench MODE [options]\n"
    "\n"
    "MQTT load generator for roostd and other brokers. Single-threaded epoll:\n"
    "pin it to its own core (taskset -c 1) and the broker to another.\n"
    "\n"
    "Modes:\n"
    "  pubsub    P publishers, S subscribers; reports delivered msgs/s, latency,\n"
    "            loss and duplicates (payloads carry their send time)\n"
    "  connect   connect storm: --connections connects, --concurrency in flight;\n"
    "            reports connects/s and connect latency (TCP connect to CONNACK,\n"
    "            TLS handshake included); each connection disconnects at CONNACK\n"
    "  idle      open --connections connections and keep them (keepalive pings\n"
    "            only); prints \"ready <ok> <failed>\" on stdout, then holds them\n"
    "            for --hold seconds or until SIGTERM/SIGINT\n"
    "  shadow    device shadows (roostd only): --things devices publish reported\n"
    "            state to $aws/things/<t>/shadow/update, --apps change desired;\n"
    "            reports durable updates/s (accepted/s), update->/accepted and\n"
    "            desired->/update/delta latency, rejections by code; exits 1 if\n"
    "            an update got no answer or an accepted desired change no delta\n"
    "  jitp      just-in-time provisioning storm (roostd, AWS IoT): --connections\n"
    "            new devices, each with its own EC P-256 certificate signed by the\n"
    "            JITP CA (--ca-cert/--ca-key; subject C=DE, CN=<prefix>-<i> = client\n"
    "            id), connect over mTLS sending device + CA certificates, at most\n"
    "            --concurrency in setup; a refused or closed attempt is retried\n"
    "            after 20 ms doubling to 500 ms until CONNACK 0. Reports devices\n"
    "            provisioned/s (first attempt to last CONNACK), first attempt ->\n"
    "            CONNACK latency and attempts per device; exits 1 if a device did\n"
    "            not connect within --timeout\n"
    "  selftest  check the latency histogram, duplicate detection and the jitp\n"
    "            certificate maker\n"
    "\n"
    "Connection:\n"
    "  -H, --host HOST        broker address (default 127.0.0.1)\n"
    "  -p, --port PORT        broker port (default 1883, or 8883 with TLS)\n"
    "  -t, --transport T      tcp | tls (server auth) | mtls (client cert too)\n"
    "      --cafile FILE      verify the broker's certificate against this CA\n"
    "                         (without it the certificate is not checked)\n"
    "      --cert FILE        client certificate chain (PEM) for mtls\n"
    "      --key FILE         client private key (PEM) for mtls\n"
    "      --insecure         do not verify the broker even with --cafile\n"
    "  -V, --version 4|5      MQTT 3.1.1 (4, default) or 5\n"
    "      --keepalive S      MQTT keepalive seconds (default 60; 0 = none)\n"
    "      --sndbuf BYTES     socket send buffer (default: kernel autotuning); a\n"
    "                         small one bounds how far a flat-out QoS 0 publisher\n"
    "                         runs ahead of the broker\n"
    "\n"
    "pubsub:\n"
    "  -P, --pubs N           publishers (default 1)\n"
    "  -S, --subs N           subscribers (default 1)\n"
    "      --layout L         pairs: publisher i -> PREFIX/i -> subscriber i (P = S)\n"
    "                         fanout: everyone on PREFIX/0; each subscriber gets\n"
    "                         every publisher's messages (1->S fan-out, N->N mesh)\n"
    "                         things: pairs on things/<publisher id>/PREFIX/i (the\n"
    "                         topics of a per-thing policy)\n"
    "                         default: pairs when P = S, else fanout\n"
    "      --topic-prefix P   topic prefix (default bench)\n"
    "  -q, --qos 0|1|2        publish and subscribe QoS (default 0)\n"
    "  -s, --payload BYTES    payload size, >= 8 (default 64); from 20 bytes on\n"
    "                         payloads also carry publisher and sequence numbers\n"
    "                         for duplicate detection\n"
    "  -r, --rate R           messages/s per publisher (default 0 = flat out)\n"
    "      --inflight N       QoS 1/2 unacknowledged messages per publisher\n"
    "                         (default 64; also capped by the broker's receive max)\n"
    "  -d, --duration S       publishing seconds (default 5)\n"
    "      --drain S          wait up to S seconds for late deliveries (default 5)\n"
    "      --require-no-loss  exit 1 if any message is lost\n"
    "\n"
    "shadow (also -q 0|1, -d, --drain, -k; one device connection per thing):\n"
    "      --things N         things, each with its own device connection (default 1000)\n"
    "      --apps N           app connections changing desired state (default 1)\n"
    "      --desired-fraction F  app desired updates per device update (default 0.01)\n"
    "  -r, --rate R           total device updates/s (default 0 = flat out)\n"
    "      --inflight N       updates in flight per device and per app, at most 10\n"
    "                         (roostd's and AWS's per-client quota)\n"
    "\n"
    "connect / idle / jitp:\n"
    "  -c, --connections N    connections, jitp: devices (default 1000)\n"
    "  -k, --concurrency K    connections in setup at once (default 50; pubsub too)\n"
    "      --hold S           idle: seconds to hold (default 0 = until SIGTERM)\n"
    "\n"
    "jitp (always mutual TLS; --cafile checks the server):\n"
    "      --ca-cert FILE     the registered, auto-registering CA (PEM)\n"
    "      --ca-key FILE      its private key (PEM, unencrypted)\n"
    "      --prefix NAME      device names NAME-0, NAME-1 ... (default rb<random>-jitp)\n"
    "      --timeout S        give up on devices not connected after S s (default 120)\n"
    "      --write-certs DIR  also write DIR/<name>.pem (device + CA) and <name>.key\n"
    "\n"
    "Output:\n"
    "      --quiet            no progress lines on stderr\n"
    "      --help             this text\n"
    "\n"
    "Prints a summary on stderr and one line on stdout:\n"
    "  RESULT {\"mode\":..., \"sent\", \"received\", \"expected\", \"lost\", \"duplicates\",\n"
    "          \"msgs_per_s\" (delivered, in the publishing window), \"p50_us\",\n"
    "          \"p99_us\", \"p999_us\", \"connects_per_s\", \"errors\", ...}\n"
    "Exit status: 0 ok, 1 loss with --require-no-loss (shadow: any unanswered update\n"
    "or missing delta), 2 usage, 3 setup failed.\n";

enum {
    OPT_CAFILE = 256,
    OPT_CERT,
    OPT_KEY,
    OPT_INSECURE,
    OPT_KEEPALIVE,
    OPT_LAYOUT,
    OPT_PREFIX,
    OPT_INFLIGHT,
    OPT_DRAIN,
    OPT_NO_LOSS,
    OPT_HOLD,
    OPT_QUIET,
    OPT_HELP,
    OPT_SNDBUF,
    OPT_THINGS,
    OPT_APPS,
    OPT_DESIRED,
    OPT_CA_CERT,
    OPT_CA_KEY,
    OPT_NAME_PREFIX,
    OPT_TIMEOUT,
    OPT_WRITE_CERTS,
};

static const struct option long_opts[] = {
    {"host", required_argument, NULL, 'H'},
    {"port", required_argument, NULL, 'p'},
    {"transport", required_argument, NULL, 't'},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"version", required_argument, NULL, 'V'},
    {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
    {"pubs", required_argument, NULL, 'P'},
    {"subs", required_argument, NULL, 'S'},
    {"layout", required_argument, NULL, OPT_LAYOUT},
    {"topic-prefix", required_argument, NULL, OPT_PREFIX},
    {"qos", required_argument, NULL, 'q'},
    {"payload", required_argument, NULL, 's'},
    {"rate", required_argument, NULL, 'r'},
    {"inflight", required_argument, NULL, OPT_INFLIGHT},
    {"duration", required_argument, NULL, 'd'},
    {"drain", required_argument, NULL, OPT_DRAIN},
    {"require-no-loss", no_argument, NULL, OPT_NO_LOSS},
    {"connections", required_argument, NULL, 'c'},
    {"concurrency", required_argument, NULL, 'k'},
    {"hold", required_argument, NULL, OPT_HOLD},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {"sndbuf", required_argument, NULL, OPT_SNDBUF},
    {"things", required_argument, NULL, OPT_THINGS},
    {"apps", required_argument, NULL, OPT_APPS},
    {"desired-fraction", required_argument, NULL, OPT_DESIRED},
    {"ca-cert", required_argument, NULL, OPT_CA_CERT},
    {"ca-key", required_argument, NULL, OPT_CA_KEY},
    {"prefix", required_argument, NULL, OPT_NAME_PREFIX},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"write-certs", required_argument, NULL, OPT_WRITE_CERTS},
    {NULL, 0, NULL, 0},
};

static int parse_uint(const char *name, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (roost_parse_u64(s, min, max, out) != 0) {
        fprintf(stderr, "roost-bench: --%s wants a whole number in [%llu, %llu], not '%s'\n", name,
                (unsigned long long)min, (unsigned long long)max, s);
        return ROOST_EINVAL;
    }
    return 0;
}

static int parse_seconds(const char *name, const char *s, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!end || end == s || *end || !isfinite(v) || v < 0 || v > 1e6) {
        fprintf(stderr, "roost-bench: --%s wants a number >= 0, not '%s'\n", name, s);
        return ROOST_EINVAL;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct bench_opts *o)
{
    uint64_t v;
    int rc = 0;
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->version = ROOST_MQTT_V311;
    o->pubs = 1;
    o->subs = 1;
    o->topic_prefix = "bench";
    o->payload = 64;
    o->inflight = 64;
    o->duration = 5;
    o->drain = 5;
    o->connections = 1000;
    o->concurrency = 50;
    o->keepalive = 60;
    o->things = 1000;
    o->apps = 1;
    o->desired_fraction = 0.01;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? ROOST_EINVAL : 1;
    }
    if (strcmp(argv[1], "pubsub") == 0)
        o->mode = BENCH_MODE_PUBSUB;
    else if (strcmp(argv[1], "connect") == 0)
        o->mode = BENCH_MODE_CONNECT;
    else if (strcmp(argv[1], "idle") == 0)
        o->mode = BENCH_MODE_IDLE;
    else if (strcmp(argv[1], "shadow") == 0)
        o->mode = BENCH_MODE_SHADOW;
    else if (strcmp(argv[1], "jitp") == 0)
        o->mode = BENCH_MODE_JITP;
    else {
        fprintf(stderr, "roost-bench: unknown mode '%s' (pubsub, connect, idle, shadow, jitp)\n",
                argv[1]);
        return ROOST_EINVAL;
    }

    optind = 2;
    int ch;
    while (rc == 0 && (ch = getopt_long(argc, argv, "H:p:t:V:P:S:q:s:r:d:c:k:h", long_opts,
                                        NULL)) != -1) {
        switch (ch) {
        case 'H':
            o->host = optarg;
            break;
        case 'p':
            rc = parse_uint("port", optarg, 1, 65535, &v);
            o->port = optarg;
            break;
        case 't':
            if (strcmp(optarg, "tcp") == 0)
                o->transport = BENCH_TCP;
            else if (strcmp(optarg, "tls") == 0)
                o->transport = BENCH_TLS;
            else if (strcmp(optarg, "mtls") == 0)
                o->transport = BENCH_MTLS;
            else {
                fprintf(stderr, "roost-bench: --transport is tcp, tls or mtls\n");
                rc = ROOST_EINVAL;
            }
            break;
        case OPT_CAFILE:
            o->cafile = optarg;
            break;
        case OPT_CERT:
            o->cert = optarg;
            break;
        case OPT_KEY:
            o->key = optarg;
            break;
        case OPT_INSECURE:
            o->insecure = true;
            break;
        case 'V':
            rc = parse_uint("version", optarg, 4, 5, &v);
            o->version = (uint8_t)v;
            break;
        case OPT_KEEPALIVE:
            rc = parse_uint("keepalive", optarg, 0, 65535, &v);
            o->keepalive = (unsigned)v;
            break;
        case 'P':
            rc = parse_uint("pubs", optarg, 1, 100000, &v);
            o->pubs = (unsigned)v;
            break;
        case 'S':
            rc = parse_uint("subs", optarg, 0, 100000, &v);
            o->subs = (unsigned)v;
            break;
        case OPT_LAYOUT:
            if (strcmp(optarg, "pairs") == 0)
                o->layout = BENCH_LAYOUT_PAIRS;
            else if (strcmp(optarg, "fanout") == 0)
                o->layout = BENCH_LAYOUT_FANOUT;
            else if (strcmp(optarg, "things") == 0)
                o->layout = BENCH_LAYOUT_THINGS;
            else {
                fprintf(stderr, "roost-bench: --layout is pairs, fanout or things\n");
                rc = ROOST_EINVAL;
            }
            break;
        case OPT_PREFIX:
            o->topic_prefix = optarg;
            if (!*optarg || strlen(optarg) > 100 || strpbrk(optarg, "+#")) {
                fprintf(stderr, "roost-bench: --topic-prefix must be a short topic name\n");
                rc = ROOST_EINVAL;
            }
            break;
        case 'q':
            rc = parse_uint("qos", optarg, 0, 2, &v);
            o->qos = (uint8_t)v;
            break;
        case 's':
            rc = parse_uint("payload", optarg, 8, 16u << 20, &v);
            o->payload = (size_t)v;
            break;
        case 'r':
            rc = parse_seconds("rate", optarg, &o->rate);
            break;
        case OPT_INFLIGHT:
            rc = parse_uint("inflight", optarg, 1, 65535, &v);
            o->inflight = (unsigned)v;
            break;
        case 'd':
            rc = parse_seconds("duration", optarg, &o->duration);
            break;
        case OPT_DRAIN:
            rc = parse_seconds("drain", optarg, &o->drain);
            break;
        case OPT_NO_LOSS:
            o->require_no_loss = true;
            break;
        case 'c':
            rc = parse_uint("connections", optarg, 1, 1000000, &v);
            o->connections = (unsigned)v;
            break;
        case 'k':
            rc = parse_uint("concurrency", optarg, 1, 100000, &v);
            o->concurrency = (unsigned)v;
            break;
        case OPT_HOLD:
            rc = parse_seconds("hold", optarg, &o->hold);
            break;
        case OPT_SNDBUF:
            rc = parse_uint("sndbuf", optarg, 0, 64u << 20, &v);
            o->sndbuf = (unsigned)v;
            break;
        case OPT_THINGS:
            rc = parse_uint("things", optarg, 1, 100000, &v);
            o->things = (unsigned)v;
            break;
        case OPT_APPS:
            rc = parse_uint("apps", optarg, 0, 1000, &v);
            o->apps = (unsigned)v;
            break;
        case OPT_DESIRED:
            rc = parse_seconds("desired-fraction", optarg, &o->desired_fraction);
            if (rc == 0 && o->desired_fraction > 1) {
                fprintf(stderr, "roost-bench: --desired-fraction is in [0, 1]\n");
                rc = ROOST_EINVAL;
            }
            break;
        case OPT_CA_CERT:
            o->ca_cert = optarg;
            break;
        case OPT_CA_KEY:
            o->ca_key = optarg;
            break;
        case OPT_NAME_PREFIX:
            o->name_prefix = optarg;
            /* Thing names: [a-zA-Z0-9:_-], and room for "-<index>" within 128. */
            if (!*optarg || strlen(optarg) > 100 ||
                strspn(optarg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789:_-") != strlen(optarg)) {
                fprintf(stderr, "roost-bench: --prefix is 1-100 characters of a-z A-Z 0-9 : _ -"
                                " (it names things)\n");
                rc = ROOST_EINVAL;
            }
            break;
        case OPT_TIMEOUT:
            rc = parse_seconds("timeout", optarg, &o->timeout);
            if (rc == 0 && o->timeout <= 0) {
                fprintf(stderr, "roost-bench: --timeout must be > 0\n");
                rc = ROOST_EINVAL;
            }
            break;
        case OPT_WRITE_CERTS:
            o->write_certs = optarg;
            break;
        case OPT_QUIET:
            o->quiet = true;
            break;
        case 'h':
        case OPT_HELP:
            fputs(usage, stdout);
            return 1;
        default:
            rc = ROOST_EINVAL;
            break;
        }
    }
    if (rc)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "roost-bench: unexpected argument '%s'\n", argv[optind]);
        return ROOST_EINVAL;
    }
    if (o->mode == BENCH_MODE_JITP) {
        if (!o->ca_cert || !o->ca_key) {
            fprintf(stderr, "roost-bench: jitp needs --ca-cert and --ca-key (the JITP CA)\n");
            return ROOST_EINVAL;
        }
        if (o->cert || o->key || o->transport == BENCH_TLS) {
            fprintf(stderr, "roost-bench: jitp is mutual TLS with a certificate per device, "
                            "made by roost-bench: no --cert, --key or -t tls\n");
            return ROOST_EINVAL;
        }
        o->transport = BENCH_MTLS;
        if (o->timeout == 0)
            o->timeout = 120;
    } else if (o->ca_cert || o->ca_key || o->name_prefix || o->write_certs || o->timeout > 0) {
        fprintf(stderr, "roost-bench: --ca-cert, --ca-key, --prefix, --timeout and --write-certs "
                        "are for jitp\n");
        return ROOST_EINVAL;
    }
    if (!o->port)
        o->port = o->transport == BENCH_TCP ? "1883" : "8883";
    if (o->transport == BENCH_MTLS && o->mode != BENCH_MODE_JITP && (!o->cert || !o->key)) {
        fprintf(stderr, "roost-bench: --transport mtls needs --cert and --key\n");
        return ROOST_EINVAL;
    }
    if (o->mode == BENCH_MODE_SHADOW && o->qos > 1) {
        fprintf(stderr, "roost-bench: shadow updates are QoS 0 or 1\n");
        return ROOST_EINVAL;
    }
    if (o->layout == BENCH_LAYOUT_AUTO)
        o->layout = o->pubs == o->subs ? BENCH_LAYOUT_PAIRS : BENCH_LAYOUT_FANOUT;
    if (o->layout != BENCH_LAYOUT_FANOUT && o->pubs != o->subs) {
        fprintf(stderr, "roost-bench: --layout pairs needs as many publishers as subscribers\n");
        return ROOST_EINVAL;
    }
    return 0;
}

/* Lets one process hold 10,000+ sockets without the caller's ulimit. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void print_result(const struct bench_opts *o, const struct bench_result *r)
{
    double p50 = (double)bench__hist_quantile(&r->lat, 0.50) / 1e3;
    double p99 = (double)bench__hist_quantile(&r->lat, 0.99) / 1e3;
    double p999 = (double)bench__hist_quantile(&r->lat, 0.999) / 1e3;
    double pmax = r->lat.count ? (double)r->lat.max / 1e3 : 0;
    static const char *const tnames[] = {"tcp", "tls", "mtls"};
    if (!o->quiet) {
        if (o->mode == BENCH_MODE_PUBSUB)
            fprintf(stderr,
                    "pubsub %s v%u qos%u %u->%u %s %zuB%s: sent %llu, delivered %llu of %llu "
                    "(lost %llu, dup %llu), %.0f msg/s over %.2f s; latency p50 %.1f us, "
                    "p99 %.1f us, p99.9 %.1f us, max %.1f us; errors %llu\n",
                    tnames[o->transport], o->version, o->qos, o->pubs, o->subs,
                    o->layout == BENCH_LAYOUT_FANOUT   ? "fanout"
                    : o->layout == BENCH_LAYOUT_THINGS ? "things"
                                                       : "pairs",
                    o->payload,
                    o->rate > 0 ? " rate-limited" : " flat-out", (unsigned long long)r->sent,
                    (unsigned long long)r->received, (unsigned long long)r->expected,
                    (unsigned long long)r->lost, (unsigned long long)r->duplicates, r->msgs_per_s,
                    r->elapsed_s, p50, p99, p999, pmax, (unsigned long long)r->errors);
        else
            fprintf(stderr,
                    "%s %s v%u: %llu of %u connections in %.2f s = %.0f connects/s; "
                    "connect latency p50 %.1f us, p99 %.1f us, max %.1f us; errors %llu\n",
                    r->mode, tnames[o->transport], o->version, (unsigned long long)r->connections,
                    o->connections, r->elapsed_s, r->connects_per_s, p50, p99, pmax,
                    (unsigned long long)r->errors);
    }
    printf("RESULT {\"mode\":\"%s\",\"transport\":\"%s\",\"version\":%u,\"qos\":%u,"
           "\"publishers\":%u,\"subscribers\":%u,\"payload\":%zu,\"rate\":%.1f,"
           "\"sent\":%llu,\"received\":%llu,\"expected\":%llu,\"lost\":%llu,"
           "\"duplicates\":%llu,\"msgs_per_s\":%.1f,\"elapsed_s\":%.3f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
           "\"latency_samples\":%llu,\"connections\":%llu,\"connects_per_s\":%.1f,"
           "\"errors\":%llu}\n",
           r->mode, tnames[o->transport], o->version, o->qos,
           o->mode == BENCH_MODE_PUBSUB ? o->pubs : 0, o->mode == BENCH_MODE_PUBSUB ? o->subs : 0,
           o->payload, o->rate, (unsigned long long)r->sent, (unsigned long long)r->received,
           (unsigned long long)r->expected, (unsigned long long)r->lost,
           (unsigned long long)r->duplicates, r->msgs_per_s, r->elapsed_s, p50, p99, p999, pmax,
           (unsigned long long)r->lat.count, (unsigned long long)r->connections,
           r->connects_per_s, (unsigned long long)r->errors);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    if (argc == 2 && strcmp(argv[1], "selftest") == 0)
        return bench__selftest() | bench__jitp_selftest();
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc > 0 ? 0 : 2;

    raise_nofile();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Delivered only inside epoll_pwait2 (see bench__loop_init). */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, NULL);

    static struct bench_result r;
    memset(&r, 0, sizeof(r));
    bench__hist_init(&r.lat);
    switch (o.mode) {
    case BENCH_MODE_PUBSUB:
        rc = bench__run_pubsub(&o, &stop_flag, &r);
        break;
    case BENCH_MODE_CONNECT:
        rc = bench__run_connect(&o, &stop_flag, &r);
        break;
    case BENCH_MODE_IDLE:
        rc = bench__run_idle(&o, &stop_flag, &r);
        break;
    case BENCH_MODE_SHADOW:
        rc = bench__run_shadow(&o, &stop_flag, &r);
        break;
    case BENCH_MODE_JITP:
        rc = bench__run_jitp(&o, &stop_flag, &r);
        break;
    }
    if (!r.mode) {
        fprintf(stderr, "roost-bench: %s\n", roost_strerror(rc));
        return 3;
    }
    if (o.mode == BENCH_MODE_SHADOW)
        bench__print_shadow(&o, &r);
    else if (o.mode == BENCH_MODE_JITP)
        bench__print_jitp(&o, &r);
    else
        print_result(&o, &r);
    if (rc && rc != -EINTR)
        return 3;
    if (o.mode == BENCH_MODE_JITP)
        return r.connections < o.connections ? 1 : 0;
    if (o.mode == BENCH_MODE_SHADOW)
        return r.lost || r.deltas_lost || r.duplicates || r.accepted == 0 ? 1 : 0;
    if (o.mode != BENCH_MODE_PUBSUB && r.connections == 0)
        return 3;
    if (o.require_no_loss && (r.lost > 0 || (o.mode == BENCH_MODE_PUBSUB && o.subs && r.sent == 0)))
        return 1;
    return 0;
}
