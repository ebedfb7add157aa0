"""api_client - helpers for the HTTPS API tests: the admin credentials a
roostd made in its data dir, boto3 clients and the aws CLI pointed at it,
requests signed with botocore's own SigV4 signer sent over a plain
http.client connection (so a test controls every byte and sees every
header), presigned /mqtt URLs, and a raw TLS socket for what no client
library will send (pipelining, Expect: 100-continue, broken HTTP).

Everything here uses Debian's python3-boto3/botocore (1.26/1.29) and the
aws CLI at /usr/bin/aws; nothing talks to AWS.
"""

import configparser
import datetime
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import unittest
from unittest import mock

sys.path.insert(0, "/usr/lib/python3/dist-packages")
try:
    import boto3  # noqa: E402
    import botocore  # noqa: E402
    import botocore.auth  # noqa: E402
    import botocore.awsrequest  # noqa: E402
    import botocore.config  # noqa: E402
    import botocore.credentials  # noqa: E402
    import botocore.exceptions  # noqa: E402
except ImportError:  # pragma: no cover - the suite skips without them
    boto3 = None

from roostd_fixture import TIMEOUT  # noqa: E402

REGION = "us-east-1"
AWS_CLI = "/usr/bin/aws"


def need_boto3():
    if boto3 is None:
        raise unittest.SkipTest("python3-boto3 is not installed")


# ---------------------------------------------------------------- credentials

def credentials_path(server):
    return os.path.join(server.data_dir, "admin.credentials")


def admin_keys(server, profile="default"):
    """(access key id, secret) of a profile of the server's credentials file."""
    cp = configparser.RawConfigParser()
    with open(credentials_path(server)) as f:
        cp.read_file(f)
    return cp.get(profile, "aws_access_key_id"), cp.get(profile, "aws_secret_access_key")


def endpoint(server):
    """The HTTPS endpoint by name (the server certificate names localhost)."""
    return "https://localhost:%d" % server.port("https")


# ---------------------------------------------------------------- boto3 and the CLI

def iot_client(server, keys=None, **config):
    """A boto3 'iot' client for the server; keys = (akid, secret), default the
    admin pair. Retries are off so that errors come back as they are."""
    need_boto3()
    akid, secret = keys or admin_keys(server)
    cfg = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=TIMEOUT,
                                 read_timeout=TIMEOUT, **config)
    return boto3.client("iot", endpoint_url=endpoint(server), region_name=REGION,
                        aws_access_key_id=akid, aws_secret_access_key=secret,
                        verify=server.ca_cert, config=cfg)


def aws_cli(server, *args, creds_file=None):
    """Run the aws CLI against the server; returns CompletedProcess (text)."""
    if not os.path.exists(AWS_CLI):
        raise unittest.SkipTest("no aws CLI at " + AWS_CLI)
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_"):
            del env[k]
    env.update({
        "AWS_SHARED_CREDENTIALS_FILE": creds_file or credentials_path(server),
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
    })
    cmd = [AWS_CLI] + list(args) + ["--endpoint-url", endpoint(server),
                                    "--ca-bundle", server.ca_cert, "--output", "json"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60,
                          stdin=subprocess.DEVNULL)


def client_error(exc):
    """(code, HTTP status, message, response metadata) of a botocore ClientError."""
    e = exc.response.get("Error", {})
    md = exc.response.get("ResponseMetadata", {})
    return e.get("Code"), md.get("HTTPStatusCode"), e.get("Message"), md


# ---------------------------------------------------------------- signed raw requests

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body.decode())

    def __repr__(self):
        return "<%d %r %r>" % (self.status, self.headers, self.body[:300])


def sign(server, method, path, body=b"", headers=None, service="iot", keys=None,
         at=None):
    """Headers for a request signed by botocore's SigV4Auth (header form).
    path may hold a query string. `at`: a datetime (UTC) to sign as of."""
    need_boto3()
    akid, secret = keys or admin_keys(server)
    creds = botocore.credentials.Credentials(akid, secret)
    req = botocore.awsrequest.AWSRequest(method=method, url=endpoint(server) + path,
                                         data=body, headers=dict(headers or {}))
    auth = botocore.auth.SigV4Auth(creds, service, REGION)
    if at is None:
        auth.add_auth(req)
    else:
        with mock.patch.object(botocore.auth, "datetime") as dt:
            dt.datetime.utcnow.return_value = at
            dt.datetime.strptime = datetime.datetime.strptime
            auth.add_auth(req)
    return dict(req.headers.items())


def presigned_mqtt_path(server, service="iotdevicegateway", keys=None, expires=300):
    """The path + query of a presigned GET /mqtt (botocore SigV4QueryAuth)."""
    need_boto3()
    akid, secret = keys or admin_keys(server)
    creds = botocore.credentials.Credentials(akid, secret)
    req = botocore.awsrequest.AWSRequest(method="GET", url=endpoint(server) + "/mqtt")
    botocore.auth.SigV4QueryAuth(creds, service, REGION, expires=expires).add_auth(req)
    url = req.url
    return url[url.index("/mqtt"):]


class Connection:
    """One keep-alive HTTPS connection (http.client) that knows whether it
    was ever reopened: `opens` counts the TCP connections it made."""

    def __init__(self, server):
        self.server = server
        ctx = ssl.create_default_context(cafile=server.ca_cert)
        self.conn = http.client.HTTPSConnection("localhost", server.port("https"),
                                                timeout=TIMEOUT, context=ctx)
        self.opens = 0
        self._sock = None

    def request(self, method, path, body=b"", headers=None, signed=True, **sign_kw):
        headers = dict(headers or {})
        if body and "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
        if signed:
            headers = sign(self.server, method, path, body, headers, **sign_kw)
        self.conn.request(method, path, body=body or None, headers=headers)
        if self.conn.sock is not self._sock:
            self.opens += 1
            self._sock = self.conn.sock
        r = self.conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())

    def close(self):
        self.conn.close()


def request(server, method, path, body=b"", headers=None, signed=True, **sign_kw):
    """One request on a fresh connection."""
    c = Connection(server)
    try:
        return c.request(method, path, body, headers, signed, **sign_kw)
    finally:
        c.close()


# ---------------------------------------------------------------- raw TLS

def tls_socket(server):
    ctx = ssl.create_default_context(cafile=server.ca_cert)
    ctx.set_alpn_protocols(["http/1.1"])
    s = socket.create_connection(("127.0.0.1", server.port("https")), timeout=TIMEOUT)
    return ctx.wrap_socket(s, server_hostname="localhost")


def raw_request(server, method, path, body=b"", headers=None, signed=True, **sign_kw):
    """The bytes of a whole request (signed unless told not to)."""
    headers = dict(headers or {})
    if signed:
        headers = sign(server, method, path, body, headers, **sign_kw)
    lines = ["%s %s HTTP/1.1" % (method, path)]
    if not any(k.lower() == "host" for k in headers):
        lines.append("Host: localhost:%d" % server.port("https"))
    for k, v in headers.items():
        lines.append("%s: %s" % (k, v))
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class ResponseReader:
    """Reads HTTP/1.1 responses (Content-Length framed) off a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self, deadline):
        self.sock.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed; have %r" % self.buf[:200])
        self.buf += chunk

    def read(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        length = 0
        for k, v in headers:
            if k.lower() == "content-length":
                length = int(v)
        if 100 <= status < 200:
            length = 0
        while len(rest) < length:
            self.buf = head + b"\r\n\r\n" + rest
            self._fill(deadline)
            head, _, rest = self.buf.partition(b"\r\n\r\n")
        self.buf = rest[length:]
        return Response(status, headers, rest[:length])

    def closed(self, timeout=TIMEOUT):
        """True when the peer closes (EOF or reset) before `timeout`."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.05, deadline - time.monotonic()))
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except (ConnectionError, ssl.SSLError, OSError):
            return True
        return False
