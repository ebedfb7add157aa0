"""registry_util - shared helpers for the registry tests (test_12 things,
test_13 certificates and policies, test_14 device binding): a base case
whose server binds devices to registered certificates
(allow_unregistered_certs=false), assertions on AWS error shapes as botocore
and the aws CLI see them, certificates made with the openssl CLI (CSRs,
explicit validity periods through `openssl ca`, CA verification
certificates), and TLS probes that tell which alert a refused client
certificate got, through python's ssl and through `openssl s_client`.

The API helpers themselves (boto3 client, aws CLI runner, SigV4-signed raw
requests) are api_client's; this file only builds on them.
"""

import datetime
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import time
import unittest

import api_client as api
import mqtt_raw
from roostd_fixture import HOST, IS_MOSQUITTO, RoostCase, SLOW, TIMEOUT, make_ca, run

STRICT = {"allow_unregistered_certs": "false"}

# The TLS alerts a refused device certificate can get, as OpenSSL names them.
ALERTS = ("certificate revoked", "certificate expired", "unknown ca", "bad certificate",
          "certificate unknown", "handshake failure", "certificate required",
          "access denied", "decrypt error", "unsupported certificate")
_ALERT_RE = re.compile(r"alert (%s)" % "|".join(ALERTS))


# ---------------------------------------------------------------- PKI (openssl CLI)

def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def pem_der(pem_text):
    """DER bytes of the first certificate of a PEM text."""
    return ssl.PEM_cert_to_DER_cert(pem_text[:pem_text.index("-----END CERTIFICATE-----") + 25])


def cert_id(pem_text):
    """AWS's certificateId: SHA-256 of the DER, lowercase hex."""
    return hashlib.sha256(pem_der(pem_text)).hexdigest()


def public_key_of(path, kind="x509"):
    """The public key (PEM) of a certificate, CSR or private key file."""
    if kind == "x509":
        cmd = ["openssl", "x509", "-in", path, "-noout", "-pubkey"]
    elif kind == "req":
        cmd = ["openssl", "req", "-in", path, "-noout", "-pubkey"]
    else:
        cmd = ["openssl", "pkey", "-in", path, "-pubout"]
    return run(cmd).stdout.decode()


def make_csr(directory, name, cn=None, rsa=False):
    """A fresh key and a CSR for it: (csr, key) paths."""
    os.makedirs(directory, exist_ok=True)
    key, csr = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".csr")
    newkey = ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt",
                                                   "ec_paramgen_curve:P-256"]
    run(["openssl", "req", "-new"] + newkey + ["-nodes", "-keyout", key, "-out", csr,
                                              "-subj", "/CN=" + (cn or name)])
    return csr, key


_CA_CONF = """[ca]
default_ca = roost_test
[roost_test]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any_cn
unique_subject = no
copy_extensions = none
[any_cn]
commonName = supplied
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[verif]
basicConstraints = CA:FALSE
"""


def _asn1_time(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ")


def sign_csr(csr, ca_cert, ca_key, out, not_before=None, not_after=None, ext="client"):
    """Sign csr with the CA through `openssl ca`, which (unlike x509 -req in
    OpenSSL 3.0) takes explicit validity dates, so a certificate can be made
    already expired or expiring in a few seconds. Dates are aware datetimes;
    the default is valid from a minute ago for two days."""
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = not_before or now - datetime.timedelta(minutes=1)
    not_after = not_after or now + datetime.timedelta(days=2)
    work = out + ".ca"
    os.makedirs(work, exist_ok=True)
    write(os.path.join(work, "index.txt"), "")
    write(os.path.join(work, "serial"), "%032x\n" % int.from_bytes(os.urandom(15), "big"))
    conf = write(os.path.join(work, "ca.conf"), _CA_CONF.format(dir=work))
    run(["openssl", "ca", "-batch", "-notext", "-config", conf, "-cert", ca_cert,
         "-keyfile", ca_key, "-in", csr, "-out", out, "-extensions", ext,
         "-startdate", _asn1_time(not_before), "-enddate", _asn1_time(not_after)])
    return out


def make_cert(directory, name, ca_cert, ca_key, not_before=None, not_after=None, cn=None):
    """A device key and certificate signed by the CA: (cert, key) paths."""
    csr, key = make_csr(directory, name, cn)
    cert = sign_csr(csr, ca_cert, ca_key, os.path.join(directory, name + ".pem"),
                    not_before, not_after)
    return cert, key


def make_verification_cert(directory, name, ca_cert, ca_key, code):
    """The proof of possession RegisterCACertificate asks for: a certificate
    whose CN is the registration code, signed by the CA's key."""
    csr, key = make_csr(directory, name, cn=code)
    return sign_csr(csr, ca_cert, ca_key, os.path.join(directory, name + ".pem"), ext="verif")


def new_ca(directory, name):
    """A self-signed EC CA made by the openssl CLI: (cert, key) paths."""
    return make_ca(directory, name)


# ---------------------------------------------------------------- TLS probes

def alert_name(text):
    """The TLS alert named in an ssl error or s_client output, else None."""
    m = _ALERT_RE.search(text.lower().replace("_", " "))
    return m.group(1) if m else None



# The binding tests are about which certificates may connect, not about
# policies: every certificate they connect with gets an allow-all policy
# first (roostd, like AWS, refuses a certificate with no policy at CONNECT).
ALLOW_ALL_POLICY = "itest-allow-all"
ALLOW_ALL_DOC = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})


def allow_everything(server, cert):
    """Attaches the allow-all policy to `cert` (a PEM file) when it is
    registered; certificates the server does not know are left alone."""
    if not cert:
        return
    iot = api.iot_client(server)
    try:
        try:
            iot.create_policy(policyName=ALLOW_ALL_POLICY, policyDocument=ALLOW_ALL_DOC)
        except iot.exceptions.ResourceAlreadyExistsException:
            pass
        arn = "arn:aws:iot:us-east-1:123456789012:cert/" + cert_id(read(cert))
        try:
            iot.attach_policy(policyName=ALLOW_ALL_POLICY, target=arn)
        except iot.exceptions.ResourceNotFoundException:
            pass
    finally:
        iot.close()

def mqtt_attempt(server, cert, key, kind="mqtt", alpn=None, client_id="probe",
                 refusal_expected=False, timeout=TIMEOUT, allow=True):
    """Connect with a client certificate (None: without one) and send
    CONNECT (MQTT 3.1.1). Returns ("ok", CONNACK rc) when a CONNACK came,
    else ("refused", text) where text is the ssl error naming the alert, or
    a note that the connection closed without one.

    In TLS 1.3 the client's handshake is done before the server has judged
    its certificate: the alert comes after, and the client learns of it on
    its first read. Data the client sends meanwhile may still sit unread in
    the server's socket when it closes, which turns the close into a reset
    that can discard the alert before we read it. So with refusal_expected
    the client first waits for the server's verdict (the alert, or silence
    until `timeout` if the certificate is accepted after all) and sends
    CONNECT only then; without it, CONNECT goes at once (the fast path for
    certificates that should connect)."""
    if allow:  # the policy tests pass False: they bring their own policies
        allow_everything(server, cert)
    ctx = ssl.create_default_context(cafile=server.ca_cert)
    if cert:
        ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols([alpn])
    sock = socket.create_connection((HOST, server.port(kind)), timeout=timeout)
    try:
        try:
            tls = ctx.wrap_socket(sock, server_hostname="localhost")
        except ssl.SSLError as e:
            return "refused", str(e)
        sock = tls
        deadline = time.monotonic() + timeout
        data = b""
        try:
            if refusal_expected:
                try:
                    tls.settimeout(timeout)
                    data = tls.recv(16)
                    if not data:
                        return "refused", "closed without an alert"
                except socket.timeout:
                    pass  # nothing from the server: it waits for CONNECT
            tls.sendall(mqtt_raw.connect(client_id))
            while len(data) < 4:
                tls.settimeout(max(0.05, deadline - time.monotonic()))
                chunk = tls.recv(16)
                if not chunk:
                    return "refused", "closed without an alert after %r" % data
                data += chunk
        except ssl.SSLError as e:
            return "refused", str(e)
        except socket.timeout:
            return "refused", "no answer to CONNECT within %.1f s" % timeout
        except (ConnectionError, OSError) as e:
            return "refused", "connection error without an alert: %r" % e
        if data[0] == 0x20:
            return "ok", data[3]
        return "refused", "not a CONNACK: %r" % data
    finally:
        sock.close()


def s_client(server, cert, key, kind="mqtt", alpn=None):
    """openssl s_client with the certificate; -ign_eof keeps it reading after
    the handshake so that a TLS 1.3 alert sent after the client's Finished is
    seen. Only for certificates that are refused (an accepted one would sit
    until the server's connect timeout). Returns (exit code, output)."""
    cmd = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, server.port(kind)),
           "-CAfile", server.ca_cert, "-servername", "localhost", "-ign_eof",
           "-cert", cert, "-key", key]
    if alpn:
        cmd += ["-alpn", alpn]
    r = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT + 5, stdin=subprocess.DEVNULL)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


def mosquitto_pub(server, cert, key, topic, message, kind="mqtt", alpn=None, client_id=None):
    allow_everything(server, cert)
    cmd = ["mosquitto_pub", "-h", "localhost", "-p", str(server.port(kind)), "-V", "mqttv311",
           "--cafile", server.ca_cert, "--cert", cert, "--key", key, "-t", topic, "-m", message,
           "-q", "1"]
    if alpn:
        cmd += ["--tls-alpn", alpn]
    if client_id:
        cmd += ["-i", client_id]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT + 5,
                          stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------- the base case

@unittest.skipIf(IS_MOSQUITTO, "roostd's registry")
class RegistryCase(RoostCase):
    """A roostd that binds devices to registered certificates. Gives each
    test unique resource names, a boto3 client, the aws CLI, and error
    assertions that check botocore's error code and the HTTP status."""

    CONFIG = STRICT

    @classmethod
    def setUpClass(cls):
        api.need_boto3()
        if not os.path.exists(api.AWS_CLI):
            raise unittest.SkipTest("no aws CLI at " + api.AWS_CLI)
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self._iot = None
        self._n = 0

    # -- names and files
    def name(self, what="r"):
        """A unique resource name: [a-zA-Z0-9_-], fits every AWS name pattern."""
        self._n += 1
        return "%s-%s-%d" % (what, self._uid, self._n)

    @property
    def tmp(self):
        d = os.path.join(self.server.work, "t-" + self._uid)
        os.makedirs(d, exist_ok=True)
        return d

    # -- clients
    @property
    def iot(self):
        if self._iot is None:
            self._iot = api.iot_client(self.server)
            self.addCleanup(self._iot.close)
        return self._iot

    def cli(self, *args):
        """Run `aws ...` and return its JSON output ({} when it prints none);
        fails the test with stderr when the CLI fails."""
        r = api.aws_cli(self.server, *args)
        if r.returncode != 0:
            self.fail("aws %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
        return json.loads(r.stdout) if r.stdout.strip() else {}

    def cli_error(self, code, *args):
        """Run `aws ...`, expect it to fail with the AWS error `code`; returns stderr."""
        r = api.aws_cli(self.server, *args)
        self.assertNotEqual(r.returncode, 0, "aws %s succeeded: %s" % (" ".join(args), r.stdout))
        self.assertIn("An error occurred (%s)" % code, r.stderr)
        return r.stderr

    def cli_all(self, key, *args, max_items=2, max_calls=50):
        """Run a listing CLI command page by page with --max-items and
        --starting-token (the CLI's own pagination) and return every item
        under `key`. The CLI's --page-size is no help for the marker/pageSize
        operations (ListCertificates, ListPolicies): their own pageSize
        parameter takes the name, which turns the CLI's paging off."""
        items, token = [], None
        for _ in range(max_calls):
            extra = ["--max-items", str(max_items)]
            if token:
                extra += ["--starting-token", token]
            out = self.cli(*(list(args) + extra))
            self.assertLessEqual(len(out[key]), max_items, out)
            items += out[key]
            token = out.get("NextToken")
            if not token:
                return items
        self.fail("aws %s: still paging after %d calls" % (" ".join(args), max_calls))

    # -- assertions
    def assertApiError(self, code, status, fn, /, *args, **kwargs):
        """fn(*args, **kwargs) must raise botocore's ClientError with this
        error code and HTTP status; returns the parsed error response (the
        error shape's extra members, e.g. resourceId, are top level in it)."""
        try:
            fn(*args, **kwargs)
        except api.botocore.exceptions.ClientError as e:
            got_code, got_status, msg, md = api.client_error(e)
            self.assertEqual((got_code, got_status), (code, status),
                             "%s: %r" % (getattr(fn, "__name__", fn), e.response))
            self.assertEqual(md.get("HTTPHeaders", {}).get("x-amzn-errortype"), code,
                             e.response)
            self.assertTrue(msg, "empty error message: %r" % e.response)
            return e.response
        self.fail("%s did not fail (expected %s %d)" % (getattr(fn, "__name__", fn), code, status))

    def assertRawError(self, r, code, status):
        """A raw api_client.Response carries AWS's error shape."""
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers.get("x-amzn-errortype"), code, r)
        self.assertEqual(r.headers.get("content-type"), "application/json", r)
        body = r.json()
        self.assertEqual(body.get("__type"), code, r)
        self.assertIsInstance(body.get("message"), str, r)
        self.assertTrue(body["message"], r)
        return body

    def wait_for(self, pred, timeout=TIMEOUT, what="condition"):
        """Poll pred() until it is true; returns its value, fails at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            v = pred()
            if v:
                return v
            if time.monotonic() > deadline:
                self.fail("timed out after %.1f s waiting for %s" % (timeout, what))
            time.sleep(0.02)

    # -- certificates registered with the server
    def registered_cert(self, status="ACTIVE", name=None, allow=True):
        """A device certificate signed by Roost's CA and registered
        (RegisterCertificate with Roost's CA): (cert, key, certificateId, arn)."""
        name = name or self.name("dev")
        cert, key = make_cert(self.tmp, name, self.server.ca_cert, self.server.ca_key)
        r = self.iot.register_certificate(certificatePem=read(cert),
                                          caCertificatePem=read(self.server.ca_cert),
                                          status=status)
        if allow:
            allow_everything(self.server, cert)
        return cert, key, r["certificateId"], r["certificateArn"]

    def status_of(self, cid):
        return self.iot.describe_certificate(certificateId=cid)["certificateDescription"]["status"]


__all__ = ["STRICT", "RegistryCase", "SLOW", "TIMEOUT", "HOST", "alert_name", "cert_id",
           "make_cert", "make_csr", "make_verification_cert", "mosquitto_pub", "mqtt_attempt",
           "new_ca", "public_key_of", "read", "s_client", "sign_csr", "write"]
