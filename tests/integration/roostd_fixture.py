"""roostd_fixture - start a real roostd for the integration tests and give
the tests clients to drive it.

A Server owns one temporary work dir (data/ = the server's --data-dir,
certs/ = device certificates made here, roostd.log = its stderr) and one
server process at a time: start() waits for the `roostd ready` line with a
deadline (never a fixed sleep) and reads data/ports.json; stop() sends
SIGTERM and returns the exit code, which the test cases assert is 0 (a crash,
an ASan report or a leak makes the test fail); kill9() simulates a crash.
RoostCase is the unittest base class: one server per test class (tests use
unique topics and client ids from self.topic()/self.cid()), extra servers
per test through self.new_server(), and every client made through it is
closed at the end of the test.

Environment: ROOSTD = the server binary (else /work/main/build/*/roostd);
ROOST_TEST_BROKER=mosquitto runs the tests against Debian's mosquitto as a
stand-in (tests of roostd-only behaviour are skipped then); ROOST_VALGRIND=1
wraps roostd in valgrind; ROOST_GDB=1 runs it under gdb (a crash's backtrace
lands in the log); ROOST_TEST_KEEP=1 keeps the work dirs.
"""

import glob
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import paho.mqtt.client as paho  # noqa: E402  (Debian python3-paho-mqtt 1.6.1)
from paho.mqtt.properties import Properties  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402

import mqtt_raw  # noqa: E402

HOST = "127.0.0.1"
BROKER = os.environ.get("ROOST_TEST_BROKER", "roostd")
IS_MOSQUITTO = BROKER == "mosquitto"
VALGRIND = os.environ.get("ROOST_VALGRIND") == "1"
SLOW = 4 if VALGRIND else 1   # scales upper time bounds under valgrind
# Positive waits: generous, they only cost time when something is broken.
TIMEOUT = float(os.environ.get("ROOST_TEST_TIMEOUT", "10")) * SLOW
# Negative checks ("nothing else arrives") wait this long after a sentinel.
QUIET = float(os.environ.get("ROOST_TEST_QUIET", "0.5")) * SLOW
START_TIMEOUT = 30.0 * SLOW
STOP_TIMEOUT = 20.0 * SLOW

PORT_KINDS = ("mqtt", "mqtt_plain", "ws_plain", "https")


def roostd_only(why):
    """Skip a test that checks roostd's own choices when mosquitto stands in."""
    return unittest.skipIf(IS_MOSQUITTO, "roostd-specific: " + why)


def find_roostd():
    env = os.environ.get("ROOSTD")
    if env:
        return env
    found = sorted(glob.glob("/work/main/build/*/roostd"), key=os.path.getmtime)
    return found[-1] if found else None


def _tmp_root():
    build = os.environ.get("ROOST_BUILD_DIR")
    if build:
        root = os.path.join(build, "test-tmp")
        os.makedirs(root, exist_ok=True)
        return root
    return None


def free_port():
    """Only for the mosquitto stand-in, which cannot listen on port 0."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    """Run a helper command; raise with its output when it fails."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=60, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(cmd), r.returncode,
                                                      r.stdout.decode(errors="replace")))
    return r


# ---------------------------------------------------------------- PKI (openssl CLI)

def make_ca(directory, name):
    """A self-signed EC P-256 CA: returns (cert, key) paths."""
    os.makedirs(directory, exist_ok=True)
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    run(["openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", cert, "-days", "3", "-subj", "/CN=" + name,
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return cert, key


def make_leaf(directory, name, ca_cert, ca_key, server=False):
    """EC P-256 key + CSR signed by ca_key: returns (cert, key) paths."""
    os.makedirs(directory, exist_ok=True)
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    csr = os.path.join(directory, name + ".csr")
    ext = os.path.join(directory, name + ".ext")
    run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + name])
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        f.write("keyUsage=critical,digitalSignature\n")
        if server:
            f.write("extendedKeyUsage=serverAuth\n")
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        else:
            f.write("extendedKeyUsage=clientAuth\n")
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
         "-set_serial", "0x%x" % random.getrandbits(120), "-days", "2", "-sha256",
         "-extfile", ext, "-out", cert])
    return cert, key


# ---------------------------------------------------------------- server

class ServerError(AssertionError):
    pass


class Server:
    """One roostd (or mosquitto stand-in) on a private work dir."""

    # The broker tests (01-08) mint device certificates with openssl and do
    # not register them: they run with roostd's development setting. The
    # registry tests (10+) pass allow_unregistered_certs="false" and
    # register every certificate they use.
    BASE_CONFIG = {"allow_unregistered_certs": "true"}

    def __init__(self, config=None, name="roostd"):
        self.name = name
        self.config = dict(self.BASE_CONFIG if not IS_MOSQUITTO else {})
        self.config.update(config or {})
        self.work = tempfile.mkdtemp(prefix="roost-itest-", dir=_tmp_root())
        self.data_dir = os.path.join(self.work, "data")
        self.certs_dir = os.path.join(self.work, "certs")
        self.log_path = os.path.join(self.work, "roostd.log")
        os.makedirs(self.data_dir)
        os.makedirs(self.certs_dir)
        self.proc = None
        self.ports = {}
        self.host = HOST
        self.starts = 0
        self.stdout_lines = []
        self._ready = threading.Event()
        self._certs = {}
        self.binary = "/usr/sbin/mosquitto" if IS_MOSQUITTO else find_roostd()
        if not self.binary or not os.path.exists(self.binary):
            raise unittest.SkipTest("no roostd binary (set ROOSTD or build roostd)")

    # -- paths
    @property
    def pki(self):
        return os.path.join(self.data_dir, "pki")

    @property
    def ca_cert(self):
        return os.path.join(self.pki, "root-ca.pem")

    @property
    def ca_key(self):
        return os.path.join(self.pki, "root-ca.key")

    def port(self, kind="mqtt_plain"):
        return self.ports[kind]

    # -- life cycle
    def _write_config(self):
        if not self.config:
            return
        with open(os.path.join(self.data_dir, "roost.conf"), "w") as f:
            for k, v in self.config.items():
                f.write("%s = %s\n" % (k, v))

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        self.starts += 1
        self._ready.clear()
        self.stdout_lines = []
        with open(self.log_path, "ab") as log:
            log.write(("==== start #%d ====\n" % self.starts).encode())
        ports_json = os.path.join(self.data_dir, "ports.json")
        if os.path.exists(ports_json):
            os.unlink(ports_json)
        if IS_MOSQUITTO:
            args = self._mosquitto_setup()
        else:
            self._write_config()
            args = [self.binary, "--data-dir", self.data_dir, "--bind", HOST,
                    "--mqtt-port", "0", "--mqtt-plain-port", "0", "--ws-plain-port", "0",
                    "--https-port", "0", "--threads", "2", "--log-level", "debug"]
            if os.environ.get("ROOST_GDB") == "1":  # debugging aid: backtrace in the log
                args = ["gdb", "-q", "-batch", "-ex", "run", "-ex", "thread apply all bt",
                        "--args"] + args
            if VALGRIND:
                args = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                        "--errors-for-leak-kinds=definite"] + args
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log,
                                         stdin=subprocess.DEVNULL, cwd=self.work)
        finally:
            log.close()
        threading.Thread(target=self._read_stdout, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        if IS_MOSQUITTO:
            self._mosquitto_wait(deadline)
        else:
            while not self._ready.wait(0.05):
                if self.proc.poll() is not None:
                    self._fail("%s exited with %d before it was ready" % (self.name, self.proc.returncode))
                if time.monotonic() > deadline:
                    self._kill()
                    self._fail("%s not ready after %.0f s" % (self.name, START_TIMEOUT))
            try:
                with open(ports_json) as f:
                    self.ports = {k: int(v) for k, v in json.load(f).items()}
            except (OSError, ValueError) as e:
                self._kill()
                self._fail("bad or missing ports.json after ready: %r" % e)
            missing = [k for k in PORT_KINDS if not self.ports.get(k)]
            if missing:
                self._kill()
                self._fail("ports.json lacks %s: %r" % (missing, self.ports))
        return self

    def _read_stdout(self, proc):
        with open(os.path.join(self.work, "roostd.stdout"), "ab") as copy:
            for line in proc.stdout:
                copy.write(line)
                copy.flush()
                text = line.decode(errors="replace").rstrip("\n")
                self.stdout_lines.append(text)
                if text.startswith("roostd ready"):
                    self._ready.set()
        proc.stdout.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait: returns the exit code (killed with SIGKILL and
        reported as a failure if it does not exit in time)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                self._fail("%s did not exit within %.0f s of SIGTERM" % (self.name, timeout))
        return self.proc.returncode

    def stop_ok(self):
        """Stop and fail (with the log) unless the exit code is 0."""
        rc = self.stop()
        if rc != 0:
            self._fail("%s exited with %d after SIGTERM (crash, sanitizer report or leak)"
                       % (self.name, rc))

    def kill9(self):
        """Simulate a crash: SIGKILL, no chance to flush anything."""
        self._kill()

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self):
        self.stop_ok()
        return self.start()

    def healthy(self, grace=2.0):
        """Alive and accepting connections.  A server that refuses them is
        given `grace` seconds to finish dying (a crash takes a moment)."""
        if self.alive():
            try:
                socket.create_connection((self.host, self.ports["mqtt_plain"]), 2).close()
                return True
            except OSError:
                try:
                    self.proc.wait(grace)
                except subprocess.TimeoutExpired:
                    pass
        return False

    def check_alive(self):
        if not self.healthy():
            rc = self.proc.returncode if self.proc else None
            self._fail("%s died during the test (exit %r)" % (self.name, rc))

    def log_tail(self, lines=150):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace").splitlines()
        except OSError:
            text = []
        out = "\n".join(text[-lines:])
        if self.stdout_lines:
            out += "\n---- stdout ----\n" + "\n".join(self.stdout_lines[-60:])
        return out

    def _fail(self, msg):
        raise ServerError("%s\n---- %s log (%s) ----\n%s" % (msg, self.name, self.log_path,
                                                           self.log_tail()))

    def cleanup(self):
        self._kill()
        if os.environ.get("ROOST_TEST_KEEP") != "1":
            shutil.rmtree(self.work, ignore_errors=True)

    # -- mosquitto stand-in
    def _mosquitto_setup(self):
        if not os.path.exists(self.ca_cert):
            make_ca(self.pki, "root-ca")
            make_leaf(self.pki, "server", self.ca_cert, self.ca_key, server=True)
        self.ports = {k: free_port() for k in PORT_KINDS}
        c = self.config
        max_packet = int(c.get("max_payload", 131072)) + 1024
        conf = os.path.join(self.work, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("per_listener_settings false\nallow_anonymous true\n")
            if os.geteuid() == 0:
                f.write("user root\n")  # else it drops to 'mosquitto' and cannot read our files
            f.write("persistence true\npersistence_location %s/\n" % self.data_dir)
            f.write("log_dest stderr\nlog_type all\n")
            f.write("max_packet_size %d\n" % max_packet)
            f.write("max_queued_messages %s\n" % c.get("max_queued", 1000))
            f.write("max_inflight_messages %s\n" % c.get("max_inflight", 100))
            f.write("listener %d %s\n" % (self.ports["mqtt_plain"], HOST))
            f.write("listener %d %s\n" % (self.ports["mqtt"], HOST))
            f.write("cafile %s\ncertfile %s/server.pem\nkeyfile %s/server.key\n"
                    % (self.ca_cert, self.pki, self.pki))
            f.write("require_certificate true\n")
            f.write("listener %d %s\nprotocol websockets\n" % (self.ports["ws_plain"], HOST))
            # No HTTPS in mosquitto: a second plain TLS listener keeps the port real.
            f.write("listener %d %s\n" % (self.ports["https"], HOST))
            f.write("certfile %s/server.pem\nkeyfile %s/server.key\n" % (self.pki, self.pki))
        with open(os.path.join(self.data_dir, "ports.json"), "w") as f:
            json.dump(self.ports, f)
        return [self.binary, "-c", conf]

    def _mosquitto_wait(self, deadline):
        pending = set(self.ports.values())
        while pending:
            if self.proc.poll() is not None:
                self._fail("mosquitto exited with %d" % self.proc.returncode)
            if time.monotonic() > deadline:
                self._kill()
                self._fail("mosquitto ports %s not open" % pending)
            for p in list(pending):
                try:
                    socket.create_connection((HOST, p), timeout=0.5).close()
                    pending.discard(p)
                except OSError:
                    pass
            if pending:
                time.sleep(0.05)

    # -- certificates and TLS
    def device_cert(self, name="dev"):
        """A device certificate signed by the server's root CA: (cert, key)."""
        if name not in self._certs:
            self._certs[name] = make_leaf(self.certs_dir, name, self.ca_cert, self.ca_key)
        return self._certs[name]

    def foreign_cert(self, name="foreign-dev"):
        """A device certificate from a CA the server has never seen: (cert, key)."""
        if name not in self._certs:
            ca_cert, ca_key = make_ca(os.path.join(self.certs_dir, "foreign-ca"), "foreign-ca")
            self._certs[name] = make_leaf(self.certs_dir, name, ca_cert, ca_key)
        return self._certs[name]

    def ssl_context(self, cert=None, key=None):
        ctx = ssl.create_default_context(cafile=self.ca_cert)
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx

    # -- clients
    def raw(self, kind="mqtt_plain", version=4, cert=None, ws_subprotocols=("mqtt",)):
        """A RawClient (not yet connected at the MQTT level) on a listener.
        kind 'mqtt' uses TLS with cert (a (cert, key) pair; default: a fresh
        device certificate); 'ws_plain' does the WebSocket upgrade first."""
        if kind == "mqtt":
            cert = cert or self.device_cert()
            ctx = self.ssl_context(*cert)
            return mqtt_raw.RawClient(self.host, self.ports[kind], version, TIMEOUT,
                                      ssl_context=ctx, server_hostname="localhost")
        if kind == "ws_plain":
            sock = socket.create_connection((self.host, self.ports[kind]), timeout=TIMEOUT)
            status, headers, left = mqtt_raw.ws_handshake(sock, self.host, self.ports[kind],
                                                          subprotocols=ws_subprotocols)
            if status != 101:
                sock.close()
                raise ServerError("WebSocket upgrade answered %d: %r" % (status, headers))
            return mqtt_raw.RawClient(None, None, version, TIMEOUT,
                                      sock=mqtt_raw.WebSocketStream(sock, left))
        return mqtt_raw.RawClient(self.host, self.ports[kind], version, TIMEOUT)

    def paho(self, client_id, version=4, **kw):
        return PahoClient(self, client_id, version, **kw)


# ---------------------------------------------------------------- paho wrapper

class PahoClient:
    """paho-mqtt driven by our own loop thread (no automatic reconnect, which
    would fight takeover tests).  Received messages collect in a list that
    tests take from with predicates and deadlines."""

    def __init__(self, server, client_id, version=4, kind="mqtt_plain", cert=None,
                 clean_session=True, ws_path="/mqtt"):
        self.server = server
        self.version = version
        self.kind = kind
        self.client_id = client_id
        transport = "websockets" if kind == "ws_plain" else "tcp"
        if version == 5:
            self.c = paho.Client(client_id, protocol=paho.MQTTv5, transport=transport)
        else:
            self.c = paho.Client(client_id, clean_session=clean_session,
                                 protocol=paho.MQTTv311, transport=transport)
        if transport == "websockets":
            self.c.ws_set_options(path=ws_path)
        if kind == "mqtt":
            cert = cert or server.device_cert()
            # Verifies the server certificate and its IP SAN (we dial 127.0.0.1).
            self.c.tls_set_context(server.ssl_context(*cert))
        self.msgs = []
        self.cond = threading.Condition()
        self.connack = None           # (flags dict, rc, properties)
        self.disconnected = None      # (rc, properties) once the connection is gone
        self.subacks = {}
        self._connected = threading.Event()
        self._gone = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_unsubscribe = self._on_unsubscribe

    # -- callbacks (loop thread)
    def _on_connect(self, c, ud, flags, rc, props=None):
        self.connack = (flags, rc, props)
        self._connected.set()

    def _on_disconnect(self, c, ud, rc, props=None):
        self.disconnected = (rc, props)
        self._gone.set()
        with self.cond:
            self.cond.notify_all()

    def _on_message(self, c, ud, msg):
        with self.cond:
            self.msgs.append(msg)
            self.cond.notify_all()

    def _on_subscribe(self, c, ud, mid, granted, props=None):
        with self.cond:
            self.subacks[mid] = granted
            self.cond.notify_all()

    def _on_unsubscribe(self, c, ud, mid, props=None, rcs=None):
        with self.cond:
            self.subacks[mid] = rcs
            self.cond.notify_all()

    def _loop(self):
        while not self._stop.is_set():
            rc = self.c.loop(timeout=0.05)
            if rc != paho.MQTT_ERR_SUCCESS:
                if not self._gone.is_set():
                    self._on_disconnect(self.c, None, rc)
                break

    # -- connection
    def connect(self, keepalive=60, clean_start=True, properties=None, will=None,
                expect_rc=0, timeout=TIMEOUT):
        """Connect and wait for CONNACK; asserts its return/reason code is
        expect_rc (None: no check).  will = dict(topic, payload, qos, retain,
        properties).  properties: a dict of CONNECT properties (v5)."""
        if will:
            self.c.will_set(will["topic"], will.get("payload"), will.get("qos", 0),
                            will.get("retain", False), props_obj(PacketTypes.WILLMESSAGE,
                                                                 will.get("properties")))
        port = self.server.ports[self.kind]
        if self.version == 5:
            self.c.connect(self.server.host, port, keepalive, clean_start=clean_start,
                           properties=props_obj(PacketTypes.CONNECT, properties))
        else:
            self.c.connect(self.server.host, port, keepalive)
        self._connected.clear()
        self._gone.clear()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        # paho writes straight from the calling thread unless it believes a
        # loop thread exists; two writers corrupt its WebSocket framing.
        self.c._thread = self._thread
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._connected.wait(0.02):
            if self._gone.is_set() or time.monotonic() > deadline:
                raise AssertionError("%s: no CONNACK (disconnected=%r)" % (self.client_id,
                                                                         self.disconnected))
        rc = self.connack[1]
        if expect_rc is not None and int(getattr(rc, "value", rc)) != expect_rc:
            raise AssertionError("%s: CONNACK %r, expected %d" % (self.client_id, rc, expect_rc))
        return self.connack

    @property
    def session_present(self):
        return bool(self.connack[0].get("session present"))

    def subscribe(self, topic, qos=0, options=None, properties=None, timeout=TIMEOUT):
        """Subscribe and wait for SUBACK; returns the granted list (ints for
        3.1.1, ReasonCodes for 5)."""
        if options is not None:
            rc, mid = self.c.subscribe(topic, options=options,
                                       properties=props_obj(PacketTypes.SUBSCRIBE, properties))
        elif self.version == 5:
            rc, mid = self.c.subscribe(topic, qos,
                                       properties=props_obj(PacketTypes.SUBSCRIBE, properties))
        else:
            rc, mid = self.c.subscribe(topic, qos)
        if rc != paho.MQTT_ERR_SUCCESS:
            raise AssertionError("subscribe failed locally: %d" % rc)
        with self.cond:
            if not self.cond.wait_for(lambda: mid in self.subacks or self._gone.is_set(),
                                      timeout) or mid not in self.subacks:
                raise AssertionError("%s: no SUBACK for %r (disconnected=%r)"
                                     % (self.client_id, topic, self.disconnected))
            return self.subacks.pop(mid)

    def unsubscribe(self, topic, timeout=TIMEOUT):
        rc, mid = self.c.unsubscribe(topic)
        with self.cond:
            if not self.cond.wait_for(lambda: mid in self.subacks or self._gone.is_set(),
                                      timeout) or mid not in self.subacks:
                raise AssertionError("%s: no UNSUBACK for %r (disconnected=%r)"
                                     % (self.client_id, topic, self.disconnected))
            return self.subacks.pop(mid)

    def publish(self, topic, payload=b"", qos=0, retain=False, properties=None, wait=True,
                timeout=TIMEOUT):
        """Publish; with wait, until PUBACK/PUBCOMP (QoS 1/2) or written (QoS 0)."""
        info = self.c.publish(topic, payload, qos, retain,
                              props_obj(PacketTypes.PUBLISH, properties))
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise AssertionError("%s: publish failed locally: rc %d" % (self.client_id, info.rc))
        if wait:
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise AssertionError("%s: publish to %r not acknowledged in time"
                                     % (self.client_id, topic))
        return info

    def disconnect(self, reason=None, properties=None, timeout=TIMEOUT):
        """Graceful DISCONNECT (v5: with an optional reason code)."""
        if self._thread is None:
            return
        if reason is not None:
            from paho.mqtt.reasoncodes import ReasonCodes
            self.c.disconnect(ReasonCodes(PacketTypes.DISCONNECT, identifier=reason),
                              props_obj(PacketTypes.DISCONNECT, properties))
        else:
            self.c.disconnect()
        self._gone.wait(timeout)
        self._finish()

    def drop(self):
        """Ungraceful: close the socket without DISCONNECT (the will fires)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(TIMEOUT)
        sock = self.c.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._finish()

    def _finish(self):
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(TIMEOUT)
        self._thread = None

    def wait_disconnected(self, timeout=TIMEOUT):
        """Wait until the server closes the connection: returns (rc, props)
        or raises AssertionError."""
        if not self._gone.wait(timeout):
            raise AssertionError("%s: still connected after %.1f s" % (self.client_id, timeout))
        return self.disconnected

    def close(self):
        if self._thread is not None:
            try:
                self.c.disconnect()
            except Exception:
                pass
            self._gone.wait(2)
            self._finish()

    # -- received messages
    def take(self, pred=None, timeout=TIMEOUT):
        """Remove and return the first received message matching pred (or
        any message); None when nothing matched before the deadline."""
        pred = pred or (lambda m: True)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, m in enumerate(self.msgs):
                    if pred(m):
                        return self.msgs.pop(i)
                left = deadline - time.monotonic()
                if left <= 0 or self._gone.is_set():
                    return None  # nothing more can arrive on a closed connection
                self.cond.wait(left)

    def get(self, topic=None, timeout=TIMEOUT):
        """The first message (on topic, if given); AssertionError if none."""
        m = self.take((lambda m: m.topic == topic) if topic else None, timeout)
        if m is None:
            with self.cond:
                have = [(x.topic, x.payload[:30]) for x in self.msgs]
            raise AssertionError("%s: no message%s within %.1f s; have %r"
                                 % (self.client_id, " on " + topic if topic else "", timeout, have))
        return m

    def get_n(self, n, topic=None, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            m = self.take((lambda m: m.topic == topic) if topic else None,
                          max(0.0, deadline - time.monotonic()))
            if m is None:
                raise AssertionError("%s: got %d of %d messages in %.1f s: %r"
                                     % (self.client_id, len(out), n, timeout,
                                        [x.payload[:20] for x in out]))
            out.append(m)
        return out

    def none(self, pred=None, quiet=QUIET):
        """True if no message (matching pred) arrives within the quiet window;
        the matching message is left in place for the failure message."""
        pred = pred or (lambda m: True)
        deadline = time.monotonic() + quiet
        with self.cond:
            while True:
                if any(pred(m) for m in self.msgs):
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return True
                self.cond.wait(left)

    def pending(self):
        with self.cond:
            return list(self.msgs)


def props_obj(ptype, d):
    """A paho Properties object from a dict (None stays None).  Values are
    given as paho expects them: UserProperty as a list of (key, value)."""
    if not d:
        return None
    p = Properties(ptype)
    for k, v in d.items():
        setattr(p, k, v)
    return p


def prop(msg_or_props, name, default=None):
    """A property from a paho message (or Properties), default if absent."""
    p = getattr(msg_or_props, "properties", msg_or_props)
    if p is None:
        return default
    return getattr(p, name, default)


# ---------------------------------------------------------------- test case

class RoostCase(unittest.TestCase):
    """Base class: one server per test class (CONFIG = its roost.conf keys),
    unique names per test, clients closed and the server's health checked
    after every test, exit code 0 asserted when the class is done."""

    CONFIG = None
    CLASS_SERVER = True   # False: tests make their own with new_server()
    server = None

    @classmethod
    def setUpClass(cls):
        if not cls.CLASS_SERVER:
            return
        cls.server = Server(cls.CONFIG, name="roostd")
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        srv, cls.server = cls.server, None
        if srv is None:
            return
        try:
            srv.stop_ok()
        finally:
            srv.cleanup()

    def setUp(self):
        self._clients = []
        self._uid = uuid.uuid4().hex[:8]
        cls = type(self)
        if cls.server is not None and not cls.server.healthy():
            # It died in an earlier test, which has reported it; give the
            # remaining tests a fresh server rather than a cascade of failures.
            dead, cls.server = cls.server, None
            dead.cleanup()
            cls.server = Server(cls.CONFIG, name="roostd")
            cls.server.start()

    def tearDown(self):
        for c in reversed(self._clients):
            try:
                c.close()
            except Exception:
                pass
        if self.server is not None and self.server.proc is not None:
            self.server.check_alive()

    # -- names
    def topic(self, suffix=""):
        base = "itest/%s/%s" % (self._testMethodName, self._uid)
        return base + ("/" + suffix if suffix else "")

    def cid(self, role="c"):
        return "%s-%s" % (role, self._uid)

    # -- servers and clients
    def new_server(self, config=None):
        """An extra server for this test only; stopped (exit 0 asserted)
        and removed when the test ends."""
        srv = Server(config)
        self.addCleanup(srv.cleanup)
        self.addCleanup(self._stop_server, srv)
        srv.start()
        return srv

    def _stop_server(self, srv):
        for c in reversed(self._clients):
            if getattr(c, "server", None) is srv or getattr(c, "_server", None) is srv:
                try:
                    c.close()
                except Exception:
                    pass
        if srv.proc is not None and srv.proc.poll() is not None and srv.proc.returncode == -9:
            return  # left killed by the test itself
        srv.stop_ok()

    def paho(self, client_id=None, version=4, server=None, connect=True, **kw):
        """A PahoClient; connected (clean) unless connect=False.  Connect
        options (keepalive, clean_start, properties, will, expect_rc) go
        to connect(); the rest to the constructor."""
        srv = server or self.server
        ckw = {k: kw.pop(k) for k in ("keepalive", "clean_start", "properties", "will",
                                      "expect_rc") if k in kw}
        c = PahoClient(srv, client_id or self.cid("p%d" % len(self._clients)), version, **kw)
        self._clients.append(c)
        if connect:
            c.connect(**ckw)
        return c

    def raw(self, version=4, server=None, kind="mqtt_plain", connect=True, client_id=None,
            expect_rc=0, **kw):
        """A RawClient; MQTT-connected (and CONNACK rc checked) unless connect=False."""
        srv = server or self.server
        r = srv.raw(kind, version)
        r._server = srv
        self._clients.append(r)
        if connect:
            ack = r.connect(client_id if client_id is not None else
                            self.cid("r%d" % len(self._clients)), **kw)
            if expect_rc is not None:
                self.assertEqual(ack.rc, expect_rc, "CONNACK: %r" % ack)
        return r

    def sync(self, receiver, sender=None, topic=None, qos=1):
        """Sentinel round trip: receiver subscribes to a fresh topic, sender
        (default: a new client) publishes to it, wait until it arrives.
        Messages published to receiver before this have had their chance."""
        topic = topic or self.topic("sentinel/" + uuid.uuid4().hex[:6])
        receiver.subscribe(topic, qos)
        srv = getattr(receiver, "server", None) or getattr(receiver, "_server", None)
        sender = sender or self.paho(version=4, server=srv)
        sender.publish(topic, b"sentinel", qos)
        if isinstance(receiver, PahoClient):
            receiver.get(topic)
        else:
            p = receiver.wait_for(lambda p: p.type == mqtt_raw.PUBLISH and p.topic == topic,
                                  TIMEOUT, "sentinel")
            receiver.ack_publish(p)

    def wait_until(self, pred, timeout=TIMEOUT, what="condition"):
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                self.fail("timed out after %.1f s waiting for %s" % (timeout, what))
            time.sleep(0.02)

    def assertNoMessages(self, pairs, quiet=QUIET):
        """assertNoMessage for several (client, pred) pairs in one quiet window."""
        deadline = time.monotonic() + quiet
        for client, pred in pairs:
            self.assertNoMessage(client, pred, max(0.0, deadline - time.monotonic()))

    def assertNoMessage(self, client, pred=None, quiet=QUIET, msg=""):
        if not client.none(pred, quiet):
            self.fail("unexpected message for %s: %r %s" % (
                client.client_id, [(m.topic, m.payload[:40], m.retain) for m in client.pending()],
                msg))

