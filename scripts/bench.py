#!/usr/bin/python3
"""bench.py - roostd against Debian's mosquitto, same generator, same machine.

`make bench` runs `/usr/bin/python3 scripts/bench.py --build build/release`.
It starts roostd (fresh temporary --data-dir, one I/O thread) and mosquitto
(equivalent settings: TCP_NODELAY, 100 in flight, 1000 queued, no
persistence, a plain and an mTLS listener with roostd's own root CA and
server certificate), pins the brokers to one core and roost-bench to the
other, and runs every load against both brokers, alternating which goes
first, N times (median). Throughput is quoted twice: absolute, and per
second of broker CPU (utime+stime from /proc/<pid>/stat across the run),
which is the fair ratio on a 2-core machine where the generator needs a core
(shared/spec/performance.md). QoS 1 loads require zero loss.

Output: a markdown table on stdout and in BUILD/bench-results.md, all raw
runs in BUILD/bench-results.json. Stdlib only; every wait is bounded; the
brokers are killed on exit, Ctrl-C or error.

The shadow loads (keys shadow_*) run against roostd only (mosquitto has no
device shadows), on a second roostd with --threads 2 (the store writer is a
thread of its own either way), pinned to the broker's core like the rest:
1000 things flat out (durable updates/s), then the same at 10,000 updates/s,
half the 20,000/s the shadow issue asks for (latency update -> /accepted and
desired -> /update/delta; --shadow-rate sets another rate).

The policy loads (keys authz_*) run against roostd only: the QoS 1 10->10
pairs load on AWS's per-thing topics (things/<publisher client id>/...,
roost-bench --layout things) on two more roostds, one with an allow-all
policy attached to the plain listeners' principal "anonymous", one with a
typical per-thing policy (AUTHZ_PER_THING below), interleaved. The issue's
bar: per-thing within 10 % of allow-all. `--only authz_allow,authz_thing`
runs just that pair.

The JITP loads (jitp_aws, jitp_accept; `--jitp` runs only them) run against
roostd only too (mosquitto has no just-in-time provisioning), on a roostd of
their own (--threads 1, allow_unregistered_certs = false), pinned like the
rest. Before each run the script makes a CA with openssl and registers it
through the aws CLI (get-registration-code, a verification certificate,
register-ca-certificate --set-as-active --allow-auto-registration with a JITP
template: thing named after the certificate's CN with a `batch` attribute,
inline policy); jitp_accept tags the CA roost:jitp_first_connect=accept.
`roost-bench jitp -c 1000` then connects 1000 new devices signed by it, and
afterwards the script checks through the API that list-things by the batch
attribute returns exactly the 1000 device names once each and that
list-certificates-by-ca holds 1000 ACTIVE certificates: every device
provisioned exactly once, none lost.
"""

import argparse
import json
import os
import platform
import random
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
MOSQUITTO = "/usr/sbin/mosquitto"
AWS_CLI = "/usr/bin/aws"
REGION = "us-east-1"
ACCOUNT = "123456789012"
# Seconds a JITP run waits for its slowest device before calling it lost.
JITP_TIMEOUT = 120
CLK_TCK = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

_procs = []  # every broker we started, killed in cleanup()

# The policies of the authz_* loads, attached to "anonymous" (plain
# listener). Devices (roost-bench publishers) may connect as themselves and
# publish and receive only on things/<their client id>/...; the per-thing
# Subscribe and Receive statements are the device's, the last statement is
# the application's: subscribers (client ids rb<tag>-s<i>) follow every
# thing's topics. Its condition is decided when a connection's policy is
# bound, so publishers never carry it. Region and account are spelled out,
# as in AWS's examples (roostd's defaults); "arn:aws:iot:*:*:" also works
# and costs a little more per check (docs/internals/AUTHZ.md).
AUTHZ_ALLOW_ALL = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
AUTHZ_PER_THING = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect",
     "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:ClientId}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
     "Resource": "arn:aws:iot:us-east-1:123456789012:topic/things/${iot:ClientId}/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/things/${iot:ClientId}/*"},
    {"Effect": "Allow", "Action": ["iot:Subscribe", "iot:Receive"],
     "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/things/*",
                  "arn:aws:iot:us-east-1:123456789012:topicfilter/things/*"],
     "Condition": {"StringLike": {"iot:ClientId": "rb*-s*"}}},
]}


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def run(cmd, timeout=60):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(cmd), r.returncode,
                                                      r.stdout.decode(errors="replace")))
    return r.stdout.decode(errors="replace")


def free_port():
    """For mosquitto, which cannot listen on port 0 and report it."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def child_setup(cpu):
    """preexec_fn: the file limit up to the hard limit, and pin to `cpu`."""
    def setup():
        raise_nofile()
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
    return setup


def proc_cpu_seconds(pid):
    """utime + stime of the whole process (all threads)."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def wait_tcp(port, proc, deadline):
    """Until something accepts on HOST:port (the broker is up), bounded."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def quiesce(broker, limit=20.0):
    """Waits (bounded) until the broker is idle: at most 20 ms of CPU in
    300 ms (clock ticks are 10 ms), so work left over from the previous run
    is not billed to the next one."""
    end = time.monotonic() + limit
    while time.monotonic() < end and broker.alive():
        c0 = broker.cpu_seconds()
        time.sleep(0.3)
        if broker.alive() and broker.cpu_seconds() - c0 <= 0.02:
            return True
    log("%s still busy after %.0f s; measuring anyway" % (broker.name, limit))
    return False


# ---------------------------------------------------------------- PKI

def make_ca(d):
    cert, key = os.path.join(d, "root-ca.pem"), os.path.join(d, "root-ca.key")
    run(["openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
         "-subj", "/CN=roost-bench root", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return cert, key


def make_leaf(d, name, ca_cert, ca_key, server):
    """EC P-256 key and certificate signed by the CA; returns (cert, key)."""
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    csr, ext = os.path.join(d, name + ".csr"), os.path.join(d, name + ".ext")
    run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + name])
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n")
        if server:
            f.write("extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
        else:
            f.write("extendedKeyUsage=clientAuth\n")
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
         "-set_serial", "0x%x" % random.getrandbits(120), "-days", "2", "-sha256",
         "-extfile", ext, "-out", cert])
    return cert, key


# ---------------------------------------------------------------- brokers

class Broker:
    name = "?"

    def __init__(self, work, cpu):
        self.work = work
        self.cpu = cpu
        self.proc = None
        self.plain_port = 0
        self.mtls_port = 0
        self.log_path = os.path.join(work, self.name + ".log")

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self):
        return proc_cpu_seconds(self.pid)

    def rss_kib(self):
        return proc_rss_kib(self.pid)

    def _spawn(self, cmd):
        log("starting %s: %s" % (self.name, " ".join(cmd)))
        out = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         preexec_fn=child_setup(self.cpu))
        finally:
            out.close()
        _procs.append(self.proc)

    def log_tail(self, n=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log("%s did not stop on SIGTERM; killing it" % self.name)
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)


class Roostd(Broker):
    name = "roostd"

    def __init__(self, work, cpu, binary, threads=1, name="roostd", allow_unregistered=True):
        self.name = name
        super().__init__(work, cpu)
        self.binary = binary
        self.threads = threads
        self.allow_unregistered = allow_unregistered
        self.https_port = 0
        self.data = os.path.join(work, name + "-data")
        os.makedirs(self.data)

    def start(self):
        # The limits mosquitto gets below, said explicitly (they are also
        # roostd's defaults).
        with open(os.path.join(self.data, "roost.conf"), "w") as f:
            f.write("max_inflight = 100\nmax_queued = 1000\nreceive_maximum = 100\n")
            # The bench's client certificate is signed by roostd's root but not
            # registered; mosquitto likewise accepts any certificate of its CA.
            # The JITP roostd binds devices to registered certificates, as in
            # production.
            f.write("allow_unregistered_certs = %s\n"
                    % ("true" if self.allow_unregistered else "false"))
        self._spawn([self.binary, "--data-dir", self.data, "--bind", HOST,
                     "--mqtt-port", "0", "--mqtt-plain-port", "0", "--https-port", "0",
                     "--threads", str(self.threads), "--log-level", "warn"])
        deadline = time.monotonic() + START_TIMEOUT
        ports_json = os.path.join(self.data, "ports.json")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("roostd exited (%d) during start-up:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            with open(self.log_path, "rb") as f:
                ready = b"roostd ready" in f.read()
            if ready and os.path.exists(ports_json):
                break
            time.sleep(0.02)
        else:
            raise RuntimeError("roostd not ready after %.0f s:\n%s"
                               % (START_TIMEOUT, self.log_tail()))
        with open(ports_json) as f:
            ports = json.load(f)
        self.plain_port, self.mtls_port = ports["mqtt_plain"], ports["mqtt"]
        self.https_port = ports.get("https", 0)
        if not (self.plain_port and self.mtls_port):
            raise RuntimeError("roostd ports.json lacks mqtt/mqtt_plain: %r" % ports)
        log("roostd ready: plain %d, mTLS %d (pid %d)"
            % (self.plain_port, self.mtls_port, self.pid))

    @property
    def pki(self):
        return os.path.join(self.data, "pki")

    def aws(self, *args):
        """The aws CLI against this roostd's API with the admin credentials
        it wrote; returns the parsed JSON output (None when empty)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.data, "admin.credentials"),
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
        })
        cmd = [AWS_CLI] + list(args) + [
            "--endpoint-url", "https://localhost:%d" % self.https_port,
            "--ca-bundle", os.path.join(self.pki, "root-ca.pem"), "--output", "json"]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, env=env, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("aws %s failed (%d): %s" % (" ".join(args[:2]), r.returncode,
                                                           r.stderr.decode(errors="replace")))
        out = r.stdout.decode(errors="replace").strip()
        return json.loads(out) if out else None


class Mosquitto(Broker):
    name = "mosquitto"

    def __init__(self, work, cpu, ca, cert, key):
        super().__init__(work, cpu)
        self.dir = os.path.join(work, "mosquitto")
        os.makedirs(self.dir)
        # Copies, so mosquitto (which may drop to its own user) can read them.
        self.ca = shutil.copy(ca, os.path.join(self.dir, "ca.pem"))
        self.cert = shutil.copy(cert, os.path.join(self.dir, "server.pem"))
        self.key = shutil.copy(key, os.path.join(self.dir, "server.key"))

    def start(self):
        self.plain_port, self.mtls_port = free_port(), free_port()
        conf = os.path.join(self.dir, "mosquitto.conf")
        lines = []
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to `mosquitto` and cannot read our files
        lines += [
            "per_listener_settings false",
            "allow_anonymous true",
            "persistence false",
            "set_tcp_nodelay true",
            "max_inflight_messages 100",
            "max_queued_messages 1000",
            "log_dest file " + os.path.join(self.dir, "mosquitto.log"),
            "log_type error",
            "log_type warning",
            "connection_messages false",
            "listener %d %s" % (self.plain_port, HOST),
            "listener %d %s" % (self.mtls_port, HOST),
            "cafile " + self.ca,
            "certfile " + self.cert,
            "keyfile " + self.key,
            "require_certificate true",
        ]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self._spawn([MOSQUITTO, "-c", conf])
        deadline = time.monotonic() + START_TIMEOUT
        if not (wait_tcp(self.plain_port, self.proc, deadline)
                and wait_tcp(self.mtls_port, self.proc, deadline)):
            raise RuntimeError("mosquitto did not start:\n%s\n%s" % (
                self.log_tail(), open(os.path.join(self.dir, "mosquitto.log"),
                                      errors="replace").read()[-2000:]
                if os.path.exists(os.path.join(self.dir, "mosquitto.log")) else ""))
        log("mosquitto ready: plain %d, mTLS %d (pid %d)"
            % (self.plain_port, self.mtls_port, self.pid))


# ---------------------------------------------------------------- loads

class Load:
    def __init__(self, key, label, mode, args, transport="tcp", kind=None, latency=False,
                 no_loss=False, rate_note=None, roostd_only=False, broker=None,
                 first_connect=None):
        self.key = key
        self.label = label
        self.mode = mode
        self.args = args
        self.transport = transport
        self.kind = kind or mode      # pubsub | connect | idle
        self.latency = latency        # show latency columns
        self.no_loss = no_loss        # QoS 1: any loss fails the run
        self.roostd_only = roostd_only  # shadow loads: mosquitto has no shadows
        self.broker = broker          # roostd-only loads on a broker of their own
        self.first_connect = first_connect  # JITP: the CA's roost:jitp_first_connect tag


# A flat-out QoS 0 publisher has no acks to slow it: with the kernel's
# autotuned buffers it queues megabytes (seconds of work) that the broker
# still chews on after the run. A 64 KiB send buffer bounds that backlog.
QOS0_FLAT = ["--sndbuf", "65536"]


# Per-device window: below roostd's (and AWS's) 10 per client, because the
# service frees a slot just after it publishes the answer: a device that
# refills on the answer could otherwise race it and get a 429.
SHADOW_WINDOW = 8


def SHADOW_ARGS(a):
    return ["--things", str(a.shadow_things), "--apps", "1", "--desired-fraction", "0.01",
            "-q", "1", "-k", "100"]


def make_loads(a):
    d = str(a.duration)
    ld = str(a.latency_duration)
    return [
        # First, while both brokers are fresh: memory freed by earlier loads
        # and reused by the idle connections would understate their cost.
        Load("idle_mtls", "RSS per idle mTLS connection, %d conns (KiB, lower is better)"
             % a.idle_conns, "idle", ["-c", str(a.idle_conns), "-k", "50"], "mtls"),
        Load("qos0_1to1", "QoS 0 1→1 flat out (msg/s)", "pubsub",
             ["-q", "0", "-P", "1", "-S", "1", "-d", d] + QOS0_FLAT, latency=True),
        Load("qos1_1to1", "QoS 1 1→1 flat out, 100 in flight (msg/s)", "pubsub",
             ["-q", "1", "-P", "1", "-S", "1", "--inflight", "100", "-d", d,
              "--require-no-loss"], latency=True, no_loss=True),
        Load("qos0_10to10", "QoS 0 10→10 pairs flat out (msg/s)", "pubsub",
             ["-q", "0", "-P", "10", "-S", "10", "-d", d] + QOS0_FLAT, latency=True),
        Load("qos1_10to10", "QoS 1 10→10 pairs flat out, 100 in flight (msg/s)", "pubsub",
             ["-q", "1", "-P", "10", "-S", "10", "--inflight", "100", "-d", d,
              "--require-no-loss"], latency=True, no_loss=True),
        Load("qos0_fanout1000", "QoS 0 1→1000 fan-out, publisher at %g msg/s (deliveries/s)"
             % a.fanout_rate, "pubsub",
             ["-q", "0", "-P", "1", "-S", "1000", "-r", str(a.fanout_rate), "-d", d],
             latency=True),
        Load("lat_qos0_10x1k", "latency: QoS 0 10 pairs × 1k msg/s (msg/s)", "pubsub",
             ["-q", "0", "-P", "10", "-S", "10", "-r", "1000", "-d", ld], latency=True),
        Load("lat_qos1_10k", "latency: QoS 1 1→1 at 10k msg/s (msg/s)", "pubsub",
             ["-q", "1", "-P", "1", "-S", "1", "-r", "10000", "-d", ld,
              "--require-no-loss"], latency=True, no_loss=True),
        Load("connect_mtls", "mTLS connects/s, %d conns, 50 at once" % a.storm_conns,
             "connect", ["-c", str(a.storm_conns), "-k", "50"], "mtls", latency=True),
        # roostd only. Flat out first: shadow_lat runs at half its median.
        Load("shadow_flat", "shadows: %d things flat out, %d in flight each "
             "(durable updates/s)" % (a.shadow_things, SHADOW_WINDOW), "shadow",
             SHADOW_ARGS(a) + ["--inflight", str(SHADOW_WINDOW), "-d", d],
             latency=True, no_loss=True, roostd_only=True),
        Load("shadow_lat", "latency: shadows, %d things at %.0f updates/s "
             "(durable updates/s)" % (a.shadow_things, a.shadow_rate), "shadow",
             SHADOW_ARGS(a) + ["--inflight", str(SHADOW_WINDOW), "-d", ld],
             latency=True, no_loss=True, roostd_only=True),
        # roostd only: the cost of policy checks (Publish, Receive per delivery).
        Load("authz_allow", "QoS 1 10→10 on things/<id>/…, allow-all policy (msg/s)",
             "pubsub", AUTHZ_ARGS(a), latency=True, no_loss=True, roostd_only=True,
             broker="roostd-allow"),
        Load("authz_thing", "QoS 1 10→10 on things/<id>/…, per-thing policy (msg/s)",
             "pubsub", AUTHZ_ARGS(a), latency=True, no_loss=True, roostd_only=True,
             broker="roostd-thing"),
        # roostd only: new devices provisioned on first contact (roostd-jitp).
        Load("jitp_aws", "JITP: %d new devices, AWS mode: first handshake refused, device "
             "retries (devices provisioned/s)" % a.jitp_devices, "jitp",
             ["-c", str(a.jitp_devices), "-k", "50"], "mtls", latency=True, no_loss=True,
             roostd_only=True),
        Load("jitp_accept", "JITP: %d new devices, first connection accepted "
             "(devices provisioned/s)" % a.jitp_devices, "jitp",
             ["-c", str(a.jitp_devices), "-k", "50"], "mtls", latency=True, no_loss=True,
             roostd_only=True, first_connect="accept"),
    ]


def AUTHZ_ARGS(a):
    return ["-q", "1", "-P", "10", "-S", "10", "--inflight", "100", "-d", str(a.duration),
            "--require-no-loss", "--layout", "things"]


def attach_anonymous_policy(broker, name, document):
    """Creates a policy and attaches it to "anonymous" through the AWS IoT
    API (Debian's boto3, SigV4 with the admin keys roostd wrote)."""
    sys.path.insert(0, "/usr/lib/python3/dist-packages")
    import configparser
    import boto3
    import botocore.config
    cp = configparser.RawConfigParser()
    with open(os.path.join(broker.data, "admin.credentials")) as f:
        cp.read_file(f)
    with open(os.path.join(broker.data, "ports.json")) as f:
        https = json.load(f)["https"]
    iot = boto3.client("iot", endpoint_url="https://localhost:%d" % https,
                       region_name="us-east-1",
                       aws_access_key_id=cp.get("default", "aws_access_key_id"),
                       aws_secret_access_key=cp.get("default", "aws_secret_access_key"),
                       verify=os.path.join(broker.pki, "root-ca.pem"),
                       config=botocore.config.Config(retries={"total_max_attempts": 1}))
    iot.create_policy(policyName=name, policyDocument=json.dumps(document))
    iot.attach_policy(policyName=name, target="anonymous")
    iot.close()


def mqtt_publish_allowed(port, client_id, topic):
    """One MQTT 3.1.1 QoS 1 PUBLISH on the plain listener: True if it was
    acknowledged, False if the broker closed the connection (a 3.1.1
    client's answer to a denied PUBLISH). Proves which policy is in force."""
    def utf8(s):
        b = s.encode()
        return len(b).to_bytes(2, "big") + b
    def packet(first, body):
        n, rl = len(body), b""
        while True:
            n, d = n >> 7, n & 0x7F
            rl += bytes([d | (0x80 if n else 0)])
            if not n:
                break
        return bytes([first]) + rl + body
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(packet(0x10, utf8("MQTT") + bytes([4, 2, 0, 30]) + utf8(client_id)))
        if s.recv(4)[:1] != b"\x20":
            return False
        s.sendall(packet(0x32, utf8(topic) + (1).to_bytes(2, "big") + b"probe"))
        try:
            return s.recv(4)[:1] == b"\x40"
        except OSError:
            return False


def jitp_template(batch):
    """AWS's JITP example shape (tests/integration/test_23_provisioning.py's
    jitp_template): the thing is named after the certificate's CN and carries
    the batch and the certificate's country; an inline policy lets the device
    connect as its thing and publish under things/<name>/."""
    def arn(kind, name):
        return "arn:aws:iot:%s:%s:%s/%s" % (REGION, ACCOUNT, kind, name)
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": arn("client", "${iot:Connection.Thing.ThingName}")},
        {"Effect": "Allow", "Action": "iot:Publish",
         "Resource": arn("topic", "things/${iot:Connection.Thing.ThingName}/*")}]}
    return json.dumps({
        "Parameters": {"AWS::IoT::Certificate::CommonName": {"Type": "String"},
                       "AWS::IoT::Certificate::Country": {"Type": "String"},
                       "AWS::IoT::Certificate::Id": {"Type": "String"}},
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"},
                "AttributePayload": {"batch": batch,
                                     "country": {"Ref": "AWS::IoT::Certificate::Country"}}}},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {
                "PolicyDocument": json.dumps(policy)}}}})


def register_jitp_ca(broker, d, batch, first_connect):
    """A new CA made with openssl, registered with proof of possession,
    ACTIVE, auto-registering, with the JITP template for `batch`. Returns
    (ca cert, ca key, ca id)."""
    os.makedirs(d)
    # Its own subject: roostd finds a device's CA by issuer name (and key).
    ca_cert, ca_key = os.path.join(d, "jitp-ca.pem"), os.path.join(d, "jitp-ca.key")
    run(["openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key, "-out", ca_cert, "-days", "2",
         "-subj", "/CN=roost-bench JITP " + batch, "-addext",
         "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    code = broker.aws("iot", "get-registration-code")["registrationCode"]
    vkey, vcsr = os.path.join(d, "verif.key"), os.path.join(d, "verif.csr")
    verif = os.path.join(d, "verif.pem")
    run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", vkey, "-out", vcsr, "-subj", "/CN=" + code])
    run(["openssl", "x509", "-req", "-in", vcsr, "-CA", ca_cert, "-CAkey", ca_key,
         "-set_serial", "0x%x" % random.getrandbits(120), "-days", "1", "-sha256",
         "-out", verif])
    cfg = os.path.join(d, "regcfg.json")
    with open(cfg, "w") as f:
        json.dump({"templateBody": jitp_template(batch),
                   "roleArn": "arn:aws:iam::%s:role/roost-provisioning" % ACCOUNT}, f)
    args = ["iot", "register-ca-certificate", "--ca-certificate", "file://" + ca_cert,
            "--verification-cert", "file://" + verif, "--set-as-active",
            "--allow-auto-registration", "--registration-config", "file://" + cfg]
    if first_connect:
        args += ["--tags", "Key=roost:jitp_first_connect,Value=" + first_connect]
    return ca_cert, ca_key, broker.aws(*args)["certificateId"]


def check_jitp_batch(broker, batch, names, ca_id):
    """Through the API: exactly one thing per device of the batch and one
    ACTIVE certificate per device under the CA. Returns (facts, problem or
    None)."""
    things = broker.aws("iot", "list-things", "--attribute-name", "batch",
                        "--attribute-value", batch)["things"]
    got = [t["thingName"] for t in things]
    certs = broker.aws("iot", "list-certificates-by-ca", "--ca-certificate-id",
                       ca_id)["certificates"]
    active = sum(1 for c in certs if c["status"] == "ACTIVE")
    facts = {"things": len(got), "distinct_things": len(set(got)), "certificates": len(certs),
             "active_certificates": active}
    problems = []
    if len(got) != len(set(got)):
        problems.append("%d duplicate things" % (len(got) - len(set(got))))
    missing, extra = set(names) - set(got), set(got) - set(names)
    if missing:
        problems.append("%d devices without a thing (e.g. %s)" % (len(missing), min(missing)))
    if extra:
        problems.append("%d unexpected things (e.g. %s)" % (len(extra), min(extra)))
    if len(certs) != len(names) or active != len(names):
        problems.append("%d certificates under the CA, %d ACTIVE, for %d devices"
                        % (len(certs), active, len(names)))
    return facts, "; ".join(problems) or None


class Runner:
    def __init__(self, a, bench, gen_cpu, client_cert, client_key, ca, work):
        self.a = a
        self.work = work
        self.bench = bench
        self.gen_cpu = gen_cpu
        self.client_cert = client_cert
        self.client_key = client_key
        self.ca = ca
        self.shadow_rate = a.shadow_rate

    def bench_cmd(self, load, broker, tag):
        port = broker.mtls_port if load.transport == "mtls" else broker.plain_port
        cmd = [self.bench, load.mode, "-H", HOST, "-p", str(port), "--quiet"]
        if load.key == "shadow_lat":
            cmd += ["-r", "%.0f" % self.shadow_rate]
        if load.kind == "pubsub":
            # Fresh topics per run: nothing a previous run left queued in the
            # broker can reach this run's subscribers.
            cmd += ["--topic-prefix", "bench/" + tag]
        if load.transport == "mtls":
            cmd += ["-t", "mtls", "--cafile", self.ca, "--cert", self.client_cert,
                    "--key", self.client_key]
        return cmd + load.args

    def run_once(self, load, broker, tag):
        """One run of `load` against `broker`; returns a result dict."""
        if not broker.alive():
            return {"failed": "%s is not running" % broker.name}
        quiesce(broker)
        cmd = self.bench_cmd(load, broker, tag)
        if load.kind == "idle":
            return self._run_idle(cmd, broker)
        if load.kind == "jitp":
            return self._run_jitp(load, broker, tag)
        timeout = self.a.duration + self.a.latency_duration + 120
        cpu0 = broker.cpu_seconds()
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, timeout=timeout,
                               preexec_fn=child_setup(self.gen_cpu))
        except subprocess.TimeoutExpired:
            return {"failed": "roost-bench timed out after %.0f s" % timeout}
        wall = time.monotonic() - t0
        cpu = broker.cpu_seconds() - cpu0 if broker.alive() else None
        res = parse_result(p.stdout.decode(errors="replace"))
        if res is None:
            return {"failed": "roost-bench exited %d without a result: %s"
                    % (p.returncode, p.stderr.decode(errors="replace").strip()[-500:])}
        res["exit"] = p.returncode
        res["broker_cpu_s"] = cpu
        res["wall_s"] = wall
        if p.returncode not in (0, 1):
            res["failed"] = "roost-bench exited %d: %s" % (
                p.returncode, p.stderr.decode(errors="replace").strip()[-500:])
        if cpu:
            count = (res["received"] if load.kind == "pubsub" else
                     res["accepted"] if load.kind == "shadow" else res["connections"])
            res["per_cpu_s"] = count / cpu
        if not broker.alive():
            res["failed"] = "%s died during the run:\n%s" % (broker.name, broker.log_tail())
        return res

    def _run_jitp(self, load, broker, tag):
        """Registers a fresh CA for this run (untimed), runs the storm, then
        checks through the API that every device was provisioned once."""
        batch = tag.replace("_", "-")
        n = self.a.jitp_devices
        try:
            ca_cert, ca_key, ca_id = register_jitp_ca(
                broker, os.path.join(self.work, "jitp", tag), batch, load.first_connect)
        except (RuntimeError, OSError, ValueError, KeyError, TypeError,
                subprocess.SubprocessError) as e:
            return {"failed": "registering the JITP CA: %s" % e}
        quiesce(broker)
        cmd = [self.bench, "jitp", "-H", HOST, "-p", str(broker.mtls_port), "--quiet",
               "--cafile", os.path.join(broker.pki, "root-ca.pem"), "--ca-cert", ca_cert,
               "--ca-key", ca_key, "--prefix", batch, "--timeout", str(JITP_TIMEOUT)] + load.args
        cpu0 = broker.cpu_seconds()
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, timeout=JITP_TIMEOUT + 120,
                               preexec_fn=child_setup(self.gen_cpu))
        except subprocess.TimeoutExpired:
            return {"failed": "roost-bench jitp timed out"}
        wall = time.monotonic() - t0
        cpu = broker.cpu_seconds() - cpu0 if broker.alive() else None
        err = p.stderr.decode(errors="replace").strip()
        res = parse_result(p.stdout.decode(errors="replace"))
        if res is None:
            return {"failed": "roost-bench jitp exited %d without a result: %s"
                    % (p.returncode, err[-500:])}
        res.update({"exit": p.returncode, "broker_cpu_s": cpu, "wall_s": wall, "ca_id": ca_id,
                    "batch": batch})
        if cpu:
            res["per_cpu_s"] = res["connections"] / cpu
        problems = []
        if p.returncode != 0:
            res["lost"] = res.get("errors", 0)
            problems.append("roost-bench jitp exited %d (%d of %d devices never connected): %s"
                            % (p.returncode, res.get("errors", 0), n, err[-300:]))
        if not broker.alive():
            res["failed"] = "%s died during the run:\n%s" % (broker.name, broker.log_tail())
            return res
        try:
            facts, problem = check_jitp_batch(broker, batch, ["%s-%d" % (batch, i)
                                                            for i in range(n)], ca_id)
        except (RuntimeError, ValueError, KeyError, TypeError, subprocess.SubprocessError) as e:
            facts, problem = {}, "cannot list the batch's things: %s" % e
        res.update(facts)
        res["exactly_once"] = problem is None
        if problem:
            problems.append("provisioned-exactly-once check: " + problem)
        if problems:
            res["failed"] = "; ".join(problems)
        return res

    def _run_idle(self, cmd, broker):
        rss0 = broker.rss_kib()
        cpu0 = broker.cpu_seconds()
        t0 = time.monotonic()
        deadline = t0 + 300
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, preexec_fn=child_setup(self.gen_cpu))
        try:
            ready = None
            buf = b""
            while time.monotonic() < deadline and p.poll() is None:
                r, _, _ = select.select([p.stdout], [], [], 0.5)
                if not r:
                    continue
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                for line in buf.split(b"\n")[:-1]:
                    if line.startswith(b"ready "):
                        ready = [int(x) for x in line.split()[1:3]]
                if ready is not None:
                    break
            if ready is None:
                p.kill()
                out, err = p.communicate(timeout=STOP_TIMEOUT)
                return {"failed": "idle connections never became ready: %s"
                        % err.decode(errors="replace").strip()[-500:]}
            # Let the broker settle: RSS stable within 1 % over 250 ms (max 3 s).
            rss1 = broker.rss_kib()
            settle_end = time.monotonic() + 3
            while time.monotonic() < settle_end:
                time.sleep(0.25)
                nxt = broker.rss_kib()
                stable = abs(nxt - rss1) <= rss1 * 0.01
                rss1 = nxt
                if stable:
                    break
            cpu = broker.cpu_seconds() - cpu0
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        res = parse_result(buf.decode(errors="replace") + out.decode(errors="replace"))
        if res is None:
            return {"failed": "roost-bench idle gave no result: %s"
                    % err.decode(errors="replace").strip()[-500:]}
        ok = ready[0]
        res.update({"exit": p.returncode, "rss_before_kib": rss0, "rss_after_kib": rss1,
                    "broker_cpu_s": cpu, "open": ok, "failed_conns": ready[1],
                    "wall_s": time.monotonic() - t0})
        if ok:
            res["kib_per_conn"] = (rss1 - rss0) / ok
        if ready[1]:
            res["warning"] = "%d of %d idle connections failed" % (ready[1], ok + ready[1])
        return res


def parse_result(text):
    for line in text.splitlines():
        if line.startswith("RESULT "):
            try:
                return json.loads(line[7:])
            except ValueError:
                return None
    return None


# ---------------------------------------------------------------- report

def metric(load, res):
    """The headline number of one run (None if the run failed)."""
    if not res or "failed" in res:
        return None
    if load.kind == "idle":
        return res.get("kib_per_conn")
    if load.kind == "connect":
        return res["connects_per_s"]
    if load.kind == "jitp":
        return res["provisioned_per_s"]
    return res["msgs_per_s"]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(load, runs):
    ok = [r for r in runs if "failed" not in r]
    s = {
        "runs": len(runs),
        "failed": [r["failed"] for r in runs if "failed" in r],
        "value": median([metric(load, r) for r in runs]),
        "per_cpu_s": median([r.get("per_cpu_s") for r in ok]),
        "p50_us": median([r.get("p50_us") for r in ok]),
        "p99_us": median([r.get("p99_us") for r in ok]),
        "lost": max([r.get("lost", 0) + r.get("deltas_lost", 0) for r in ok] or [0]),
        "p999_us": median([r.get("p999_us") for r in ok]),
        "delta_p50_us": median([r.get("delta_p50_us") for r in ok]),
        "delta_p99_us": median([r.get("delta_p99_us") for r in ok]),
        "rejected": sum(r.get("rejected", 0) for r in ok),
        "rate": median([r.get("rate") for r in ok]),
        "errors": sum(r.get("errors", 0) for r in ok),
        "warnings": [r["warning"] for r in ok if "warning" in r],
        "max_us": median([r.get("max_us") for r in ok]),
        "attempts_mean": median([r.get("attempts_mean") for r in ok]),
        "attempts_max": max([r.get("attempts_max", 0) for r in ok] or [0]),
        "devices": median([r.get("devices") for r in ok]),
        "exactly_once": [r.get("exactly_once") for r in runs if "exactly_once" in r],
    }
    return s


def fmt_num(v, kind):
    if v is None:
        return "—"
    if kind == "idle":
        return "%.1f KiB" % v
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e4:
        return "%.1fk" % (v / 1e3)
    return "%.0f" % v


def fmt_us(v):
    if v is None:
        return "—"
    if v >= 1e6:
        return "%.2f s" % (v / 1e6)
    if v >= 1e3:
        return "%.1f ms" % (v / 1e3)
    return "%.0f µs" % v


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return "%.2f×" % (a / b)


def render(loads, summary, names, meta):
    out = []
    out.append("| load | roostd | mosquitto | ratio (roostd/mosquitto) | roostd per broker-CPU-s "
               "| mosquitto per broker-CPU-s | ratio per CPU-s | roostd p50 / p99 "
               "| mosquitto p50 / p99 |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    notes = []
    for load in loads:
        r = summary[load.key].get("roostd", {})
        m = summary[load.key].get("mosquitto", {})
        cells = [load.label]
        for s in (r, m):
            if s is m and load.kind == "jitp":
                cells.append("— (mosquitto has no JITP)")
                continue
            v = fmt_num(s.get("value"), load.kind)
            if s.get("lost"):
                v += " ⚠ lost %d" % s["lost"]
                if load.no_loss:
                    notes.append("%s on %s lost messages (or shadow answers)" % (load.key,
                                                                      "roostd" if s is r else "mosquitto"))
            if s.get("failed"):
                v += " ⚠ %d failed" % len(s["failed"])
            cells.append(v)
        cells.append(fmt_ratio(r.get("value"), m.get("value")))
        if load.kind == "idle":
            cells += ["—", "—", "—"]
        else:
            cells += [fmt_num(r.get("per_cpu_s"), load.kind), fmt_num(m.get("per_cpu_s"), load.kind),
                      fmt_ratio(r.get("per_cpu_s"), m.get("per_cpu_s"))]
        if load.latency:
            for s in (r, m):
                cells.append("%s / %s" % (fmt_us(s.get("p50_us")), fmt_us(s.get("p99_us")))
                             if s.get("p50_us") is not None else "—")
        else:
            cells += ["—", "—"]
        out.append("| " + " | ".join(cells) + " |")
    shadow = [l for l in loads if l.kind == "shadow" and summary[l.key].get("roostd")]
    if shadow:
        out.append("")
        out.append("Shadows (roostd only, --threads 2, %d things, QoS 1 updates, 1 app "
                   "changing desired for 1 %% of updates):" % meta.get("shadow_things", 0))
        out.append("")
        out.append("| load | offered (updates/s) | durable updates/s | per broker-CPU-s "
                   "| update → /accepted p50 / p99 / p99.9 | desired → /delta p50 / p99 "
                   "| rejected | lost |")
        out.append("|---|---|---|---|---|---|---|---|")
        for load in shadow:
            s = summary[load.key]["roostd"]
            out.append("| %s | %s | %s | %s | %s / %s / %s | %s / %s | %d | %d |" % (
                load.key, "flat out" if not s.get("rate") else fmt_num(s["rate"], "shadow"),
                fmt_num(s.get("value"), "shadow"), fmt_num(s.get("per_cpu_s"), "shadow"),
                fmt_us(s.get("p50_us")), fmt_us(s.get("p99_us")), fmt_us(s.get("p999_us")),
                fmt_us(s.get("delta_p50_us")), fmt_us(s.get("delta_p99_us")),
                s.get("rejected", 0), s.get("lost", 0)))
    jitp = [l for l in loads if l.kind == "jitp" and summary[l.key].get("roostd")]
    if jitp:
        out.append("")
        out.append("Just-in-time provisioning (roostd only: mosquitto has no JITP; "
                   "--threads 1, allow_unregistered_certs = false, 50 devices in setup at "
                   "once, a fresh JITP CA per run):")
        out.append("")
        out.append("| load | devices | provisioned devices/s | per broker-CPU-s "
                   "| first attempt → CONNACK p50 / p99 / max | attempts per device mean / max "
                   "| provisioned exactly once |")
        out.append("|---|---|---|---|---|---|---|")
        for load in jitp:
            s = summary[load.key]["roostd"]
            once = s.get("exactly_once") or []
            out.append("| %s | %s | %s | %s | %s / %s / %s | %s / %d | %s |" % (
                load.key, "%d" % s["devices"] if s.get("devices") else "—",
                fmt_num(s.get("value"), "jitp"), fmt_num(s.get("per_cpu_s"), "jitp"),
                fmt_us(s.get("p50_us")), fmt_us(s.get("p99_us")), fmt_us(s.get("max_us")),
                "%.2f" % s["attempts_mean"] if s.get("attempts_mean") is not None else "—",
                s.get("attempts_max", 0),
                "%d of %d runs" % (sum(1 for x in once if x), len(once)) if once else "—"))
    authz = {l.key: summary[l.key].get("roostd", {}) for l in loads if l.broker}
    if len(authz) == 2:
        al, th = authz["authz_allow"], authz["authz_thing"]
        out.append("")
        out.append("Policy checks (roostd only, one I/O thread, QoS 1 10→10 pairs on "
                   "things/<publisher id>/…, 100 in flight, policies attached to the plain "
                   "listener's principal 'anonymous', runs interleaved):")
        out.append("")
        out.append("| policy | msg/s | per broker-CPU-s | p50 / p99 | lost |")
        out.append("|---|---|---|---|---|")
        for label, s in (("allow-all (iot:* on *)", al), ("per-thing (${iot:ClientId})", th)):
            out.append("| %s | %s | %s | %s / %s | %d |" % (
                label, fmt_num(s.get("value"), "pubsub"), fmt_num(s.get("per_cpu_s"), "pubsub"),
                fmt_us(s.get("p50_us")), fmt_us(s.get("p99_us")), s.get("lost", 0)))
        out.append("| per-thing / allow-all | %s | %s | | |" % (
            fmt_ratio(th.get("value"), al.get("value")),
            fmt_ratio(th.get("per_cpu_s"), al.get("per_cpu_s"))))
    out.append("")
    out.append("Medians of %d run(s) per broker, brokers alternated; %s. %s" % (
        meta["reps"], meta["pinning"], meta["when"]))
    out.append("Per broker-CPU-s: deliveries (or connects) per second of broker CPU "
               "(utime+stime). Latency columns: message latency for pubsub loads, "
               "connect latency (TCP connect → CONNACK) for the connect load, a device's "
               "first attempt → its CONNACK for the JITP loads. Flat-out QoS 0 "
               "latency is queueing in socket buffers, not broker delay.")
    for n in notes:
        out.append("")
        out.append("**%s**" % n)
    for load in loads:
        for name in names:
            for w in summary[load.key].get(name, {}).get("warnings", []):
                out.append("")
                out.append("- %s on %s: %s" % (load.key, name, w))
            for f in summary[load.key].get(name, {}).get("failed", []):
                out.append("")
                out.append("- %s on %s failed: %s" % (load.key, name, f.strip().splitlines()[0]
                                                       if f.strip() else f))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main

def find_file(path):
    """Relative paths: from the current directory, else from the repository."""
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(repo, path)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build/release",
                    help="build dir with roostd and roost-bench (default build/release)")
    ap.add_argument("--reps", type=int, default=3, help="runs per load and broker (default 3)")
    ap.add_argument("--duration", type=float, default=4.0,
                    help="seconds per flat-out run (default 4)")
    ap.add_argument("--latency-duration", type=float, default=3.0,
                    help="seconds per fixed-rate latency run (default 3)")
    ap.add_argument("--fanout-rate", type=float, default=50.0,
                    help="publisher rate for the 1->1000 fan-out, msg/s (default 50 = "
                         "50k deliveries/s)")
    ap.add_argument("--storm-conns", type=int, default=2000,
                    help="connections in the mTLS connect storm (default 2000)")
    ap.add_argument("--idle-conns", type=int, default=10000,
                    help="idle mTLS connections for the memory load (default 10000)")
    ap.add_argument("--idle-reps", type=int, default=1,
                    help="runs of the idle-memory load (default 1: it is deterministic and "
                         "the slowest)")
    ap.add_argument("--shadow-things", type=int, default=1000,
                    help="things (device connections) in the shadow loads (default 1000)")
    ap.add_argument("--shadow-rate", type=float, default=10000.0,
                    help="updates/s of shadow_lat (default 10000: half the 20,000 durable "
                         "updates/s target)")
    ap.add_argument("--jitp-devices", type=int, default=1000,
                    help="new devices per JITP run (default 1000)")
    ap.add_argument("--jitp", action="store_true",
                    help="run only the JITP loads (jitp_aws, jitp_accept)")
    ap.add_argument("--quick", action="store_true",
                    help="one short run of everything (well under a minute)")
    ap.add_argument("--only", default="",
                    help="comma-separated load keys to run (default all)")
    ap.add_argument("--brokers", default="roostd,mosquitto",
                    help="which brokers (default roostd,mosquitto)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary work dir")
    a = ap.parse_args()
    if a.quick:
        a.reps = 1
        a.idle_reps = 1
        a.duration = 1.0
        a.latency_duration = 1.0
        a.storm_conns = min(a.storm_conns, 300)
        a.idle_conns = min(a.idle_conns, 1000)
        a.shadow_things = min(a.shadow_things, 200)
        a.jitp_devices = min(a.jitp_devices, 200)
    if a.jitp:
        if a.only:
            ap.error("--jitp and --only exclude each other")
        a.only = "jitp_aws,jitp_accept"
    return a


def main():
    a = parse_args()
    raise_nofile()
    build = find_file(a.build)
    bench = os.path.join(build, "roost-bench")
    if not os.access(bench, os.X_OK):
        log("no roost-bench in %s: build it first (make release)" % build)
        return 2
    roostd_bin = os.path.join(build, "roostd")
    wanted = [b.strip() for b in a.brokers.split(",") if b.strip()]
    if "roostd" in wanted and not os.access(roostd_bin, os.X_OK):
        log("SKIPPING roostd: %s does not exist (build it: make release); "
            "measuring mosquitto only" % roostd_bin)
        wanted.remove("roostd")
    if "mosquitto" in wanted and not os.access(MOSQUITTO, os.X_OK):
        log("SKIPPING mosquitto: %s is missing (apt-get install mosquitto)" % MOSQUITTO)
        wanted.remove("mosquitto")
    if not wanted:
        log("no broker to measure")
        return 2

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        broker_cpu, gen_cpu = cpus[0], cpus[1]
        pinning = "broker pinned to CPU %d, roost-bench to CPU %d" % (broker_cpu, gen_cpu)
    else:
        broker_cpu = gen_cpu = None
        pinning = "one CPU only: nothing pinned (ratios per broker-CPU-s still hold)"
    log(pinning)

    loads = make_loads(a)
    if a.only:
        keys = {k.strip() for k in a.only.split(",")}
        unknown = keys - {l.key for l in loads}
        if unknown:
            log("unknown load(s) %s; known: %s" % (", ".join(sorted(unknown)),
                                                   ", ".join(l.key for l in loads)))
            return 2
        loads = [l for l in loads if l.key in keys]
    if any(l.kind == "jitp" for l in loads) and not os.access(AWS_CLI, os.X_OK):
        log("SKIPPING the JITP loads: they register their CA through the aws CLI, and %s "
            "is missing (apt-get install awscli)" % AWS_CLI)
        loads = [l for l in loads if l.kind != "jitp"]
        if not loads:
            return 2
    if all(l.roostd_only for l in loads):
        if "roostd" not in wanted:
            log("the shadow loads need roostd")
            return 2
        wanted = ["roostd"]

    work = tempfile.mkdtemp(prefix="roost-bench-")
    brokers = {}
    results = {l.key: {n: [] for n in wanted if n == "roostd" or not l.roostd_only}
               for l in loads}
    t_start = time.monotonic()
    interrupted = False
    failed_setup = False
    try:
        if "roostd" in wanted:
            r = Roostd(work, broker_cpu, roostd_bin)
            try:
                r.start()
            except RuntimeError as e:
                log("SKIPPING roostd (the run will exit 1): %s" % e)
                failed_setup = True
                r.stop()
                wanted.remove("roostd")
                for k in results:
                    results[k].pop("roostd", None)
            else:
                brokers["roostd"] = r
        if "roostd" in brokers:
            ca, ca_key = os.path.join(r.pki, "root-ca.pem"), os.path.join(r.pki, "root-ca.key")
            server_cert = os.path.join(r.pki, "server.pem")
            server_key = os.path.join(r.pki, "server.key")
        else:
            pki = os.path.join(work, "pki")
            os.makedirs(pki)
            ca, ca_key = make_ca(pki)
            server_cert, server_key = make_leaf(pki, "server", ca, ca_key, True)
        cdir = os.path.join(work, "client")
        os.makedirs(cdir)
        client_cert, client_key = make_leaf(cdir, "roost-bench-client", ca, ca_key, False)
        if "mosquitto" in wanted:
            m = Mosquitto(work, broker_cpu, ca, server_cert, server_key)
            m.start()
            brokers["mosquitto"] = m
        if "roostd" in brokers and any(l.kind == "shadow" for l in loads):
            rs = Roostd(work, broker_cpu, roostd_bin, threads=2, name="roostd-shadow")
            rs.start()
            brokers["roostd-shadow"] = rs
        if "roostd" in brokers and any(l.kind == "jitp" for l in loads):
            rj = Roostd(work, broker_cpu, roostd_bin, name="roostd-jitp",
                        allow_unregistered=False)
            rj.start()
            brokers["roostd-jitp"] = rj
        for load in loads:
            if "roostd" not in brokers or not load.broker:
                continue
            ra = Roostd(work, broker_cpu, roostd_bin, name=load.broker)
            ra.start()
            brokers[load.broker] = ra
            per_thing = load.key == "authz_thing"
            attach_anonymous_policy(ra, "bench-" + load.key,
                                    AUTHZ_PER_THING if per_thing else AUTHZ_ALLOW_ALL)
            if mqtt_publish_allowed(ra.plain_port, "probe-1", "elsewhere/x") == per_thing:
                raise RuntimeError("%s: the %s policy is not in force" % (
                    load.broker, "per-thing" if per_thing else "allow-all"))
        runner = Runner(a, bench, gen_cpu, client_cert, client_key, ca, work)

        for rep in range(a.reps):
            order = wanted if rep % 2 == 0 else list(reversed(wanted))
            rep_loads = list(loads)
            if rep % 2:  # the two policies take turns going first
                idx = [i for i, l in enumerate(rep_loads) if l.broker]
                for i, j in zip(idx, reversed(idx)):
                    if i < j:
                        rep_loads[i], rep_loads[j] = rep_loads[j], rep_loads[i]
            for load in rep_loads:
                if load.kind == "idle" and rep >= a.idle_reps:
                    continue
                for name in order:
                    if name not in results[load.key]:
                        continue
                    b = brokers[load.broker or ("roostd-jitp" if load.kind == "jitp" else
                                                "roostd-shadow" if load.roostd_only else name)]
                    res = runner.run_once(load, b, "%s-%s-%d" % (load.key, name, rep))
                    res["rep"] = rep
                    results[load.key][name].append(res)
                    v = metric(load, res)
                    log("rep %d %-16s %-9s %s%s" % (
                        rep + 1, load.key, name,
                        fmt_num(v, load.kind) if v is not None else "FAILED",
                        "" if "failed" not in res else " (%s)" % res["failed"].splitlines()[0]))
    except KeyboardInterrupt:
        log("interrupted: reporting what was measured")
        interrupted = True
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        log("ERROR: %s" % e)
        failed_setup = True
    finally:
        for b in brokers.values():
            b.stop()
        cleanup()
        if a.keep:
            log("work dir kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    summary = {l.key: {n: summarize(l, results[l.key][n]) for n in results[l.key]}
               for l in loads}
    meta = {
        "reps": a.reps,
        "pinning": pinning,
        "shadow_things": a.shadow_things,
        "when": "%s, %s, %d CPUs, %.0f s total." % (
            time.strftime("%Y-%m-%d"), platform.platform(), os.cpu_count(),
            time.monotonic() - t_start),
    }
    table = render(loads, summary, wanted, meta)
    print(table)
    md_path = os.path.join(os.path.dirname(build.rstrip("/")), "bench-results.md")
    js_path = os.path.join(os.path.dirname(build.rstrip("/")), "bench-results.json")
    with open(md_path, "w") as f:
        f.write("# roostd vs mosquitto\n\n" + table)
    with open(js_path, "w") as f:
        json.dump({
            "meta": dict(meta, quick=a.quick, duration=a.duration,
                         latency_duration=a.latency_duration, fanout_rate=a.fanout_rate,
                         storm_conns=a.storm_conns, idle_conns=a.idle_conns,
                         jitp_devices=a.jitp_devices,
                         mosquitto=mosquitto_version()),
            "loads": [{"key": l.key, "label": l.label, "kind": l.kind,
                       "summary": summary[l.key], "runs": results[l.key]} for l in loads],
        }, f, indent=1)
    log("wrote %s and %s" % (md_path, js_path))

    bad = any(s.get("failed") or (l.no_loss and s.get("lost"))
              for l in loads for s in summary[l.key].values())
    if failed_setup:
        return 1
    return 130 if interrupted else 1 if bad else 0


def mosquitto_version():
    try:
        out = subprocess.run([MOSQUITTO, "-h"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=10).stdout.decode(errors="replace")
        return out.splitlines()[0].strip() if out else None
    except (OSError, subprocess.SubprocessError):
        return None


def cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        sys.exit(main())
    finally:
        cleanup()
