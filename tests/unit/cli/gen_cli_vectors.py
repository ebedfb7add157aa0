#!/usr/bin/python3
"""gen_cli_vectors.py - prints the Authorization headers botocore's SigV4Auth
gives the requests `roost` sends, for tests/unit/cli/test_cli.c (table
`boto_vectors`). Run with Debian's python3-botocore; paste the output."""
import datetime
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CREDS = Credentials("AKIDROOSTTEST", "roost/secret+key=for/tests")
WHEN = datetime.datetime(2026, 1, 2, 3, 4, 5)
BASE = "https://localhost:8443"

CASES = [
    # (name, method, path?query, body, extra headers)
    ("ListThings filters", "GET",
     "/things?attributeName=k&attributeValue=v%2Fw&thingTypeName=t%20y", None, {}),
    ("AttachThingPrincipal", "PUT", "/things/dev1/principals", b"",
     {"x-amzn-principal": "arn:aws:iot:us-east-1:123456789012:cert/abcd"}),
    ("AttachPolicy", "PUT", "/target-policies/roost-default-device",
     b'{"target":"arn:aws:iot:us-east-1:123456789012:cert/abcd"}',
     {"content-type": "application/json"}),
    ("ListAttachedPolicies", "POST",
     "/attached-policies/arn%3Aaws%3Aiot%3Aus-east-1%3A123456789012%3Acert%2Fabcd", b"", {}),
    ("CreateKeysAndCertificate", "POST", "/keys-and-certificate?setAsActive=true", b"", {}),
]


def main():
    for name, method, target, body, headers in CASES:
        req = AWSRequest(method=method, url=BASE + target, data=body, headers=dict(headers))
        with mock.patch("botocore.auth.datetime") as dt:
            dt.datetime.utcnow.return_value = WHEN
            dt.datetime.strftime = datetime.datetime.strftime
            SigV4Auth(CREDS, "iot", "us-east-1").add_auth(req)
        print('    {"%s", "%s",\n     "%s",\n     "%s"},' % (
            name, method, target, req.headers["Authorization"]))


if __name__ == "__main__":
    main()
