"""test_11_cli - `roost`, the admin CLI, against a real roostd: a device made
by `roost device create` connects with the printed mosquitto_pub command
line and its message arrives; `roost cert revoke` cuts it off; listings
(--json), policies, `shadow get|update|delete` (the iot-data plane),
`device rm`, the undo of a failed create, and the exit codes (1 AWS error
with AWS's text, 2 bad usage, 3 server unreachable).

The CLI binary: $ROOST_CLI, else `roost` in $ROOST_BUILD_DIR, else beside
the roostd the fixture found.
"""

import glob
import hashlib
import json
import os
import re
import shlex
import socket
import subprocess
import tempfile
import unittest

from roostd_fixture import RoostCase, TIMEOUT, IS_MOSQUITTO, find_roostd, run


def find_roost():
    env = os.environ.get("ROOST_CLI")
    if env:
        return env
    candidates = []
    build = os.environ.get("ROOST_BUILD_DIR")
    if build:
        candidates.append(os.path.join(build, "roost"))
    roostd = find_roostd()
    if roostd:
        candidates.append(os.path.join(os.path.dirname(roostd), "roost"))
    candidates += sorted(glob.glob("/work/main/build/*/roost"), key=os.path.getmtime,
                         reverse=True)
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    return None


ROOST = find_roost()
ARN_RE = re.compile(r"arn:aws:iot:[a-z0-9-]+:\d+:thing/(\S+)")
CERT_ID_RE = re.compile(r"\b[0-9a-f]{64}\b")


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipIf(IS_MOSQUITTO, "the mosquitto stand-in has no HTTPS API")
@unittest.skipIf(ROOST is None, "no roost binary (set ROOST_CLI or build the roost target)")
class CliTest(RoostCase):

    # Only registered certificates connect, so that "revoked" and "deleted"
    # are seen at the door (the broker tests run with the development setting).
    CONFIG = {"allow_unregistered_certs": "false"}

    # -- helpers
    def roost(self, *args, data_dir=True, cwd=None, stdin=None):
        """Runs roost; returns CompletedProcess (text)."""
        argv = [ROOST]
        if data_dir:
            argv += ["--data-dir", self.server.data_dir]
        argv += list(args)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_") and not k.startswith("ROOST_")}
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              input=stdin, text=True, timeout=60, cwd=cwd, env=env)

    def ok(self, *args, **kw):
        r = self.roost(*args, **kw)
        self.assertEqual(r.returncode, 0, "roost %s failed (%d):\nstdout: %s\nstderr: %s"
                         % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="cli-", dir=self.server.work)
        return d

    def create_device(self, name, out=None):
        """`roost device create`; returns (stdout, out dir, cert id, argv of mosquitto_pub)."""
        out = out or self.tmpdir()
        r = self.ok("device", "create", name, "--out", out)
        m = ARN_RE.search(r.stdout)
        self.assertIsNotNone(m, "no thing ARN in:\n" + r.stdout)
        self.assertEqual(m.group(1), name)
        ids = CERT_ID_RE.findall(r.stdout)
        self.assertTrue(ids, "no certificate id in:\n" + r.stdout)
        lines = [ln.strip() for ln in r.stdout.splitlines()
                 if ln.strip().startswith("mosquitto_pub ")]
        self.assertEqual(len(lines), 1, "no mosquitto_pub line in:\n" + r.stdout)
        return r.stdout, out, ids[0], shlex.split(lines[0])

    def mosquitto_pub(self, argv, cwd, extra=()):
        return subprocess.run(list(argv) + list(extra), cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              timeout=TIMEOUT * 2)

    def cert_ids(self):
        r = self.ok("cert", "ls", "--json")
        return {c["certificateId"] for c in json.loads(r.stdout)["certificates"]}

    # -- the main story

    def test_device_create_connect_list_revoke(self):
        name = "dev1-" + self._uid
        stdout, out, cert_id, pub = self.create_device(name)

        # The files: certificate, private key (0600), and the server's CA.
        cert = os.path.join(out, name + ".cert.pem")
        key = os.path.join(out, name + ".private.key")
        ca = os.path.join(out, "root-ca.pem")
        with open(cert) as f:
            self.assertIn("-----BEGIN CERTIFICATE-----", f.read())
        with open(key) as f:
            self.assertIn("PRIVATE KEY-----", f.read())
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        with open(ca, "rb") as f, open(self.server.ca_cert, "rb") as g:
            self.assertEqual(f.read(), g.read())
        der = run(["openssl", "x509", "-in", cert, "-outform", "DER"]).stdout
        self.assertEqual(hashlib.sha256(der).hexdigest(), cert_id,
                         "the printed id is the SHA-256 of the certificate")

        # The printed command line, as printed, plus the port it names.
        self.assertEqual(pub[:2], ["mosquitto_pub", "-h"])
        self.assertIn(str(self.server.port("mqtt")), pub)
        self.assertEqual(pub[pub.index("-i") + 1], name)

        # It connects as the device and the message arrives (QoS 1: the
        # PUBACK proves the publish was accepted, not just sent).
        sub = self.paho(version=4)
        sub.subscribe("things/%s/hello" % name, 1)
        r = self.mosquitto_pub(pub, out, ["-q", "1"])
        self.assertEqual(r.returncode, 0, "mosquitto_pub as the device failed:\n%s\n%s"
                         % (r.stdout.decode(errors="replace"), self.server.log_tail(40)))
        self.assertEqual(sub.get("things/%s/hello" % name).payload, b"hi")

        # Listings.
        things = json.loads(self.ok("thing", "ls", "--json").stdout)["things"]
        self.assertIn(name, [t["thingName"] for t in things])
        table = self.ok("thing", "ls").stdout.splitlines()
        self.assertTrue(table[0].startswith("NAME"), table)
        self.assertTrue(any(ln.split()[0] == name for ln in table[1:]), table)
        devices = json.loads(self.ok("device", "ls", "--json").stdout)["devices"]
        mine = [d for d in devices if d["thingName"] == name]
        self.assertEqual([c["certificateId"] for c in mine[0]["certificates"]], [cert_id])
        shown = json.loads(self.ok("thing", "show", name, "--json").stdout)
        self.assertEqual(shown["thingName"], name)
        desc = json.loads(self.ok("cert", "show", cert_id, "--json").stdout)
        self.assertEqual(desc["certificateDescription"]["status"], "ACTIVE")
        self.assertIn(cert_id, self.cert_ids())
        # A unique prefix is enough for cert commands.
        self.assertIn(cert_id, self.ok("cert", "show", cert_id[:16]).stdout)

        # Revoked: the same command line no longer gets in.
        self.ok("cert", "revoke", cert_id)
        desc = json.loads(self.ok("cert", "show", cert_id, "--json").stdout)
        self.assertEqual(desc["certificateDescription"]["status"], "REVOKED")
        r = self.mosquitto_pub(pub, out, ["-q", "1"])
        self.assertNotEqual(r.returncode, 0, "a revoked certificate still connects:\n%s"
                            % r.stdout.decode(errors="replace"))

        # And rm takes the rest away.
        self.ok("device", "rm", name)
        self.assertEqual(self.roost("thing", "show", name).returncode, 1)
        self.assertNotIn(cert_id, self.cert_ids())

    def test_device_rm(self):
        name = "dev-rm-" + self._uid
        _, out, cert_id, pub = self.create_device(name)
        r = self.ok("device", "rm", name)
        self.assertIn(name, r.stdout)
        self.assertIn(cert_id, r.stderr, "rm tells which certificates it deleted")
        r = self.roost("thing", "show", name)
        self.assertEqual(r.returncode, 1)
        self.assertNotIn(cert_id, self.cert_ids())
        self.assertNotEqual(self.mosquitto_pub(pub, out, ["-q", "1"]).returncode, 0)
        # The policy stays for the next device.
        self.ok("policy", "show", "roost-default-device")

    def test_failed_create_is_undone(self):
        name = "dev-undo-" + self._uid
        out = self.tmpdir()
        os.mkdir(os.path.join(out, name + ".cert.pem"))  # the write fails after the API calls
        before = self.cert_ids()
        r = self.roost("device", "create", name, "--out", out, "--force")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("undo", r.stderr)
        self.assertIn("nothing of it is left", r.stderr)
        self.assertEqual(self.roost("thing", "show", name).returncode, 1)
        self.assertEqual(self.cert_ids(), before)
        self.assertFalse(os.path.exists(os.path.join(out, name + ".private.key")))

    def test_create_refuses_existing_thing_and_files(self):
        name = "dev-dup-" + self._uid
        _, out, _, _ = self.create_device(name)
        before = self.cert_ids()
        r = self.roost("device", "create", name, "--out", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists", r.stderr)
        r = self.roost("device", "create", name, "--out", self.tmpdir())
        self.assertEqual(r.returncode, 1)
        self.assertIn("already exists", r.stderr)
        self.assertEqual(self.cert_ids(), before, "nothing made for a refused create")
        self.ok("device", "rm", name)

    def test_create_with_missing_policy_makes_nothing(self):
        name = "dev-nopol-" + self._uid
        r = self.roost("device", "create", name, "--out", self.tmpdir(), "--policy",
                       "no-such-policy-" + self._uid)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("roost: ResourceNotFoundException: "), r.stderr)
        self.assertEqual(self.roost("thing", "show", name).returncode, 1)

    # -- policies, endpoint

    def test_policy_create_show_ls_rm(self):
        name = "pol-" + self._uid
        doc = {"Version": "2012-10-17",
               "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}
        path = os.path.join(self.tmpdir(), "p.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        self.ok("policy", "create", name, path)
        got = json.loads(self.ok("policy", "show", name, "--json").stdout)
        self.assertEqual(got["policyName"], name)
        self.assertEqual(json.loads(got["policyDocument"]), doc)
        names = [p["policyName"] for p in
                 json.loads(self.ok("policy", "ls", "--json").stdout)["policies"]]
        self.assertIn(name, names)
        # From stdin, and a name that exists already: AWS's error.
        r = self.roost("policy", "create", name, "-", stdin=json.dumps(doc))
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("roost: ResourceAlreadyExistsException: "), r.stderr)
        self.ok("policy", "rm", name)
        r = self.roost("policy", "show", name)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("roost: ResourceNotFoundException: "), r.stderr)

    def test_policy_attach_detach_targets(self):
        """attach/detach by certificate prefix, by ARN and to "anonymous",
        and the plain listener following it live."""
        name = "att-" + self._uid
        _, out, cert_id, _ = self.create_device("dev-att-" + self._uid)
        doc = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Subscribe", "iot:Receive"],
             "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/open/*",
                          "arn:aws:iot:us-east-1:123456789012:topicfilter/open/*"]}]}
        path = os.path.join(self.tmpdir(), "p.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        self.ok("policy", "create", name, path)
        arn = "arn:aws:iot:us-east-1:123456789012:cert/" + cert_id
        r = self.ok("policy", "attach", name, cert_id[:8])
        self.assertIn(arn, r.stdout)
        self.ok("policy", "attach", name, "anonymous")
        # whatever happens below, the class's other tests get their plain listener back
        self.addCleanup(self.roost, "policy", "detach", name, "anonymous")
        targets = json.loads(self.ok("policy", "targets", name, "--json").stdout)["targets"]
        self.assertEqual(sorted(targets), sorted([arn, "anonymous"]))
        # the plain listener is now bound by the policy: a subscription
        # outside open/* is refused (SUBACK 0x80), one inside is granted
        c = self.paho()
        self.assertEqual(list(c.subscribe("open/x", 1)), [1])
        self.assertEqual(list(c.subscribe("closed/x", 1)), [0x80])
        self.ok("policy", "detach", name, "anonymous")
        self.ok("policy", "detach", name, arn)
        self.assertEqual(json.loads(self.ok("policy", "targets", name, "--json").stdout)
                         ["targets"], [])
        r = self.roost("policy", "attach", name, "ffff0000")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("no certificate id starts with ffff0000", r.stderr)
        r = self.roost("policy", "attach", "no-such-" + self._uid, "anonymous")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("roost: ResourceNotFoundException: "), r.stderr)

    def test_endpoint(self):
        r = self.ok("endpoint")
        self.assertTrue(r.stdout.strip(), "an endpoint address")
        got = json.loads(self.ok("endpoint", "--json").stdout)
        self.assertEqual(got["endpointAddress"], r.stdout.strip())

    # -- shadows (the iot-data plane, signed "iotdata")

    def test_shadow_update_get_delete(self):
        thing = "shadow-cli-" + self._uid
        r = self.ok("shadow", "update", thing, "--desired", '{"color":"red"}')
        got = json.loads(r.stdout)
        self.assertEqual(got["state"]["desired"], {"color": "red"})
        self.assertEqual(got["version"], 1)
        self.assertIn("\n  ", r.stdout, "pretty-printed by default")

        got = json.loads(self.ok("shadow", "get", thing).stdout)
        self.assertEqual(got["version"], 1)
        self.assertEqual(got["state"]["desired"], {"color": "red"})
        self.assertEqual(got["state"]["delta"], {"color": "red"})

        r = self.ok("shadow", "update", thing, "--reported", '{"color":"red"}', "--json")
        self.assertEqual(len(r.stdout.strip().splitlines()), 1, "--json is one line")
        self.assertEqual(json.loads(r.stdout)["version"], 2)
        got = json.loads(self.ok("shadow", "get", thing, "--json").stdout)
        self.assertEqual(got["version"], 2)
        self.assertEqual(got["state"]["reported"], {"color": "red"})
        self.assertNotIn("delta", got["state"])

        # A whole document is sent as it is; a named shadow is another shadow.
        self.ok("shadow", "update", thing, "--name", "cfg",
                '{"state":{"reported":{"on":true}},"clientToken":"t1"}')
        got = json.loads(self.ok("shadow", "get", thing, "--name", "cfg").stdout)
        self.assertEqual(got["state"]["reported"], {"on": True})
        self.assertEqual(got["version"], 1)

        r = self.ok("shadow", "update", thing, "--name", "cfg", "--file", "-",
                    stdin='{"state":{"desired":{"on":false}}}')
        self.assertEqual(json.loads(r.stdout)["version"], 2)

        self.ok("shadow", "delete", thing)
        r = self.roost("shadow", "get", thing)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertRegex(r.stderr, r"^roost: ResourceNotFoundException: \S.*\n$")
        self.ok("shadow", "get", thing, "--name", "cfg")  # still there

        for args in (["shadow", "update", thing],
                     ["shadow", "update", thing, "--desired", "{nope"],
                     ["shadow", "update", thing, "--desired", "{}", "{}"]):
            with self.subTest(args=args):
                r = self.roost(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertTrue(r.stderr.startswith("roost: "), r.stderr)

    # -- exit codes

    def test_unknown_thing_is_exit_1_with_aws_text(self):
        r = self.roost("thing", "show", "no-such-thing-" + self._uid)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertRegex(r.stderr, r"^roost: ResourceNotFoundException: \S.*\n$")
        r = self.roost("device", "rm", "no-such-thing-" + self._uid)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"^roost: ResourceNotFoundException: ")

    def test_bad_usage_is_exit_2(self):
        for args in ([], ["frob"], ["device"], ["device", "create"], ["device", "create", "a", "b"],
                     ["thing", "ls", "--bogus"], ["thing", "ls", "--attribute", "novalue"],
                     ["device", "create", "bad/name"]):
            with self.subTest(args=args):
                r = self.roost(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertTrue(r.stderr.startswith("roost: "), r.stderr)
        r = self.roost("--data-dir", os.path.join(self.server.work, "nothing-here"), "thing", "ls",
                       data_dir=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        r = self.ok("device", "create", "--help")
        self.assertIn("usage: roost device create NAME", r.stdout)

    def test_unreachable_is_exit_3(self):
        r = self.roost("--endpoint", "https://127.0.0.1:%d" % closed_port(), "thing", "ls")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("cannot reach", r.stderr)
        # The wrong CA is as good as no server: nothing was said to it.
        other = tempfile.mkdtemp(dir=self.server.work)
        from roostd_fixture import make_ca
        wrong_ca, _ = make_ca(other, "wrong-ca")
        r = self.roost("--ca-file", wrong_ca, "thing", "ls")
        self.assertEqual(r.returncode, 3, r.stderr)

    def test_wrong_secret_is_refused(self):
        path = os.path.join(self.tmpdir(), "creds")
        with open(path, "w") as f:
            f.write("[default]\naws_access_key_id = AKIDNOSUCHKEY\n"
                    "aws_secret_access_key = wrong\n")
        r = self.roost("--credentials", path, "thing", "ls")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"^roost: (UnrecognizedClient|InvalidSignature)Exception: ")


if __name__ == "__main__":
    unittest.main()
