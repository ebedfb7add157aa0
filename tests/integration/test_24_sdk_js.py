"""test_24_sdk_js - roostd driven by the AWS IoT Device SDK v2 for
JavaScript (npm aws-iot-device-sdk-v2, on aws-crt's native MQTT clients),
unmodified, as a device would drive AWS IoT Core (issues #5 and #6).

js/fleet.js does the device's side: fleet provisioning by claim with the
SDK's IotIdentityClient (CreateKeysAndCertificate, a RegisterThing with a
bogus ownership token that must be rejected, then the real RegisterThing),
then, with the certificate it got, the IotShadowClient: UpdateShadow
reported, UpdateShadow desired with the delta event, GetShadow, a named
shadow update, DeleteShadow and a GetShadow that must be rejected. It
prints one JSON line per step. This file makes the template, the claim
certificate and its claim-only policy with boto3, runs fleet.js, and checks
what it printed against the server's registry (boto3 "iot") and shadows
(boto3 "iot-data"). It runs twice: identity over MQTT 3.1.1 and shadows
over MQTT 5, then the other way round, so both of the SDK's clients meet
both services.

The SDK comes from the npm registry, pinned by js/package-lock.json:
`npm ci --ignore-scripts` installs it into js/node_modules (not committed)
when it is missing. aws-crt's native binaries are inside its npm package, so
nothing else is fetched. No node or npm: the test is skipped; npm ci failing
(no registry): the test fails.
"""

import json
import os
import shutil
import subprocess
import unittest

import api_client as api
from registry_util import TIMEOUT, RegistryCase, cert_id, read, write

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
SDK_MARK = os.path.join(JS_DIR, "node_modules", "aws-iot-device-sdk-v2", "package.json")
NPM_CI_TIMEOUT = 240
FLEET_TIMEOUT = 6 * TIMEOUT  # the whole fleet.js run: 60 s by default
NAMED_SHADOW = "config"

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = "arn:aws:iam::%s:role/roost-provisioning" % ACCOUNT


def arn(kind, name):
    return "arn:aws:iot:%s:%s:%s/%s" % (REGION, ACCOUNT, kind, name)


# The claim certificate's policy: the provisioning topics and nothing else,
# as AWS's fleet provisioning guide has it.
CLAIM_DOC = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [
        arn("topic", "$aws/certificates/create/*"),
        arn("topic", "$aws/provisioning-templates/*")]},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": [
        arn("topicfilter", "$aws/certificates/create/*"),
        arn("topicfilter", "$aws/provisioning-templates/*")]}]}


# The provisioned device's policy, AWS's shadow example shape: it connects
# as its own thing and reaches its own shadows only (policy variables that
# need the certificate bound to the thing, which RegisterThing does).
THING = "${iot:Connection.Thing.ThingName}"
DEVICE_DOC = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": arn("client", THING)},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
     "Resource": arn("topic", "$aws/things/%s/shadow/*" % THING)},
    {"Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": arn("topicfilter", "$aws/things/%s/shadow/*" % THING)}]}


def fleet_template(device_policy):
    """A thing named fleet-<SerialNumber> with the serial as an attribute,
    the certificate activated, the device policy attached."""
    return json.dumps({
        "Parameters": {"SerialNumber": {"Type": "String"},
                       "AWS::IoT::Certificate::Id": {"Type": "String"}},
        "Resources": {
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Active"}},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": device_policy}},
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Fn::Join": ["", ["fleet-", {"Ref": "SerialNumber"}]]},
                "AttributePayload": {"serial": {"Ref": "SerialNumber"}}}}},
        "DeviceConfiguration": {
            "FallbackUrl": "https://www.example.com/test-site",
            "LocationUrl": {"Fn::Join": ["", ["https://example.aws/", {"Ref": "SerialNumber"}]]}}})


STEPS = ["CreateKeysAndCertificate", "RegisterThingRejected", "RegisterThing",
         "UpdateShadowReported", "ShadowDelta", "GetShadow", "UpdateNamedShadow",
         "DeleteShadow", "GetShadowRejected", "done"]


def data_client(server):
    """boto3's "iot-data" client for the server, retries off."""
    akid, secret = api.admin_keys(server)
    cfg = api.botocore.config.Config(retries={"total_max_attempts": 1},
                                     connect_timeout=TIMEOUT, read_timeout=TIMEOUT)
    return api.boto3.client("iot-data", endpoint_url=api.endpoint(server),
                            region_name=api.REGION, aws_access_key_id=akid,
                            aws_secret_access_key=secret, verify=server.ca_cert, config=cfg)


def install_sdk():
    """npm ci from the committed lock file when node_modules lacks the SDK.
    --ignore-scripts: aws-crt's install script would only build the native
    module from source (fetching node headers) on a platform whose binary
    its package lacks; its shipped binaries are all this needs."""
    if os.path.exists(SDK_MARK):
        return
    r = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                       cwd=JS_DIR, capture_output=True, text=True, timeout=NPM_CI_TIMEOUT,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0 or not os.path.exists(SDK_MARK):
        raise AssertionError("npm ci in %s failed (%d); the npm registry must be reachable:\n%s\n%s"
                             % (JS_DIR, r.returncode, r.stdout[-3000:], r.stderr[-3000:]))


class SdkJsFleetShadowTest(RegistryCase):
    """Fleet provisioning by claim and device shadows with the JS SDK."""

    @classmethod
    def setUpClass(cls):
        missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
        if missing:
            raise unittest.SkipTest("%s not installed (scripts/install-deps.sh installs "
                                    "Debian's nodejs and npm)" % " and ".join(missing))
        install_sdk()
        super().setUpClass()
        cls.data = data_client(cls.server)

    @classmethod
    def tearDownClass(cls):
        data = getattr(cls, "data", None)
        if data is not None:
            data.close()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.device_policy = self.name("devpol")
        self.iot.create_policy(policyName=self.device_policy,
                               policyDocument=json.dumps(DEVICE_DOC))

    # -- what the test sets up on the server, as an AWS account admin would
    def template(self):
        name = self.name("tpl")
        self.iot.create_provisioning_template(
            templateName=name, templateBody=fleet_template(self.device_policy),
            provisioningRoleArn=ROLE, enabled=True)
        return name

    def claim(self):
        """A claim certificate whose policy allows only the provisioning topics."""
        r = self.iot.create_keys_and_certificate(setAsActive=True)
        pol = self.name("claim")
        self.iot.create_policy(policyName=pol, policyDocument=json.dumps(CLAIM_DOC))
        self.iot.attach_policy(policyName=pol, target=r["certificateArn"])
        cert = write(os.path.join(self.tmp, pol + ".pem"), r["certificatePem"])
        key = write(os.path.join(self.tmp, pol + ".key"), r["keyPair"]["PrivateKey"])
        return cert, key, r["certificateId"]

    # -- the device
    def run_fleet(self, template, serial, identity_protocol, shadow_protocol):
        """Runs fleet.js; returns its steps as {step: line}, failing the test
        with its stderr and the server log when it fails."""
        cert, key, _ = self.claim()
        out_dir = os.path.join(self.tmp, "device-" + serial)
        cmd = ["node", os.path.join(JS_DIR, "fleet.js"),
               "--port", str(self.server.port("mqtt")), "--ca", self.server.ca_cert,
               "--claim-cert", cert, "--claim-key", key, "--template", template,
               "--params", json.dumps({"SerialNumber": serial}), "--out-dir", out_dir,
               "--claim-client-id", self.cid("claim"), "--named-shadow", NAMED_SHADOW,
               "--identity-protocol", identity_protocol, "--shadow-protocol", shadow_protocol,
               "--timeout-ms", str(int(TIMEOUT * 1000)),
               "--crt-log", os.environ.get("ROOST_TEST_CRT_LOG", "none")]
        try:
            r = subprocess.run(cmd, cwd=JS_DIR, capture_output=True, text=True,
                               timeout=FLEET_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            self.fail("fleet.js still running after %.0f s\n---- stdout ----\n%s\n---- stderr "
                      "----\n%s\n---- roostd log ----\n%s"
                      % (e.timeout, e.stdout, e.stderr, self.server.log_tail(80)))
        if r.returncode != 0:
            self.fail("fleet.js exited with %d\n---- stdout ----\n%s---- stderr ----\n%s"
                      "---- roostd log ----\n%s"
                      % (r.returncode, r.stdout, r.stderr[-6000:], self.server.log_tail(80)))
        lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        self.assertEqual([line["step"] for line in lines], STEPS, r.stdout)
        return {line["step"]: line for line in lines}, out_dir

    # -- the checks
    def check_provisioned(self, steps, out_dir, serial):
        thing = "fleet-" + serial
        new_id = steps["CreateKeysAndCertificate"]["certificateId"]
        self.assertEqual(steps["RegisterThingRejected"]["statusCode"], 400)
        self.assertEqual(steps["RegisterThingRejected"]["errorCode"],
                         "InvalidCertificateOwnershipToken")
        self.assertEqual(steps["RegisterThing"]["thingName"], thing)
        self.assertEqual(steps["RegisterThing"]["deviceConfiguration"], {
            "FallbackUrl": "https://www.example.com/test-site",
            "LocationUrl": "https://example.aws/" + serial})
        self.assertEqual(steps["done"], {"step": "done", "thingName": thing,
                                         "certificateId": new_id})
        # the certificate the SDK saved is the one the registry has, active and bound
        self.assertEqual(cert_id(read(os.path.join(out_dir, thing + ".pem"))), new_id)
        desc = self.iot.describe_certificate(certificateId=new_id)["certificateDescription"]
        self.assertEqual(desc["status"], "ACTIVE")
        self.assertEqual(self.iot.describe_thing(thingName=thing)["attributes"],
                         {"serial": serial})
        self.assertEqual(self.iot.list_thing_principals(thingName=thing)["principals"],
                         [arn("cert", new_id)])
        policies = self.iot.list_attached_policies(target=arn("cert", new_id))["policies"]
        self.assertEqual([p["policyName"] for p in policies], [self.device_policy])
        return thing

    def check_shadows(self, steps, thing):
        reported = {"temperature": 21, "mode": "eco"}
        self.assertEqual(steps["UpdateShadowReported"], {
            "step": "UpdateShadowReported", "state": {"reported": reported}, "version": 1,
            "clientToken": "sdkjs-1"})
        self.assertEqual(steps["ShadowDelta"]["state"], {"mode": "boost"})
        self.assertEqual(steps["ShadowDelta"]["version"], 2)
        self.assertTrue(steps["ShadowDelta"]["hasMetadata"], steps["ShadowDelta"])
        self.assertEqual(steps["GetShadow"]["state"], {
            "desired": {"mode": "boost"}, "reported": reported, "delta": {"mode": "boost"}})
        self.assertEqual((steps["GetShadow"]["version"], steps["GetShadow"]["clientToken"]),
                         (2, "sdkjs-3"))
        self.assertEqual(steps["UpdateNamedShadow"]["state"],
                         {"reported": {"firmware": "1.2.3"}})
        self.assertEqual((steps["DeleteShadow"]["version"], steps["DeleteShadow"]["clientToken"]),
                         (2, "sdkjs-4"))
        gone = steps["GetShadowRejected"]
        self.assertEqual((gone["code"], gone["clientToken"]), (404, "sdkjs-5"))
        self.assertEqual(gone["message"], "No shadow exists with name: '%s'" % thing)
        # the server's view through the HTTPS data plane
        with self.assertRaises(self.data.exceptions.ResourceNotFoundException):
            self.data.get_thing_shadow(thingName=thing)
        doc = json.loads(self.data.get_thing_shadow(thingName=thing,
                                                    shadowName=NAMED_SHADOW)["payload"].read())
        self.assertEqual(doc["state"], {"reported": {"firmware": "1.2.3"}})
        self.assertEqual(doc["version"], 1)
        self.assertEqual(self.data.list_named_shadows_for_thing(thingName=thing)["results"],
                         [NAMED_SHADOW])

    def provision_and_shadow(self, identity_protocol, shadow_protocol):
        template = self.template()
        serial = "js-%s-%s" % (identity_protocol, self._uid)
        steps, out_dir = self.run_fleet(template, serial, identity_protocol, shadow_protocol)
        thing = self.check_provisioned(steps, out_dir, serial)
        self.check_shadows(steps, thing)

    def test_identity_mqtt311_shadow_mqtt5(self):
        self.provision_and_shadow("mqtt311", "mqtt5")

    def test_identity_mqtt5_shadow_mqtt311(self):
        self.provision_and_shadow("mqtt5", "mqtt311")


if __name__ == "__main__":
    unittest.main()
