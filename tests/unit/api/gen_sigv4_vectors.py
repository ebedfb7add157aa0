#!/usr/bin/python3
"""gen_sigv4_vectors.py - signs sample AWS IoT requests with the real botocore
(Debian's python3-botocore) at a fixed time and prints them as C test vectors
for test_sigv4.c: whole HTTP/1.1 requests exactly as the AWS CLI / boto3 would
put them on the wire against `--endpoint-url https://localhost:8443`.

The vectors are committed in test_sigv4.c; this script is how they were made
and how to make more. Run it with each botocore at hand and paste the output:
    /usr/bin/python3 tests/unit/api/gen_sigv4_vectors.py debian   # Debian's 1.29
    python3 tests/unit/api/gen_sigv4_vectors.py cli               # the aws CLI's
Old botocore signs the `iot` control plane as "execute-api" (its model said
so); newer ones sign it as "iot". The vector's second field is the signing
name its client used.

Covered: control plane (`iot`) with labels botocore percent-encodes (ARN in
the path), query strings, modeled headers (x-amz-tagging) and a session
token; data plane (`iotdata`) Publish with `$aws/...` encoded into one path
segment; jobs data plane with a literal `$next` in the path; a raw SigV4Auth
request with repeated and value-less query keys; a botocore presigned URL
(SigV4QueryAuth: UNSIGNED-PAYLOAD, token signed) and a presigned URL made the
way the AWS IoT device SDKs make it for MQTT over WebSocket (empty-body hash,
token appended after signing).
"""
import calendar
import datetime
import hashlib
import hmac
import re
import sys
import urllib.parse

import botocore
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.session
from botocore.config import Config

AKID = "AKIAROOSTEXAMPLE0001"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYROOSTKEY01"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+roost/token=="
ENDPOINT = "https://localhost:8443"
HOST = "localhost:8443"
FIXED = datetime.datetime(2026, 11, 22, 10, 15, 0)
NOW = calendar.timegm(FIXED.timetuple())


class _FixedDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FIXED

    @classmethod
    def now(cls, tz=None):
        return FIXED if tz is None else FIXED.replace(tzinfo=tz)


_real_datetime_module = datetime


class _FixedClockModule:
    """Stands in for the `datetime` module inside botocore.auth only."""
    datetime = _FixedDatetime
    timezone = _real_datetime_module.timezone
    timedelta = _real_datetime_module.timedelta


botocore.auth.datetime = _FixedClockModule
if hasattr(botocore.auth, "get_current_datetime"):  # newer botocore
    botocore.auth.get_current_datetime = lambda: FIXED
try:  # with awscrt installed, clients sign through aws-c-auth instead
    import botocore.crt.auth
    botocore.crt.auth.datetime = _FixedClockModule
    if hasattr(botocore.crt.auth, "get_current_datetime"):
        botocore.crt.auth.get_current_datetime = lambda: FIXED
except ImportError:
    pass


class _Captured(Exception):
    pass


def capture(service, op, region="us-east-1", token=None, **params):
    """Runs a client call and returns the request botocore would send."""
    session = botocore.session.get_session()
    client = session.create_client(
        service, region_name=region, endpoint_url=ENDPOINT,
        aws_access_key_id=AKID, aws_secret_access_key=SECRET,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 0}))
    got = []

    def before_send(request, **kwargs):
        got.append(request)
        raise _Captured()

    client.meta.events.register("before-send", before_send)
    try:
        getattr(client, op)(**params)
    except _Captured:
        pass
    return got[0]


def wire(method, url, headers, body):
    """The request as HTTP/1.1 bytes; Host first, as urllib3 sends it."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    body = body or b""
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {target} HTTP/1.1"]
    if not any(k.lower() == "host" for k in headers.keys()):
        lines.append(f"Host: {HOST}")
    have_len = False
    for k, v in headers.items():
        if isinstance(v, bytes):
            v = v.decode()
        lines.append(f"{k}: {v}")
        have_len |= k.lower() == "content-length"
    if body and not have_len:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def c_string(data):
    out = []
    line = ""
    for b in data:
        ch = chr(b)
        if ch == "\\" or ch == '"':
            line += "\\" + ch
        elif ch == "\r":
            line += "\\r"
        elif ch == "\n":
            line += "\\n"
            out.append('"' + line + '"')
            line = ""
        elif 32 <= b < 127 and ch != "?":  # '?' avoids trigraphs
            line += ch
        else:
            line += "\\%03o" % b
    if line:
        out.append('"' + line + '"')
    return "\n        ".join(out)


def device_sdk_presign(region, token):
    """A /mqtt URL signed like aws-iot-device-sdk-js v1 / aws-crt do it."""
    amz = FIXED.strftime("%Y%m%dT%H%M%SZ")
    date = amz[:8]
    scope = f"{date}/{region}/iotdevicegateway/aws4_request"
    query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256"
             "&X-Amz-Credential=" + urllib.parse.quote(f"{AKID}/{scope}", safe="")
             + f"&X-Amz-Date={amz}&X-Amz-SignedHeaders=host")
    creq = "\n".join(["GET", "/mqtt", query, f"host:{HOST}\n", "host",
                      hashlib.sha256(b"").hexdigest()])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])

    def h(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    k = h(h(h(h(("AWS4" + SECRET).encode(), date), region), "iotdevicegateway"),
          "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    url = f"{ENDPOINT}/mqtt?{query}&X-Amz-Signature={sig}"
    if token:
        url += "&X-Amz-Security-Token=" + urllib.parse.quote(token, safe="")
    return url


def main():
    vecs = []  # (name, services, region, presigned, raw bytes)

    def add(name, services, region, req, presigned=False):
        data = wire(req.method, req.url, req.headers, req.body)
        m = re.search(rb"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request", data)
        if m and not presigned:  # the signing name the client's model uses
            services = m.group(1).decode()
        vecs.append((name, services, region, presigned, data))

    cert_arn = "arn:aws:iot:us-east-1:123456789012:cert/" + "ab" * 32
    add("iot CreateThing", "iot", "us-east-1",
        capture("iot", "create_thing", thingName="t1"))
    add("iot CreateThing with attributes", "iot", "eu-central-1",
        capture("iot", "create_thing", region="eu-central-1", thingName="lamp-7",
                attributePayload={"attributes": {"color": "dark blue", "fw": "1.2.3"}}))
    add("iot ListAttachedPolicies (ARN label)", "iot", "us-east-1",
        capture("iot", "list_attached_policies", target=cert_arn, recursive=True))
    add("iot ListThings (query)", "iot", "us-east-1",
        capture("iot", "list_things", attributeName="color",
                attributeValue="dark blue/2", maxResults=10))
    add("iot CreateTopicRule (x-amz-tagging)", "iot", "us-east-1",
        capture("iot", "create_topic_rule", ruleName="r1",
                topicRulePayload={"sql": "SELECT * FROM 'a/b'", "actions": []},
                tags="k1=v1&k2=v2"))
    add("iot DescribeEndpoint (session token)", "iot", "us-east-1",
        capture("iot", "describe_endpoint", token=TOKEN, endpointType="iot:Data-ATS"))
    add("iotdata Publish $aws topic", "iotdata", "us-east-1",
        capture("iot-data", "publish", topic="$aws/things/t1/shadow/update", qos=1,
                retain=True, payload=b'{"state":{"reported":{"on":true}}}'))
    add("iotdata UpdateThingShadow named", "iotdata", "us-east-1",
        capture("iot-data", "update_thing_shadow", thingName="t1", shadowName="cfg",
                payload=b'{"state":{"desired":{"v":1}}}'))
    add("iot-jobs-data StartNextPendingJobExecution ($next)", "iot-jobs-data", "us-east-1",
        capture("iot-jobs-data", "start_next_pending_job_execution", thingName="t1",
                statusDetails={"step": "download"}))
    add("iot-jobs-data DescribeJobExecution (%24next)", "iot-jobs-data", "us-east-1",
        capture("iot-jobs-data", "describe_job_execution", thingName="t1", jobId="$next",
                includeJobDocument=True))

    # A hand-written URL: botocore copies its query into the canonical
    # request verbatim, while AWS (and Roost) decode and re-encode it, so keep
    # to encodings an SDK would produce (no "%7E" for "~", no raw ":").
    creds = botocore.credentials.Credentials(AKID, SECRET)
    raw = botocore.awsrequest.AWSRequest(
        method="GET", url=ENDPOINT + "/things?b=2&a=3&a=1&flag&c=%2Fx%3Ay&d=%3D")
    botocore.auth.SigV4Auth(creds, "iot", "ap-southeast-2").add_auth(raw)
    add("SigV4Auth repeated and value-less query keys", "iot", "ap-southeast-2",
        raw.prepare())

    tcreds = botocore.credentials.Credentials(AKID, SECRET, TOKEN)
    pre = botocore.awsrequest.AWSRequest(method="GET", url=ENDPOINT + "/mqtt")
    botocore.auth.SigV4QueryAuth(tcreds, "iotdevicegateway", "us-east-1",
                                 expires=3600).add_auth(pre)
    add("SigV4QueryAuth /mqtt (token signed, UNSIGNED-PAYLOAD)", "iotdevicegateway",
        "us-east-1", pre.prepare(), presigned=True)

    for token in (None, TOKEN):
        url = device_sdk_presign("us-west-2", token)
        add("device SDK /mqtt presign" + (" + token appended" if token else ""),
            "iotdevicegateway", "us-west-2",
            botocore.awsrequest.AWSRequest(method="GET", url=url).prepare(), presigned=True)

    try:
        import awscrt  # noqa: F401
        signer = "aws-crt signer"
    except ImportError:
        signer = "botocore signer"
    tag = sys.argv[1] if len(sys.argv) > 1 else "debian"
    print(f"/* Generated by tests/unit/api/gen_sigv4_vectors.py with botocore "
          f"{botocore.__version__}\n * ({signer}); do not edit by hand. */")
    if tag == "debian":
        print(f'#define BOTO_AKID "{AKID}"')
        print(f'#define BOTO_SECRET "{SECRET}"')
        print(f'#define BOTO_TOKEN "{TOKEN}"')
        print(f"#define BOTO_NOW {NOW} /* {FIXED.isoformat()}Z */")
    print(f"static const struct boto_vector boto_vectors_{tag}[] = {{")
    for name, services, region, presigned, data in vecs:
        print(f'    {{"{name}", "{services}", "{region}", {"true" if presigned else "false"},')
        print(f"        {c_string(data)}}},")
    print("};")
    return 0


if __name__ == "__main__":
    sys.exit(main())
