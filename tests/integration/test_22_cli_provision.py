"""test_22_cli_provision - the provisioning commands of `roost`, the admin
CLI, against a real roostd: `roost ca register` does the proof of
possession itself for a CA made by the openssl CLI (boto3 then sees it
ACTIVE, auto-registering, with the JITP template and the role of the
account in roost.conf) and refuses a key that is not the CA's, a
certificate that is not a CA and unreadable files, before any request;
`ca ls|show|activate|deactivate|rm`; `template create|ls|show|update|rm`
(checked with boto3's DescribeProvisioningTemplate); `roost claim create`
writes the claim's files, and its policy lets the claim publish to the
fleet provisioning topics and nothing else (mosquitto_pub on another topic
loses its connection; a SUBSCRIBE outside them is refused), and the
mosquitto_rr line it prints gets the claim a certificate.

The CLI binary is found as in test_11_cli ($ROOST_CLI, else the build dir's).
"""

import hashlib
import json
import os
import re
import shlex
import subprocess
import unittest

import mqtt_raw as m
from registry_util import STRICT, RegistryCase, TIMEOUT, read, write
from roostd_fixture import HOST, make_ca, make_leaf, run
from test_11_cli import ROOST

ACCOUNT = "210987654321"
ID_RE = re.compile(r"\b[0-9a-f]{64}\b")

JITP_TEMPLATE = json.dumps({
    "Parameters": {"AWS::IoT::Certificate::CommonName": {"Type": "String"},
                   "AWS::IoT::Certificate::Id": {"Type": "String"}},
    "Resources": {
        "thing": {"Type": "AWS::IoT::Thing",
                  "Properties": {"ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"}}},
        "certificate": {"Type": "AWS::IoT::Certificate",
                        "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"},
                                       "Status": "ACTIVE"}},
    },
}, indent=1)

FLEET_TEMPLATE = json.dumps({
    "Parameters": {"SerialNumber": {"Type": "String"},
                   "AWS::IoT::Certificate::Id": {"Type": "String"}},
    "Resources": {
        "thing": {"Type": "AWS::IoT::Thing",
                  "Properties": {"ThingName": {"Fn::Join": ["", ["dev-", {"Ref": "SerialNumber"}]]}}},
        "certificate": {"Type": "AWS::IoT::Certificate",
                        "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"},
                                       "Status": "ACTIVE"}},
    },
})


def der_id(pem_path):
    der = run(["openssl", "x509", "-in", pem_path, "-outform", "DER"]).stdout
    return hashlib.sha256(der).hexdigest()


@unittest.skipIf(ROOST is None, "no roost binary (set ROOST_CLI or build the roost target)")
class CliProvisionTest(RegistryCase):

    # An account other than roostd's default: `ca register` and `template
    # create` must read it from roost.conf for their role ARNs.
    CONFIG = dict(STRICT, account_id=ACCOUNT)

    # -- helpers
    def roost(self, *args, cwd=None):
        argv = [ROOST, "--data-dir", self.server.data_dir] + list(args)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_") and not k.startswith("ROOST_")}
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=60, cwd=cwd, env=env, stdin=subprocess.DEVNULL)

    def ok(self, *args, **kw):
        r = self.roost(*args, **kw)
        self.assertEqual(r.returncode, 0, "roost %s failed (%d):\nstdout: %s\nstderr: %s"
                         % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def fails(self, code, *args, **kw):
        r = self.roost(*args, **kw)
        self.assertEqual(r.returncode, code, "roost %s: exit %d, expected %d:\nstdout: %s\n"
                         "stderr: %s" % (" ".join(args), r.returncode, code, r.stdout, r.stderr))
        return r

    def ca_ids(self):
        return {c["certificateId"] for c in self.iot.list_ca_certificates()["certificates"]}

    def new_ca(self, name=None):
        return make_ca(self.tmp, name or self.name("ca"))

    # -- ca register

    def test_ca_register_with_jitp_template(self):
        cert, key = self.new_ca()
        tpl = os.path.join(self.tmp, "jitp.json")
        write(tpl, JITP_TEMPLATE)
        r = self.ok("ca", "register", cert, key, "--jitp-template", tpl, "--first-connect",
                    "accept")
        ids = ID_RE.findall(r.stdout)
        self.assertTrue(ids, "no CA certificate id in:\n" + r.stdout)
        ca_id = ids[0]
        self.assertEqual(ca_id, der_id(cert), "the printed id is the SHA-256 of the CA's DER")

        d = self.iot.describe_ca_certificate(certificateId=ca_id)
        desc = d["certificateDescription"]
        self.assertEqual(desc["status"], "ACTIVE")
        self.assertEqual(desc["autoRegistrationStatus"], "ENABLE")
        self.assertEqual(d["registrationConfig"]["templateBody"], JITP_TEMPLATE)
        self.assertEqual(d["registrationConfig"]["roleArn"],
                         "arn:aws:iam::%s:role/roost-jitp" % ACCOUNT)
        # The aws CLI reads the same.
        out = self.cli("iot", "describe-ca-certificate", "--certificate-id", ca_id)
        self.assertEqual(out["certificateDescription"]["status"], "ACTIVE")

        # ls / show, with a prefix of the id.
        listed = json.loads(self.ok("ca", "ls", "--json").stdout)["certificates"]
        self.assertIn(ca_id, [c["certificateId"] for c in listed])
        shown = self.ok("ca", "show", ca_id[:10]).stdout
        self.assertRegex(shown, r"status\s+ACTIVE")
        self.assertRegex(shown, r"auto-registration\s+ENABLE")
        self.assertIn("roost-jitp", shown)
        shown_json = json.loads(self.ok("ca", "show", ca_id, "--json").stdout)
        self.assertEqual(shown_json["registrationConfig"]["templateBody"], JITP_TEMPLATE)

        # Registering the same CA again: the server's error, exit 1.
        r = self.fails(1, "ca", "register", cert, key)
        self.assertIn("roost: ResourceAlreadyExistsException:", r.stderr)

        # Status changes and removal (rm deactivates an ACTIVE CA first).
        self.ok("ca", "deactivate", ca_id)
        self.assertEqual(self.iot.describe_ca_certificate(certificateId=ca_id)
                         ["certificateDescription"]["status"], "INACTIVE")
        self.ok("ca", "activate", ca_id[:8])
        self.assertEqual(self.iot.describe_ca_certificate(certificateId=ca_id)
                         ["certificateDescription"]["status"], "ACTIVE")
        r = self.ok("ca", "rm", ca_id)
        self.assertIn("Deleted CA certificate " + ca_id, r.stdout)
        self.assertNotIn(ca_id, self.ca_ids())
        r = self.fails(1, "ca", "show", ca_id)
        self.assertIn("roost: ResourceNotFoundException:", r.stderr)

    def test_ca_register_without_auto_registration(self):
        cert, key = self.new_ca()
        r = self.ok("ca", "register", cert, key, "--no-auto-registration", "--json")
        ca_id = json.loads(r.stdout)["certificateId"]
        d = self.iot.describe_ca_certificate(certificateId=ca_id)
        self.assertEqual(d["certificateDescription"]["status"], "ACTIVE")
        self.assertEqual(d["certificateDescription"]["autoRegistrationStatus"], "DISABLE")
        self.assertFalse(d.get("registrationConfig", {}).get("templateBody"))

    def test_ca_register_refusals(self):
        before = self.ca_ids()
        cert, key = self.new_ca()
        _, other_key = self.new_ca()

        r = self.fails(1, "ca", "register", cert, other_key)
        self.assertIn("does not match the certificate", r.stderr)

        r = self.fails(1, "ca", "register", cert, os.path.join(self.tmp, "missing.key"))
        self.assertIn("cannot read the CA key", r.stderr)

        leaf, leaf_key = make_leaf(self.tmp, self.name("leaf"), cert, key)
        r = self.fails(1, "ca", "register", leaf, leaf_key)
        self.assertIn("is not a CA certificate", r.stderr)

        bad_tpl = os.path.join(self.tmp, "bad.json")
        write(bad_tpl, "{\n  \"Resources\": \n")
        r = self.fails(1, "ca", "register", cert, key, "--jitp-template", bad_tpl)
        self.assertIn("bad.json:", r.stderr)
        self.assertIn("not JSON", r.stderr)

        r = self.fails(2, "ca", "register", cert, key, "--first-connect", "sometimes")
        self.assertIn("--first-connect takes accept or reject", r.stderr)
        r = self.fails(2, "ca", "register", cert, key, "--first-connect", "accept")
        self.assertIn("--jitp-template", r.stderr)
        r = self.fails(2, "ca", "register", cert, key, "--jitp-template", bad_tpl,
                       "--jitp-template-name", "t")
        self.assertIn("not both", r.stderr)
        r = self.fails(2, "ca", "register", cert)
        self.assertIn("missing argument", r.stderr)

        self.assertEqual(self.ca_ids(), before, "nothing was registered")

    # -- templates

    def test_template_commands(self):
        name = self.name("tpl")
        f1 = os.path.join(self.tmp, "t1.json")
        write(f1, FLEET_TEMPLATE)
        r = self.ok("template", "create", name, f1, "--description", "line 3", "--disabled")
        self.assertIn("Created template " + name, r.stdout)
        d = self.iot.describe_provisioning_template(templateName=name)
        self.assertFalse(d["enabled"])
        self.assertEqual(d["description"], "line 3")
        self.assertEqual(d["templateBody"], FLEET_TEMPLATE)
        self.assertEqual(d["provisioningRoleArn"],
                         "arn:aws:iam::%s:role/roost-provisioning" % ACCOUNT)
        self.assertEqual(d.get("type", "FLEET_PROVISIONING"), "FLEET_PROVISIONING")
        self.assertNotIn("preProvisioningHook", d)

        listed = json.loads(self.ok("template", "ls", "--json").stdout)["templates"]
        self.assertIn(name, [t["templateName"] for t in listed])
        self.assertRegex(self.ok("template", "ls").stdout, r"%s\s+FLEET_PROVISIONING\s+no" % name)
        shown = self.ok("template", "show", name).stdout
        self.assertRegex(shown, r"enabled\s+no")
        self.assertIn('"SerialNumber"', shown)

        self.ok("template", "update", name, "--enable", "--hook", "exec:/bin/true")
        d = self.iot.describe_provisioning_template(templateName=name)
        self.assertTrue(d["enabled"])
        self.assertEqual(d["preProvisioningHook"],
                         {"targetArn": "exec:/bin/true", "payloadVersion": "2020-04-01"})

        f2 = os.path.join(self.tmp, "t2.json")
        v2 = json.loads(FLEET_TEMPLATE)
        v2["DeviceConfiguration"] = {"version": "2"}
        write(f2, json.dumps(v2))
        self.ok("template", "update", name, "--file", f2, "--no-hook")
        d = self.iot.describe_provisioning_template(templateName=name)
        self.assertEqual(d["defaultVersionId"], 2)
        self.assertEqual(json.loads(d["templateBody"]), v2)
        self.assertNotIn("preProvisioningHook", d)

        r = self.fails(2, "template", "update", name, "--enable", "--disable")
        self.assertIn("contradict", r.stderr)
        r = self.fails(2, "template", "update", name)
        self.assertIn("nothing to update", r.stderr)
        r = self.fails(2, "template", "create", self.name("t"), f1, "--hook", "ftp://x/y")
        self.assertIn("--hook takes", r.stderr)
        r = self.fails(1, "template", "create", name, f1)
        self.assertIn("roost: ResourceAlreadyExistsException:", r.stderr)

        self.ok("template", "rm", name)
        r = self.fails(1, "template", "show", name)
        self.assertIn("roost: ResourceNotFoundException:", r.stderr)

    def test_jitp_template_type(self):
        name = self.name("jitp")
        f = os.path.join(self.tmp, "j.json")
        write(f, JITP_TEMPLATE)
        self.ok("template", "create", name, f, "--type", "JITP")
        self.assertEqual(self.iot.describe_provisioning_template(templateName=name)["type"], "JITP")
        # A CA can name it instead of carrying a body.
        cert, key = self.new_ca()
        r = self.ok("ca", "register", cert, key, "--jitp-template-name", name,
                    "--first-connect", "reject", "--json")
        ca_id = json.loads(r.stdout)["certificateId"]
        d = self.iot.describe_ca_certificate(certificateId=ca_id)
        self.assertEqual(d["registrationConfig"].get("templateName"), name)
        self.assertIn("template " + name, self.ok("ca", "show", ca_id).stdout)
        self.ok("ca", "rm", ca_id)
        # A JITP template cannot back a claim certificate.
        r = self.fails(1, "claim", "create", "--template", name, "--out", self.tmp)
        self.assertIn("JITP template", r.stderr)
        self.ok("template", "rm", name)

    # -- claim

    def claim_topics_allowed(self, tpl, cert, key):
        """Connects as the claim (raw MQTT 3.1.1 over mTLS) and checks what
        its policy lets through."""
        c = self.server.raw("mqtt", 4, cert=(cert, key))
        self.addCleanup(c.close)
        self.assertEqual(c.connect("claim-" + self._uid).rc, 0)
        ack = c.subscribe([("$aws/certificates/create/json/accepted", 1),
                           ("$aws/provisioning-templates/%s/provision/json/accepted" % tpl, 1),
                           ("$aws/provisioning-templates/other/provision/json/accepted", 1),
                           ("things/anything/#", 1)])
        self.assertEqual(ack.codes, [1, 1, 0x80, 0x80])
        c.close()

    def mosquitto_pub(self, out, topic, client_id):
        cmd = ["mosquitto_pub", "-h", "localhost", "-p", str(self.server.port("mqtt")),
               "-V", "mqttv311", "--cafile", os.path.join(out, "root-ca.pem"),
               "--cert", os.path.join(out, "claim.pem"), "--key", os.path.join(out, "claim.key"),
               "-i", client_id, "-t", topic, "-m", "{}", "-q", "1"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT + 5,
                              stdin=subprocess.DEVNULL)

    def test_claim_create(self):
        tpl = self.name("fleet")
        f = os.path.join(self.tmp, "fleet.json")
        write(f, FLEET_TEMPLATE)
        self.ok("template", "create", tpl, f)
        out = os.path.join(self.tmp, "claim")
        r = self.ok("claim", "create", "--template", tpl, "--out", out)
        self.assertIn("$aws/provisioning-templates/%s/provision/json" % tpl, r.stdout)
        cert_id = ID_RE.findall(r.stdout)[0]

        claim, key, ca = (os.path.join(out, n) for n in ("claim.pem", "claim.key", "root-ca.pem"))
        self.assertEqual(der_id(claim), cert_id)
        self.assertIn("PRIVATE KEY-----", read(key))
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        self.assertEqual(read(ca), read(self.server.ca_cert))

        desc = self.iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
        self.assertEqual(desc["status"], "ACTIVE")
        arn = desc["certificateArn"]
        attached = self.iot.list_attached_policies(target=arn)["policies"]
        self.assertEqual([p["policyName"] for p in attached], [tpl + "-claim"])
        doc = json.loads(self.iot.get_policy(policyName=tpl + "-claim")["policyDocument"])
        prefix = arn[:arn.index(":cert/") + 1]
        self.assertIn(":%s:" % ACCOUNT, prefix)
        names = ["$aws/certificates/create/*", "$aws/certificates/create-from-csr/*",
                 "$aws/provisioning-templates/%s/provision/*" % tpl]
        self.assertEqual(doc["Statement"], [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": prefix + "client/*"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": [prefix + "topic/" + n for n in names]},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": [prefix + "topicfilter/" + n for n in names]},
        ])

        # Live: an allowed publish is acknowledged; any other topic costs the
        # connection (MQTT 3.1.1 has no way to refuse a PUBLISH).
        ok = self.mosquitto_pub(out, "$aws/provisioning-templates/%s/provision/json" % tpl,
                                "claim-ok-" + self._uid)
        self.assertEqual(ok.returncode, 0, "allowed publish failed: %s\n%s"
                         % (ok.stderr, self.server.log_tail(30)))
        denied = self.mosquitto_pub(out, "things/dev-1/telemetry", "claim-no-" + self._uid)
        self.assertNotEqual(denied.returncode, 0, "publish outside the claim's topics went "
                            "through: %s" % denied.stderr)
        self.claim_topics_allowed(tpl, claim, key)

        # The printed mosquitto_rr line, run as printed in --out, gets the
        # claim a new certificate ($aws/certificates/create/json/accepted).
        rr = [ln.strip() for ln in r.stdout.splitlines() if ln.startswith("mosquitto_rr ")]
        self.assertEqual(len(rr), 1, r.stdout)
        got = subprocess.run(shlex.split(rr[0]) + ["-W", str(int(TIMEOUT))], cwd=out,
                             capture_output=True, text=True, timeout=TIMEOUT + 5,
                             stdin=subprocess.DEVNULL)
        self.assertEqual(got.returncode, 0, got.stderr)
        accepted = json.loads(got.stdout)
        self.assertRegex(accepted["certificateId"], r"^[0-9a-f]{64}$")
        self.assertIn("certificateOwnershipToken", accepted)

        # A second claim for the template reuses the policy; existing files
        # are kept without --force.
        r = self.fails(1, "claim", "create", "--template", tpl, "--out", out)
        self.assertIn("exists (--force overwrites it)", r.stderr)
        r = self.ok("claim", "create", "--template", tpl, "--out", out, "--force", "--json")
        second = json.loads(r.stdout)
        self.assertFalse(second["policyCreated"])
        self.assertNotEqual(second["certificateId"], cert_id)
        self.assertEqual(der_id(claim), second["certificateId"])

    def test_claim_refusals(self):
        certs_before = {c["certificateId"] for c in self.iot.list_certificates()["certificates"]}
        r = self.fails(2, "claim", "create", "--out", self.tmp)
        self.assertIn("--template", r.stderr)
        r = self.fails(2, "claim", "create", "--template", "bad name")
        self.assertIn("invalid template name", r.stderr)
        r = self.fails(1, "claim", "create", "--template", self.name("nope"), "--out",
                       os.path.join(self.tmp, "nope"))
        self.assertIn("roost: ResourceNotFoundException:", r.stderr)
        certs_after = {c["certificateId"] for c in self.iot.list_certificates()["certificates"]}
        self.assertEqual(certs_after, certs_before, "no certificate is left behind")


if __name__ == "__main__":
    unittest.main()
