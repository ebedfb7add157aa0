"""test_23_provisioning - provisioning without hand work, end to end with
real clients:

JITP/JITR: a CA made with openssl and registered with the aws CLI
(get-registration-code, a verification certificate, register-ca-certificate
--allow-auto-registration --registration-config templateBody=...); device
certificates signed by it and sent with the CA in the chain.
mosquitto_pub fails the first time and succeeds the second (AWS's
behaviour), `aws iot list-things` shows the thing with the template's
attributes; with the CA tag roost:jitp_first_connect=accept the very first
connection works; without a template the certificate stays
PENDING_ACTIVATION until activated; a template the certificate cannot
satisfy leaves it PENDING_ACTIVATION; the registered event reaches a
subscriber; a storm of new devices at once is provisioned exactly once.

Fleet provisioning by claim with paho: CreateKeysAndCertificate and
CreateCertificateFromCsr (JSON and CBOR), RegisterThing with parameters,
the device reconnecting with its new certificate, rotation, ownership
tokens single use, answers private to the requester, pre-provisioning hooks
(a local command and a webhook), and the refusals: unknown template,
disabled template, bad payloads, a claim certificate publishing elsewhere.
"""

import concurrent.futures
import datetime
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import cbor2  # noqa: E402  (Debian python3-cbor2)
from cryptography import x509  # noqa: E402  (Debian python3-cryptography)
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

import mqtt_raw  # noqa: E402
from registry_util import (HOST, SLOW, TIMEOUT, RegistryCase, cert_id, make_csr,  # noqa: E402
                           make_verification_cert, mqtt_attempt, new_ca, read, write)

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = "arn:aws:iam::%s:role/roost-provisioning" % ACCOUNT


def arn(kind, name):
    return "arn:aws:iot:%s:%s:%s/%s" % (REGION, ACCOUNT, kind, name)


def jitp_template(batch, require_country=True):
    """AWS's JITP example shape: the thing is named after the certificate's
    CN and carries the batch and the certificate's country; an inline policy
    lets the device connect as its thing and publish under things/<name>/."""
    params = {"AWS::IoT::Certificate::CommonName": {"Type": "String"},
              "AWS::IoT::Certificate::Id": {"Type": "String"}}
    attrs = {"batch": batch}
    if require_country:
        params["AWS::IoT::Certificate::Country"] = {"Type": "String"}
        attrs["country"] = {"Ref": "AWS::IoT::Certificate::Country"}
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": arn("client", "${iot:Connection.Thing.ThingName}")},
        {"Effect": "Allow", "Action": "iot:Publish",
         "Resource": arn("topic", "things/${iot:Connection.Thing.ThingName}/*")}]}
    return json.dumps({
        "Parameters": params,
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"},
                "AttributePayload": attrs}},
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {
                "PolicyDocument": json.dumps(policy)}}}})


class DeviceFactory:
    """A CA key in memory that signs device certificates fast (python
    cryptography): a storm needs hundreds, openssl's CLI would take minutes."""

    def __init__(self, ca_cert_path, ca_key_path):
        self.ca_pem = read(ca_cert_path)
        self.ca = x509.load_pem_x509_certificate(self.ca_pem.encode())
        self.key = serialization.load_pem_private_key(read(ca_key_path).encode(), None)

    def device(self, directory, cn, country="DE"):
        """(chained cert path, key path, certificate id): the device's
        certificate followed by the CA's, as JITP devices send them."""
        key = ec.generate_private_key(ec.SECP256R1())
        names = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if country:
            names.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name(names))
                .issuer_name(self.ca.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.CLIENT_AUTH]),
                               False)
                .sign(self.key, hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        chained = write(os.path.join(directory, cn + ".chain.pem"), pem + self.ca_pem)
        keyp = write(os.path.join(directory, cn + ".key"), key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode())
        return chained, keyp, cert_id(pem)


def mqtt_connect_once(server, cert, key, client_id, timeout=TIMEOUT):
    """One MQTT 3.1.1 connection attempt with a client certificate (no
    policy attached by the helper: these devices bring their own). Returns
    ("ok", rc) or ("refused", why)."""
    return mqtt_attempt(server, cert, key, client_id=client_id, timeout=timeout, allow=False)


class JitpBase(RegistryCase):
    """A CA registered through the aws CLI, and what the JITP tests watch."""

    def status_of_or_none(self, cid):
        try:
            return self.status_of(cid)
        except self.iot.exceptions.ResourceNotFoundException:
            return None

    def register_ca(self, template=None, first_connect=None, auto=True):
        """A new CA registered with proof of possession, ACTIVE, auto-registration
        on, and the JITP template (aws CLI throughout). Returns (factory, ca id)."""
        ca_cert, ca_key = new_ca(self.tmp, self.name("ca"))
        code = self.cli("iot", "get-registration-code")["registrationCode"]
        verif = make_verification_cert(self.tmp, self.name("verif"), ca_cert, ca_key, code)
        args = ["iot", "register-ca-certificate", "--ca-certificate", "file://" + ca_cert,
                "--verification-cert", "file://" + verif, "--set-as-active"]
        args.append("--allow-auto-registration" if auto else "--no-allow-auto-registration")
        if template is not None:
            cfg = write(os.path.join(self.tmp, self.name("regcfg") + ".json"),
                        json.dumps({"templateBody": template, "roleArn": ROLE}))
            args += ["--registration-config", "file://" + cfg]
        if first_connect:
            args += ["--tags", "Key=roost:jitp_first_connect,Value=" + first_connect]
        ca_id = self.cli(*args)["certificateId"]
        return DeviceFactory(ca_cert, ca_key), ca_id

    def watch_registered(self, ca_id):
        """A subscriber (plain listener) on the CA's registered events."""
        w = self.paho()
        w.subscribe("$aws/events/certificates/registered/" + ca_id, 1)
        return w



class JitpCase(JitpBase):
    """JITP and JITR, AWS's way and Roost's first-connect acceptance."""

    def test_jitp_first_connection_closed_second_works(self):
        batch = self.name("batch")
        factory, ca_id = self.register_ca(jitp_template(batch))
        watcher = self.watch_registered(ca_id)
        cn = self.name("jitp")
        cert, key, cid = factory.device(self.tmp, cn, country="NO")
        topic = "things/%s/hello" % cn
        cmd = ["mosquitto_pub", "-h", "localhost", "-p", str(self.server.port("mqtt")),
               "-V", "mqttv311", "--cafile", self.server.ca_cert, "--cert", cert, "--key", key,
               "-i", cn, "-t", topic, "-m", "hi", "-q", "1"]
        first = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT + 5,
                               stdin=subprocess.DEVNULL)
        self.assertNotEqual(first.returncode, 0, "the first connection must be closed (AWS)")
        ev = json.loads(watcher.get().payload)
        self.assertEqual(ev["certificateId"], cid)
        self.assertEqual(ev["caCertificateId"], ca_id)
        self.assertEqual(ev["certificateStatus"], "PENDING_ACTIVATION")
        self.assertEqual(ev["awsAccountId"], ACCOUNT)
        self.assertIsInstance(ev["timestamp"], int)
        # the device retries (a real one backs off); provisioning commits meanwhile
        self.wait_for(lambda: self.status_of_or_none(cid) == "ACTIVE", what="JITP to finish")
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT + 5,
                                stdin=subprocess.DEVNULL)
        self.assertEqual(second.returncode, 0, second.stderr)
        things = self.cli("iot", "list-things", "--attribute-name", "batch",
                          "--attribute-value", batch)["things"]
        self.assertEqual([t["thingName"] for t in things], [cn])
        self.assertEqual(things[0]["attributes"], {"batch": batch, "country": "NO"})
        self.assertEqual(self.iot.list_thing_principals(thingName=cn)["principals"],
                         [arn("cert", cid)])
        desc = self.iot.describe_certificate(certificateId=cid)["certificateDescription"]
        self.assertEqual(desc["caCertificateId"], ca_id)
        pols = self.iot.list_attached_policies(target=arn("cert", cid))["policies"]
        self.assertEqual(len(pols), 1)
        # its policy holds: another thing's topic is refused (3.1.1: disconnect)
        other = subprocess.run(cmd[:-6] + ["-t", "things/else/x", "-m", "no", "-q", "1"],
                               capture_output=True, text=True, timeout=TIMEOUT + 5,
                               stdin=subprocess.DEVNULL)
        self.assertNotEqual(other.returncode, 0)

    def test_first_connect_accept_per_ca_tag(self):
        batch = self.name("batch")
        factory, ca_id = self.register_ca(jitp_template(batch), first_connect="accept")
        cn = self.name("nerves")
        cert, key, cid = factory.device(self.tmp, cn)
        topic = "things/%s/boot" % cn
        r = subprocess.run(["mosquitto_pub", "-h", "localhost", "-p",
                            str(self.server.port("mqtt")), "-V", "mqttv311", "--cafile",
                            self.server.ca_cert, "--cert", cert, "--key", key, "-i", cn, "-t",
                            topic, "-m", "first", "-q", "1"],
                           capture_output=True, text=True, timeout=TIMEOUT + 5,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, "the very first connection must work: " + r.stderr)
        self.assertEqual(self.status_of(cid), "ACTIVE")
        self.assertEqual(self.iot.describe_thing(thingName=cn)["attributes"]["batch"], batch)

    def test_jitr_without_template_stays_pending(self):
        factory, ca_id = self.register_ca(template=None, first_connect="accept")
        watcher = self.watch_registered(ca_id)
        cn = self.name("jitr")
        cert, key, cid = factory.device(self.tmp, cn)
        verdict, why = mqtt_connect_once(self.server, cert, key, cn)
        self.assertEqual(verdict, "refused", "JITR without activation must not connect")
        self.assertEqual(json.loads(watcher.get().payload)["certificateId"], cid)
        self.wait_for(lambda: self.status_of_or_none(cid) == "PENDING_ACTIVATION",
                      what="registration")
        # presenting it again fires the event again (AWS) and still refuses
        self.assertEqual(mqtt_connect_once(self.server, cert, key, cn)[0], "refused")
        self.assertEqual(json.loads(watcher.get().payload)["certificateId"], cid)
        # an operator (or a rule) activates it and gives it a policy
        self.iot.update_certificate(certificateId=cid, newStatus="ACTIVE")
        pol = self.name("pol")
        self.iot.create_policy(policyName=pol, policyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}))
        self.iot.attach_policy(policyName=pol, target=arn("cert", cid))
        self.assertEqual(mqtt_connect_once(self.server, cert, key, cn), ("ok", 0))

    def test_template_missing_subject_field_leaves_pending(self):
        factory, ca_id = self.register_ca(jitp_template(self.name("b")))
        cn = self.name("nocountry")
        cert, key, cid = factory.device(self.tmp, cn, country=None)
        self.assertEqual(mqtt_connect_once(self.server, cert, key, cn)[0], "refused")
        self.wait_for(lambda: self.status_of_or_none(cid) == "PENDING_ACTIVATION",
                      what="registration without the template")
        self.assertApiError("ResourceNotFoundException", 404, self.iot.describe_thing,
                            thingName=cn)
        self.assertIn("AWS::IoT::Certificate::Country", self.server.log_tail(400))

    def test_ca_without_auto_registration_refuses(self):
        factory, ca_id = self.register_ca(jitp_template(self.name("b")), auto=False)
        cn = self.name("noauto")
        cert, key, cid = factory.device(self.tmp, cn)
        self.assertEqual(mqtt_connect_once(self.server, cert, key, cn)[0], "refused")
        self.assertIsNone(self.status_of_or_none(cid))

    def test_storm_provisions_each_device_once(self):
        """Many new devices at once, each retrying until it connects (AWS
        mode): every one ends ACTIVE with exactly one thing, no duplicates."""
        n = 1000 if SLOW == 1 and not os.environ.get("ROOST_SANITIZE") else 200
        batch = self.name("storm")
        factory, ca_id = self.register_ca(jitp_template(batch, require_country=False))
        devices = [factory.device(self.tmp, "%s-%04d" % (batch, i), country=None)
                   for i in range(n)]

        def attempt(i):
            cert, key, _ = devices[i]
            cn = "%s-%04d" % (batch, i)
            deadline = time.monotonic() + 60 * SLOW
            tries = 0
            while time.monotonic() < deadline:
                tries += 1
                try:
                    verdict, _ = mqtt_connect_once(self.server, cert, key, cn, timeout=15)
                except OSError:
                    verdict = "refused"
                if verdict == "ok":
                    return tries
                time.sleep(0.05 * min(tries, 10))
            return None

        with concurrent.futures.ThreadPoolExecutor(64) as pool:
            tries = list(pool.map(attempt, range(n)))
        self.assertNotIn(None, tries, "some devices never connected")
        names = set()
        paginator = self.iot.get_paginator("list_things")
        for page in paginator.paginate(attributeName="batch", attributeValue=batch,
                                       PaginationConfig={"PageSize": 250}):
            for t in page["things"]:
                self.assertNotIn(t["thingName"], names, "duplicate thing")
                names.add(t["thingName"])
        self.assertEqual(len(names), n)
        by_ca = set()
        for page in self.iot.get_paginator("list_certificates_by_ca").paginate(
                caCertificateId=ca_id, PaginationConfig={"PageSize": 250}):
            for c in page["certificates"]:
                self.assertEqual(c["status"], "ACTIVE")
                by_ca.add(c["certificateId"])
        self.assertEqual(by_ca, {d[2] for d in devices})


class JitpAcceptConfigCase(JitpBase):
    """jitp_first_connect = accept in roost.conf: every auto-registering CA
    with a template lets the first connection through."""

    CONFIG = {"allow_unregistered_certs": "false", "jitp_first_connect": "accept"}

    def test_first_connect_accept_from_server_config(self):
        factory, ca_id = self.register_ca(jitp_template(self.name("b")))
        cn = self.name("cfg")
        cert, key, cid = factory.device(self.tmp, cn)
        self.assertEqual(mqtt_connect_once(self.server, cert, key, cn), ("ok", 0))
        # a CA's tag still wins over the server's setting
        factory, ca_id = self.register_ca(jitp_template(self.name("b")), first_connect="reject")
        cn = self.name("tagged")
        cert, key, cid = factory.device(self.tmp, cn)
        self.assertEqual(mqtt_connect_once(self.server, cert, key, cn)[0], "refused")


# ---------------------------------------------------------------- fleet provisioning

CLAIM_DOC = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [
        arn("topic", "$aws/certificates/create/*"),
        arn("topic", "$aws/certificates/create-from-csr/*"),
        arn("topic", "$aws/provisioning-templates/*")]},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": [
        arn("topicfilter", "$aws/certificates/create/*"),
        arn("topicfilter", "$aws/certificates/create-from-csr/*"),
        arn("topicfilter", "$aws/provisioning-templates/*")]}]}


def fleet_template(device_policy, hook=False):
    return json.dumps({
        "Parameters": {"SerialNumber": {"Type": "String"},
                       "AWS::IoT::Certificate::Id": {"Type": "String"}},
        "Resources": {
            "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Active"}},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": device_policy}},
            "thing": {"Type": "AWS::IoT::Thing",
                      "OverrideSettings": {"AttributePayload": "MERGE"},
                      "Properties": {
                          "ThingName": {"Fn::Join": ["", ["fleet-", {"Ref": "SerialNumber"}]]},
                          "AttributePayload": {"serial": {"Ref": "SerialNumber"}}}}},
        "DeviceConfiguration": {
            "FallbackUrl": "https://www.example.com/test-site",
            "LocationUrl": {"Fn::Join": ["", ["https://example.aws/", {"Ref": "SerialNumber"}]]}}})


class HookHandler(http.server.BaseHTTPRequestHandler):
    """A webhook: allows serial numbers starting with OK and overrides a parameter."""
    seen = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        HookHandler.seen.append(body)
        allow = body["parameters"].get("SerialNumber", "").startswith("OK")
        answer = json.dumps({"allowProvisioning": allow,
                             "parameterOverrides": {"SerialNumber": "WEB" + body["parameters"]
                                                    ["SerialNumber"]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *a):
        pass


class FleetCase(RegistryCase):
    """Fleet provisioning by claim over MQTT with paho."""

    def setUp(self):
        super().setUp()
        self.device_policy = self.name("devpol")
        self.iot.create_policy(policyName=self.device_policy, policyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
                {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive", "iot:Subscribe"],
                 "Resource": "*"}]}))

    def template(self, hook=None, enabled=True, body=None):
        name = self.name("tpl")
        kw = dict(templateName=name, templateBody=body or fleet_template(self.device_policy),
                  provisioningRoleArn=ROLE, enabled=enabled)
        if hook:
            kw["preProvisioningHook"] = {"targetArn": hook, "payloadVersion": "2020-04-01"}
        self.iot.create_provisioning_template(**kw)
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

    def client(self, cert, key, client_id=None):
        return self.paho(client_id or self.cid("fleet%d" % len(self._clients)), kind="mqtt",
                         cert=(cert, key))

    def call(self, c, topic, payload, fmt="json"):
        """Publish a request and return (accepted?, decoded answer)."""
        c.subscribe(topic + "/accepted", 1)
        c.subscribe(topic + "/rejected", 1)
        data = cbor2.dumps(payload) if fmt == "cbor" else json.dumps(payload).encode()
        c.publish(topic, data, 1)
        m = c.take(lambda m: m.topic in (topic + "/accepted", topic + "/rejected"))
        body = cbor2.loads(m.payload) if fmt == "cbor" else json.loads(m.payload)
        return m.topic.endswith("/accepted"), body

    def create_keys(self, c, fmt="json"):
        ok, body = self.call(c, "$aws/certificates/create/" + fmt, {}, fmt)
        self.assertTrue(ok, body)
        self.assertEqual(set(body), {"certificateId", "certificatePem", "privateKey",
                                     "certificateOwnershipToken"})
        return body

    def register(self, c, tpl, token, params, fmt="json"):
        return self.call(c, "$aws/provisioning-templates/%s/provision/%s" % (tpl, fmt),
                         {"certificateOwnershipToken": token, "parameters": params}, fmt)

    def save(self, created, name):
        cert = write(os.path.join(self.tmp, name + ".pem"), created["certificatePem"])
        key = write(os.path.join(self.tmp, name + ".key"), created["privateKey"])
        return cert, key

    def test_claim_to_device(self):
        tpl = self.template()
        cert, key, claim_id = self.claim()
        c = self.client(cert, key)
        created = self.create_keys(c)
        new_id = created["certificateId"]
        self.assertEqual(new_id, cert_id(created["certificatePem"]))
        self.assertEqual(self.status_of(new_id), "PENDING_ACTIVATION")
        ok, body = self.register(c, tpl, created["certificateOwnershipToken"],
                                 {"SerialNumber": "1234"})
        self.assertTrue(ok, body)
        self.assertEqual(body, {"thingName": "fleet-1234", "deviceConfiguration": {
            "FallbackUrl": "https://www.example.com/test-site",
            "LocationUrl": "https://example.aws/1234"}})
        self.assertEqual(self.status_of(new_id), "ACTIVE")
        self.assertEqual(self.iot.describe_thing(thingName="fleet-1234")["attributes"],
                         {"serial": "1234"})
        self.assertEqual(self.iot.list_thing_principals(thingName="fleet-1234")["principals"],
                         [arn("cert", new_id)])
        # the same token again: single use
        ok, body = self.register(c, tpl, created["certificateOwnershipToken"],
                                 {"SerialNumber": "1234"})
        self.assertFalse(ok)
        self.assertEqual(body["statusCode"], 400)
        self.assertEqual(body["errorCode"], "InvalidCertificateOwnershipToken")
        c.close()
        # the device reconnects with its own certificate
        dcert, dkey = self.save(created, "fleet-1234")
        d = self.client(dcert, dkey, client_id="fleet-1234")
        t = self.topic("own")
        d.subscribe(t, 1)
        d.publish(t, b"mine", 1)
        self.assertEqual(d.get(t).payload, b"mine")

    def test_rotation_keeps_the_old_certificate(self):
        tpl = self.template()
        cert, key, _ = self.claim()
        c = self.client(cert, key)
        first = self.create_keys(c)
        self.assertTrue(self.register(c, tpl, first["certificateOwnershipToken"],
                                      {"SerialNumber": "rot1"})[0])
        c.close()
        dcert, dkey = self.save(first, "rot1")
        d = self.client(dcert, dkey, client_id="fleet-rot1")
        second = self.create_keys(d)
        ok, body = self.register(d, tpl, second["certificateOwnershipToken"],
                                 {"SerialNumber": "rot1"})
        self.assertTrue(ok, body)
        self.assertEqual(body["thingName"], "fleet-rot1")
        principals = set(self.iot.list_thing_principals(thingName="fleet-rot1")["principals"])
        self.assertEqual(principals, {arn("cert", first["certificateId"]),
                                      arn("cert", second["certificateId"])})
        self.assertEqual(self.status_of(first["certificateId"]), "ACTIVE")
        self.assertEqual(self.status_of(second["certificateId"]), "ACTIVE")
        ncert, nkey = self.save(second, "rot1-new")
        self.client(ncert, nkey, client_id="fleet-rot1-b")  # connects

    def test_csr_and_cbor(self):
        tpl = self.template()
        cert, key, _ = self.claim()
        c = self.client(cert, key)
        csr, csr_key = make_csr(self.tmp, self.name("csr"))
        ok, body = self.call(c, "$aws/certificates/create-from-csr/cbor",
                             {"certificateSigningRequest": read(csr)}, "cbor")
        self.assertTrue(ok, body)
        self.assertEqual(set(body), {"certificateId", "certificatePem",
                                     "certificateOwnershipToken"})
        ok, body = self.register(c, tpl, body["certificateOwnershipToken"],
                                 {"SerialNumber": "cbor1"}, fmt="cbor")
        self.assertTrue(ok, body)
        self.assertEqual(body["thingName"], "fleet-cbor1")
        # JSON CSR with a broken CSR: rejected with a reason
        ok, body = self.call(c, "$aws/certificates/create-from-csr/json",
                             {"certificateSigningRequest": "not a csr"})
        self.assertFalse(ok)
        self.assertEqual(body["statusCode"], 400)
        self.assertTrue(body["errorMessage"])

    def test_answers_are_private(self):
        cert, key, _ = self.claim()
        a = self.client(cert, key)
        b = self.client(cert, key)
        b.subscribe("$aws/certificates/create/json/accepted", 1)
        self.create_keys(a)
        self.assertTrue(b.none(lambda m: m.topic.startswith("$aws/certificates/")))

    def test_refusals(self):
        tpl = self.template()
        off = self.template(enabled=False)
        cert, key, _ = self.claim()
        c = self.client(cert, key)
        created = self.create_keys(c)
        tok = created["certificateOwnershipToken"]
        ok, body = self.register(c, self.name("nosuch"), tok, {"SerialNumber": "x"})
        self.assertFalse(ok)
        self.assertEqual(body["statusCode"], 404, body)
        ok, body = self.register(c, off, tok, {"SerialNumber": "x"})
        self.assertFalse(ok, body)
        ok, body = self.register(c, tpl, "", {"SerialNumber": "x"})
        self.assertEqual((ok, body["errorCode"], body["errorMessage"]),
                         (False, "InvalidCertificateOwnershipToken",
                          "Certificate ownership token cannot be empty."))
        ok, body = self.register(c, tpl, "bogus-token", {"SerialNumber": "x"})
        self.assertEqual((ok, body["errorCode"]), (False, "InvalidCertificateOwnershipToken"))
        ok, body = self.register(c, tpl, tok, {})  # SerialNumber missing
        self.assertFalse(ok)
        self.assertIn("SerialNumber", body["errorMessage"])
        topic = "$aws/provisioning-templates/%s/provision/json" % tpl
        c.subscribe(topic + "/rejected", 1)
        c.publish(topic, b"{not json", 1)
        self.assertEqual(json.loads(c.get(topic + "/rejected").payload)["statusCode"], 400)
        # the token survived all these: it still works once
        ok, body = self.register(c, tpl, tok, {"SerialNumber": "late"})
        self.assertTrue(ok, body)
        # a claim certificate may not publish anywhere else (3.1.1: disconnect)
        c.publish("things/elsewhere", b"x", 0, wait=False)
        c.wait_disconnected()

    def test_command_hook(self):
        script = write(os.path.join(self.tmp, "hook.sh"),
                       "#!/bin/sh\nin=$(cat)\n"
                       "case \"$in\" in *'\"SerialNumber\":\"OK'*) "
                       "echo '{\"allowProvisioning\":true,\"parameterOverrides\":"
                       "{\"SerialNumber\":\"HOOKED\"}}';;\n"
                       "*) echo '{\"allowProvisioning\":false}';; esac\n")
        os.chmod(script, 0o755)
        tpl = self.template(hook="exec:" + script)
        cert, key, _ = self.claim()
        c = self.client(cert, key)
        created = self.create_keys(c)
        ok, body = self.register(c, tpl, created["certificateOwnershipToken"],
                                 {"SerialNumber": "BAD"})
        self.assertFalse(ok)
        self.assertEqual(body["statusCode"], 403)
        ok, body = self.register(c, tpl, created["certificateOwnershipToken"],
                                 {"SerialNumber": "OK1"})
        self.assertTrue(ok, body)
        self.assertEqual(body["thingName"], "fleet-HOOKED")

    def test_webhook(self):
        srv = http.server.ThreadingHTTPServer((HOST, 0), HookHandler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        tpl = self.template(hook="http://%s:%d/hook" % (HOST, srv.server_address[1]))
        cert, key, claim_id = self.claim()
        c = self.client(cert, key)
        created = self.create_keys(c)
        ok, body = self.register(c, tpl, created["certificateOwnershipToken"],
                                 {"SerialNumber": "OK7"})
        self.assertTrue(ok, body)
        self.assertEqual(body["thingName"], "fleet-WEBOK7")
        seen = HookHandler.seen[-1]
        self.assertEqual(seen["claimCertificateId"], claim_id)
        self.assertEqual(seen["certificateId"], created["certificateId"])
        self.assertEqual(seen["templateArn"], arn("provisioningtemplate", tpl))
        self.assertEqual(seen["parameters"], {"SerialNumber": "OK7"})
        self.assertEqual(seen["clientId"], c.client_id)


if __name__ == "__main__":
    unittest.main()
