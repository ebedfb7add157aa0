"""test_13_registry_certs - certificates, CA certificates and policies
through boto3 and the aws CLI against a real roostd that binds devices to
registered certificates: CreateKeysAndCertificate, CreateCertificateFromCsr
(CSR from `openssl req`), RegisterCertificate(WithoutCA), DescribeCertificate
(wire types: epoch numbers), ListCertificates pagination, the status rules of
UpdateCertificate and DeleteCertificate; CA registration with a CA made here
(registration code, verification certificate, wrong CN refused), a device
certificate of that CA registered with the CLI and connecting with
mosquitto_pub; policies (versions up to five, default, delete rules,
attachments to certificates and thing groups, MalformedPolicyException).
"""

import datetime
import json
import os
import unittest

import api_client as api
from registry_util import (RegistryCase, alert_name, cert_id, make_cert, make_csr,
                           make_verification_cert, mosquitto_pub, mqtt_attempt, new_ca,
                           public_key_of, read, write)
from roostd_fixture import run

STATUSES = {"ACTIVE", "INACTIVE", "REVOKED", "PENDING_TRANSFER", "REGISTER_INACTIVE",
            "PENDING_ACTIVATION"}

POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}


def policy_doc(topic="t"):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
         "Resource": "arn:aws:iot:us-east-1:123456789012:topic/%s" % topic}]})


class CertificatesTest(RegistryCase):

    def check_issued(self, r, active):
        """An answer carrying a certificate Roost's CA issued."""
        pem = r["certificatePem"]
        self.assertEqual(r["certificateId"], cert_id(pem))
        self.assertRegex(r["certificateArn"],
                         r"^arn:aws:iot:us-east-1:\d{12}:cert/%s$" % r["certificateId"])
        path = write(os.path.join(self.tmp, r["certificateId"][:16] + ".pem"), pem)
        run(["openssl", "verify", "-CAfile", self.server.ca_cert, path])
        self.assertEqual(self.status_of(r["certificateId"]), "ACTIVE" if active else "INACTIVE")
        return path

    def test_create_keys_and_certificate(self):
        iot = self.iot
        inactive = iot.create_keys_and_certificate()
        self.check_issued(inactive, active=False)
        r = iot.create_keys_and_certificate(setAsActive=True)
        cert = self.check_issued(r, active=True)
        key = write(os.path.join(self.tmp, "kc.key"), r["keyPair"]["PrivateKey"])
        self.assertEqual(public_key_of(key, "key"), public_key_of(cert))
        self.assertEqual(r["keyPair"]["PublicKey"].strip(), public_key_of(cert).strip())
        # the private key is returned once: never stored, never described
        d = iot.describe_certificate(certificateId=r["certificateId"])["certificateDescription"]
        self.assertNotIn("PRIVATE KEY", json.dumps(d, default=str))
        self.assertNotEqual(inactive["certificateId"], r["certificateId"])
        # the issued pair works as a device identity
        self.assertEqual(mqtt_attempt(self.server, cert, key), ("ok", 0))

    def test_create_certificate_from_csr(self):
        iot = self.iot
        csr, key = make_csr(self.tmp, "fromcsr", cn="my-device")
        r = iot.create_certificate_from_csr(certificateSigningRequest=read(csr), setAsActive=True)
        cert = self.check_issued(r, active=True)
        self.assertEqual(public_key_of(cert), public_key_of(csr, "req"))
        self.assertEqual(mqtt_attempt(self.server, cert, key), ("ok", 0))
        # an RSA CSR through the CLI, inactive by default
        csr2, _ = make_csr(self.tmp, "fromcsr-rsa", rsa=True)
        out = self.cli("iot", "create-certificate-from-csr", "--certificate-signing-request",
                       "file://" + csr2)
        self.check_issued(out, active=False)
        self.assertEqual(public_key_of(write(os.path.join(self.tmp, "rsa.pem"),
                                             out["certificatePem"])),
                         public_key_of(csr2, "req"))
        # garbage is refused
        self.assertApiError("InvalidRequestException", 400, iot.create_certificate_from_csr,
                            certificateSigningRequest="-----BEGIN CERTIFICATE REQUEST-----\n"
                                                      "AAAA\n-----END CERTIFICATE REQUEST-----\n")

    def test_describe_certificate_types(self):
        iot = self.iot
        before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
        cert, key, cid, arn = self.registered_cert(status="INACTIVE")
        d = iot.describe_certificate(certificateId=cid)["certificateDescription"]
        self.assertEqual((d["certificateId"], d["certificateArn"], d["status"]),
                         (cid, arn, "INACTIVE"))
        self.assertEqual(d["certificatePem"].strip(), read(cert).strip())
        after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
        for k in ("creationDate", "lastModifiedDate"):
            self.assertIsInstance(d[k], datetime.datetime, k)
            self.assertTrue(before <= d[k] <= after, (k, d[k]))
        self.assertIsInstance(d["validity"]["notBefore"], datetime.datetime)
        self.assertGreater(d["validity"]["notAfter"], after)
        self.assertEqual(d["certificateMode"], "DEFAULT")
        self.assertIsInstance(d["customerVersion"], int)
        # on the wire: epoch seconds as JSON numbers (the JS v3 SDK insists)
        r = api.request(self.server, "GET", "/certificates/" + cid)
        self.assertEqual(r.status, 200, r)
        wire = r.json()["certificateDescription"]
        for v in (wire["creationDate"], wire["lastModifiedDate"],
                  wire["validity"]["notBefore"], wire["validity"]["notAfter"]):
            self.assertIsInstance(v, (int, float))
            self.assertNotIsInstance(v, bool)
        self.assertIsInstance(wire["customerVersion"], int)
        # ids are checked; upper case hex names the same certificate
        self.assertEqual(iot.describe_certificate(certificateId=cid.upper())
                         ["certificateDescription"]["certificateId"], cid)
        loose = api.iot_client(self.server, parameter_validation=False)
        self.addCleanup(loose.close)
        self.assertApiError("InvalidRequestException", 400, loose.describe_certificate,
                            certificateId="xyz")
        self.assertApiError("InvalidRequestException", 400, loose.describe_certificate,
                            certificateId="g" * 64)
        self.assertApiError("ResourceNotFoundException", 404, iot.describe_certificate,
                            certificateId="0" * 64)
        out = self.cli("iot", "describe-certificate", "--certificate-id", cid)
        self.assertEqual(out["certificateDescription"]["status"], "INACTIVE")
        self.cli_error("ResourceNotFoundException", "iot", "describe-certificate",
                       "--certificate-id", "f" * 64)

    def test_list_certificates_pagination(self):
        iot = self.iot
        mine = [iot.create_keys_and_certificate()["certificateId"] for _ in range(5)]
        pages = list(iot.get_paginator("list_certificates").paginate(
            PaginationConfig={"PageSize": 2}))
        self.assertGreaterEqual(len(pages), 3)
        for p in pages:
            self.assertLessEqual(len(p["certificates"]), 2)
            self.assertGreater(len(p["certificates"]), 0, "an empty page")
        for p in pages[:-1]:
            self.assertIsInstance(p.get("nextMarker"), str)
        self.assertNotIn("nextMarker", pages[-1])
        certs = [c for p in pages for c in p["certificates"]]
        ids = [c["certificateId"] for c in certs]
        self.assertEqual(len(ids), len(set(ids)), "a certificate on two pages")
        self.assertTrue(set(mine) <= set(ids))
        for c in certs:
            self.assertIn(c["status"], STATUSES)
            self.assertIsInstance(c["creationDate"], datetime.datetime)
            self.assertTrue(c["certificateArn"].endswith("/" + c["certificateId"]))
        # newest first by default, oldest first with isAscendingOrder
        dates = [c["creationDate"] for c in certs]
        self.assertEqual(dates, sorted(dates, reverse=True))
        asc = [c["certificateId"] for p in iot.get_paginator("list_certificates").paginate(
            ascendingOrder=True, PaginationConfig={"PageSize": 2}) for c in p["certificates"]]
        self.assertEqual(sorted(asc), sorted(ids))
        self.assertEqual([i for i in asc if i in mine], mine)
        # the marker is opaque but checked
        self.assertApiError("InvalidRequestException", 400, iot.list_certificates,
                            marker="bm90LWEtbWFya2Vy")
        # the CLI's own pagination
        out = self.cli_all("certificates", "iot", "list-certificates", max_items=5)
        got = [c["certificateId"] for c in out]
        self.assertEqual(len(got), len(set(got)))
        self.assertTrue(set(mine) <= set(got))

    def test_update_certificate_state_rules(self):
        iot = self.iot
        _, _, cid, _ = self.registered_cert(status="ACTIVE")
        v0 = iot.describe_certificate(certificateId=cid)["certificateDescription"]
        iot.update_certificate(certificateId=cid, newStatus="INACTIVE")
        self.assertEqual(self.status_of(cid), "INACTIVE")
        iot.update_certificate(certificateId=cid, newStatus="INACTIVE")  # same: fine
        iot.update_certificate(certificateId=cid, newStatus="ACTIVE")
        self.assertEqual(self.status_of(cid), "ACTIVE")
        v1 = iot.describe_certificate(certificateId=cid)["certificateDescription"]
        self.assertGreater(v1["customerVersion"], v0["customerVersion"])
        self.assertGreaterEqual(v1["lastModifiedDate"], v0["lastModifiedDate"])
        for bad in ("PENDING_TRANSFER", "PENDING_ACTIVATION", "DELETED"):
            with self.subTest(newStatus=bad):
                self.assertApiError("InvalidRequestException", 400, iot.update_certificate,
                                    certificateId=cid, newStatus=bad)
        self.assertEqual(self.status_of(cid), "ACTIVE")
        # revoked is final
        self.cli("iot", "update-certificate", "--certificate-id", cid, "--new-status", "REVOKED")
        self.assertEqual(self.status_of(cid), "REVOKED")
        r = self.assertApiError("CertificateStateException", 406, iot.update_certificate,
                                certificateId=cid, newStatus="ACTIVE")
        self.assertIn("REVOKED", r["Error"]["Message"])
        self.assertApiError("CertificateStateException", 406, iot.update_certificate,
                            certificateId=cid, newStatus="INACTIVE")
        self.cli_error("CertificateStateException", "iot", "update-certificate",
                       "--certificate-id", cid, "--new-status", "ACTIVE")
        self.assertEqual(self.status_of(cid), "REVOKED")
        self.assertApiError("ResourceNotFoundException", 404, iot.update_certificate,
                            certificateId="a" * 64, newStatus="INACTIVE")

    def test_delete_certificate_rules(self):
        iot = self.iot
        _, _, cid, arn = self.registered_cert(status="ACTIVE")
        r = self.assertApiError("CertificateStateException", 406, iot.delete_certificate,
                                certificateId=cid)
        self.assertIn("ACTIVE", r["Error"]["Message"])
        iot.update_certificate(certificateId=cid, newStatus="INACTIVE")
        thing = self.name("holder")
        iot.create_thing(thingName=thing)
        iot.attach_thing_principal(thingName=thing, principal=arn)
        self.assertApiError("DeleteConflictException", 409, iot.delete_certificate,
                            certificateId=cid)
        self.assertApiError("DeleteConflictException", 409, iot.delete_certificate,
                            certificateId=cid, forceDelete=True)  # force skips only policies
        iot.detach_thing_principal(thingName=thing, principal=arn)
        policy = self.name("pol")
        iot.create_policy(policyName=policy, policyDocument=json.dumps(POLICY))
        iot.attach_policy(policyName=policy, target=arn)
        self.assertApiError("DeleteConflictException", 409, iot.delete_certificate,
                            certificateId=cid)
        iot.delete_certificate(certificateId=cid, forceDelete=True)
        self.assertApiError("ResourceNotFoundException", 404, iot.describe_certificate,
                            certificateId=cid)
        self.assertApiError("ResourceNotFoundException", 404, iot.delete_certificate,
                            certificateId=cid)
        # the forced delete took the attachment along: the policy can go
        self.assertEqual(iot.list_targets_for_policy(policyName=policy)["targets"], [])
        iot.delete_policy(policyName=policy)
        # a REVOKED certificate can be deleted (via the CLI)
        _, _, cid2, _ = self.registered_cert(status="REVOKED", allow=False)
        self.cli("iot", "delete-certificate", "--certificate-id", cid2)
        self.assertApiError("ResourceNotFoundException", 404, iot.describe_certificate,
                            certificateId=cid2)

    def test_register_certificate_without_ca(self):
        iot = self.iot
        ca, ca_key = new_ca(os.path.join(self.tmp, "noca"), "noca-ca")
        cert, key = make_cert(self.tmp, "noca-dev", ca, ca_key)
        r = iot.register_certificate_without_ca(certificatePem=read(cert), status="ACTIVE")
        self.assertEqual(r["certificateId"], cert_id(read(cert)))
        d = iot.describe_certificate(certificateId=r["certificateId"])["certificateDescription"]
        self.assertEqual((d["status"], d["certificateMode"]), ("ACTIVE", "SNI_ONLY"))
        self.assertNotIn("caCertificateId", d)
        # twice: 409 naming the certificate
        e = self.assertApiError("ResourceAlreadyExistsException", 409,
                                iot.register_certificate_without_ca, certificatePem=read(cert))
        self.assertEqual((e.get("resourceId"), e.get("resourceArn")),
                         (r["certificateId"], r["certificateArn"]), e)
        # through RegisterCertificate too (same certificate, same answer)
        self.assertApiError("ResourceAlreadyExistsException", 409, iot.register_certificate,
                            certificatePem=read(cert))
        # default status, via the CLI
        cert2, _ = make_cert(self.tmp, "noca-dev2", ca, ca_key)
        out = self.cli("iot", "register-certificate-without-ca", "--certificate-pem",
                       "file://" + cert2)
        self.assertEqual(self.status_of(out["certificateId"]), "INACTIVE")
        # not a certificate; an expired one
        self.assertApiError("CertificateValidationException", 400,
                            iot.register_certificate_without_ca,
                            certificatePem="-----BEGIN CERTIFICATE-----\nAAAA\n"
                                           "-----END CERTIFICATE-----\n")
        now = datetime.datetime.now(datetime.timezone.utc)
        old, _ = make_cert(self.tmp, "noca-old", ca, ca_key,
                           not_before=now - datetime.timedelta(days=3),
                           not_after=now - datetime.timedelta(days=1))
        self.assertApiError("CertificateValidationException", 400,
                            iot.register_certificate_without_ca, certificatePem=read(old))
        # an unknown CA's certificate is not RegisterCertificate's business
        cert3, _ = make_cert(self.tmp, "noca-dev3", ca, ca_key)
        self.assertApiError("CertificateValidationException", 400, iot.register_certificate,
                            certificatePem=read(cert3), setAsActive=True)
        self.assertApiError("CertificateValidationException", 400, iot.register_certificate,
                            certificatePem=read(cert3), caCertificatePem=read(ca))

    def test_register_certificate_of_roost_ca(self):
        iot = self.iot
        cert, key = make_cert(self.tmp, "own", self.server.ca_cert, self.server.ca_key)
        # without naming the CA: Roost's own CA is found
        r = iot.register_certificate(certificatePem=read(cert), setAsActive=True)
        self.assertEqual(r["certificateId"], cert_id(read(cert)))
        self.assertEqual(self.status_of(r["certificateId"]), "ACTIVE")
        self.assertEqual(mqtt_attempt(self.server, cert, key), ("ok", 0))
        # status beats the default, REVOKED is a valid initial status
        cert2, _ = make_cert(self.tmp, "own2", self.server.ca_cert, self.server.ca_key)
        r2 = iot.register_certificate(certificatePem=read(cert2), status="REVOKED")
        self.assertEqual(self.status_of(r2["certificateId"]), "REVOKED")
        self.assertApiError("InvalidRequestException", 400, iot.register_certificate,
                            certificatePem=read(cert2), status="BOGUS")


class CaCertificatesTest(RegistryCase):

    def register_ca(self, name, set_active=True):
        """A CA made here, registered through the CLI: (ca, ca_key, caId)."""
        ca, ca_key = new_ca(os.path.join(self.tmp, name), name)
        code = self.cli("iot", "get-registration-code")["registrationCode"]
        verif = make_verification_cert(self.tmp, name + "-verif", ca, ca_key, code)
        args = ["iot", "register-ca-certificate", "--ca-certificate", "file://" + ca,
                "--verification-cert", "file://" + verif]
        if set_active:
            args += ["--set-as-active", "--allow-auto-registration"]
        out = self.cli(*args)
        self.assertEqual(out["certificateId"], cert_id(read(ca)))
        self.assertRegex(out["certificateArn"],
                         r"^arn:aws:iot:us-east-1:\d{12}:cacert/%s$" % out["certificateId"])
        return ca, ca_key, out["certificateId"]

    def test_registration_code_stable(self):
        a = self.iot.get_registration_code()["registrationCode"]
        b = self.iot.get_registration_code()["registrationCode"]
        self.assertEqual(a, b)
        self.assertRegex(a, r"^[0-9a-f]{64}$")

    def test_ca_lifecycle_and_device(self):
        iot = self.iot
        ca, ca_key, ca_id = self.register_ca(self.name("ca"))
        d = self.cli("iot", "describe-ca-certificate", "--certificate-id", ca_id)
        desc = d["certificateDescription"]
        self.assertEqual((desc["status"], desc["autoRegistrationStatus"]), ("ACTIVE", "ENABLE"))
        self.assertEqual(desc["certificatePem"].strip(), read(ca).strip())
        bd = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
        self.assertIsInstance(bd["creationDate"], datetime.datetime)
        self.assertIsInstance(bd["validity"]["notAfter"], datetime.datetime)
        listed = [c["certificateId"] for p in iot.get_paginator("list_ca_certificates").paginate(
            PaginationConfig={"PageSize": 1}) for c in p["certificates"]]
        self.assertIn(ca_id, listed)
        self.assertEqual(len(listed), len(set(listed)))
        # twice: 409
        code = iot.get_registration_code()["registrationCode"]
        verif = make_verification_cert(self.tmp, "again-verif", ca, ca_key, code)
        e = self.assertApiError("ResourceAlreadyExistsException", 409,
                                iot.register_ca_certificate, caCertificate=read(ca),
                                verificationCertificate=read(verif))
        self.assertEqual(e.get("resourceId"), ca_id, e)
        self.assertTrue(str(e.get("resourceArn", "")).endswith("cacert/" + ca_id), e)

        # a device certificate of this CA, registered with the CLI, connects
        dev, dev_key = make_cert(self.tmp, "ca-dev", ca, ca_key)
        out = self.cli("iot", "register-certificate", "--certificate-pem", "file://" + dev,
                       "--ca-certificate-pem", "file://" + ca, "--set-as-active")
        dev_id = out["certificateId"]
        self.assertEqual(dev_id, cert_id(read(dev)))
        dd = iot.describe_certificate(certificateId=dev_id)["certificateDescription"]
        self.assertEqual((dd["status"], dd.get("caCertificateId")), ("ACTIVE", ca_id))
        by_ca = iot.list_certificates_by_ca(caCertificateId=ca_id)["certificates"]
        self.assertEqual([c["certificateId"] for c in by_ca], [dev_id])
        watcher = self.paho()
        topic = self.topic("ca-dev")
        watcher.subscribe(topic, 1)
        r = mosquitto_pub(self.server, dev, dev_key, topic, "from a registered CA")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(watcher.get(topic).payload, b"from a registered CA")
        # the same certificate once more: 409
        self.assertApiError("ResourceAlreadyExistsException", 409, iot.register_certificate,
                            certificatePem=read(dev), caCertificatePem=read(ca))

        # CA INACTIVE: its devices are refused (unknown ca) and none register
        self.cli("iot", "update-ca-certificate", "--certificate-id", ca_id, "--new-status",
                 "INACTIVE", "--new-auto-registration-status", "DISABLE")
        bd = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
        self.assertEqual((bd["status"], bd["autoRegistrationStatus"]), ("INACTIVE", "DISABLE"))
        verdict, why = mqtt_attempt(self.server, dev, dev_key, refusal_expected=True)
        self.assertEqual((verdict, alert_name(why)), ("refused", "unknown ca"), why)
        dev2, _ = make_cert(self.tmp, "ca-dev2", ca, ca_key)
        self.assertApiError("CertificateStateException", 406, iot.register_certificate,
                            certificatePem=read(dev2), caCertificatePem=read(ca),
                            setAsActive=True)
        # back to ACTIVE: the device connects again
        iot.update_ca_certificate(certificateId=ca_id, newStatus="ACTIVE")
        self.assertEqual(mqtt_attempt(self.server, dev, dev_key), ("ok", 0))
        # delete: not while ACTIVE; after that it is gone (its devices stay)
        self.assertApiError("CertificateStateException", 406, iot.delete_ca_certificate,
                            certificateId=ca_id)
        iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE")
        self.cli("iot", "delete-ca-certificate", "--certificate-id", ca_id)
        self.assertApiError("ResourceNotFoundException", 404, iot.describe_ca_certificate,
                            certificateId=ca_id)
        self.assertEqual(self.status_of(dev_id), "ACTIVE")
        verdict, why = mqtt_attempt(self.server, dev, dev_key, refusal_expected=True)
        self.assertEqual((verdict, alert_name(why)), ("refused", "unknown ca"), why)

    def test_ca_registration_refusals(self):
        iot = self.iot
        ca, ca_key = new_ca(os.path.join(self.tmp, "bad"), "refused-ca")
        code = iot.get_registration_code()["registrationCode"]
        # CN is not the registration code
        wrong = make_verification_cert(self.tmp, "wrong-cn", ca, ca_key, "0" * 64)
        err = self.cli_error("RegistrationCodeValidationException", "iot",
                             "register-ca-certificate", "--ca-certificate", "file://" + ca,
                             "--verification-cert", "file://" + wrong)
        self.assertIn("RegisterCACertificate", err)
        self.assertApiError("RegistrationCodeValidationException", 400,
                            iot.register_ca_certificate, caCertificate=read(ca),
                            verificationCertificate=read(wrong))
        # right CN, signed by another key: no proof of possession
        other, other_key = new_ca(os.path.join(self.tmp, "other"), "other-ca")
        forged = make_verification_cert(self.tmp, "forged", other, other_key, code)
        self.assertApiError("CertificateValidationException", 400, iot.register_ca_certificate,
                            caCertificate=read(ca), verificationCertificate=read(forged))
        # not a CA at all
        leaf, _ = make_cert(self.tmp, "leaf-as-ca", ca, ca_key)
        self.assertApiError("CertificateValidationException", 400, iot.register_ca_certificate,
                            caCertificate=read(leaf), verificationCertificate=read(forged))
        # DEFAULT mode needs the verification certificate
        self.assertApiError("InvalidRequestException", 400, iot.register_ca_certificate,
                            caCertificate=read(ca))
        # nothing was registered
        self.assertApiError("ResourceNotFoundException", 404, iot.describe_ca_certificate,
                            certificateId=cert_id(read(ca)))


class PoliciesTest(RegistryCase):

    def test_policy_versions(self):
        iot = self.iot
        name = self.name("pol")
        created = iot.create_policy(policyName=name, policyDocument=policy_doc("v1"))
        self.assertEqual(created["policyVersionId"], "1")
        self.assertRegex(created["policyArn"], r"^arn:aws:iot:us-east-1:\d{12}:policy/%s$" % name)
        e = self.assertApiError("ResourceAlreadyExistsException", 409, iot.create_policy,
                                policyName=name, policyDocument=policy_doc("v1"))
        self.assertEqual((e.get("resourceId"), e.get("resourceArn")),
                         (name, created["policyArn"]), e)
        p = iot.get_policy(policyName=name)
        self.assertEqual((p["defaultVersionId"], json.loads(p["policyDocument"])),
                         ("1", json.loads(policy_doc("v1"))))
        self.assertIsInstance(p["creationDate"], datetime.datetime)
        for i in range(2, 6):
            v = iot.create_policy_version(policyName=name, policyDocument=policy_doc("v%d" % i))
            self.assertEqual((v["policyVersionId"], v["isDefaultVersion"]), (str(i), False))
        e = self.assertApiError("VersionsLimitExceededException", 409, iot.create_policy_version,
                                policyName=name, policyDocument=policy_doc("v6"))
        versions = iot.list_policy_versions(policyName=name)["policyVersions"]
        self.assertEqual(sorted(v["versionId"] for v in versions), ["1", "2", "3", "4", "5"])
        self.assertEqual([v["versionId"] for v in versions if v["isDefaultVersion"]], ["1"])
        for v in versions:
            self.assertIsInstance(v["createDate"], datetime.datetime)
        # the default moves; the policy document follows it
        iot.set_default_policy_version(policyName=name, policyVersionId="3")
        p = iot.get_policy(policyName=name)
        self.assertEqual(p["defaultVersionId"], "3")
        self.assertEqual(json.loads(p["policyDocument"]), json.loads(policy_doc("v3")))
        gv = iot.get_policy_version(policyName=name, policyVersionId="3")
        self.assertIs(gv["isDefaultVersion"], True)
        self.assertIs(iot.get_policy_version(policyName=name, policyVersionId="1")
                      ["isDefaultVersion"], False)
        # the default cannot be deleted; another can, and its id is not reused
        self.assertApiError("DeleteConflictException", 409, iot.delete_policy_version,
                            policyName=name, policyVersionId="3")
        iot.delete_policy_version(policyName=name, policyVersionId="5")
        self.assertApiError("ResourceNotFoundException", 404, iot.get_policy_version,
                            policyName=name, policyVersionId="5")
        v = iot.create_policy_version(policyName=name, policyDocument=policy_doc("v6"),
                                      setAsDefault=True)
        self.assertEqual((v["policyVersionId"], v["isDefaultVersion"]), ("6", True))
        self.assertEqual(iot.get_policy(policyName=name)["defaultVersionId"], "6")
        # DeletePolicy: not while other versions exist
        self.assertApiError("DeleteConflictException", 409, iot.delete_policy, policyName=name)
        for vid in ("1", "2", "3", "4"):
            iot.delete_policy_version(policyName=name, policyVersionId=vid)
        iot.delete_policy(policyName=name)
        self.assertApiError("ResourceNotFoundException", 404, iot.get_policy, policyName=name)
        self.assertApiError("ResourceNotFoundException", 404, iot.create_policy_version,
                            policyName=name, policyDocument=policy_doc())

    def test_policy_attachments(self):
        iot = self.iot
        name = self.name("attpol")
        iot.create_policy(policyName=name, policyDocument=policy_doc())
        cert = iot.create_keys_and_certificate(setAsActive=True)
        group, child = self.name("pgroup"), self.name("pchild")
        g = iot.create_thing_group(thingGroupName=group)
        c = iot.create_thing_group(thingGroupName=child, parentGroupName=group)
        iot.attach_policy(policyName=name, target=cert["certificateArn"])
        iot.attach_policy(policyName=name, target=cert["certificateArn"])  # idempotent
        iot.attach_policy(policyName=name, target=g["thingGroupArn"])
        att = iot.list_attached_policies(target=cert["certificateArn"])["policies"]
        self.assertEqual([(a["policyName"], a["policyArn"]) for a in att],
                         [(name, iot.get_policy(policyName=name)["policyArn"])])
        self.assertEqual([a["policyName"] for a in iot.list_attached_policies(
            target=g["thingGroupArn"])["policies"]], [name])
        # a child group inherits with recursive, not without
        self.assertEqual(iot.list_attached_policies(target=c["thingGroupArn"])["policies"], [])
        self.assertEqual([a["policyName"] for a in iot.list_attached_policies(
            target=c["thingGroupArn"], recursive=True)["policies"]], [name])
        targets = [t for p in iot.get_paginator("list_targets_for_policy").paginate(
            policyName=name, PaginationConfig={"PageSize": 1}) for t in p["targets"]]
        self.assertEqual(sorted(targets), sorted([cert["certificateArn"], g["thingGroupArn"]]))
        # via the CLI too
        out = self.cli("iot", "list-targets-for-policy", "--policy-name", name)
        self.assertEqual(sorted(out["targets"]), sorted(targets))
        # attached: DeletePolicy is a conflict
        e = self.assertApiError("DeleteConflictException", 409, iot.delete_policy,
                                policyName=name)
        self.assertIn(name, e["Error"]["Message"])
        self.cli("iot", "detach-policy", "--policy-name", name, "--target",
                 cert["certificateArn"])
        self.assertEqual(iot.list_attached_policies(target=cert["certificateArn"])["policies"],
                         [])
        self.assertApiError("DeleteConflictException", 409, iot.delete_policy, policyName=name)
        iot.detach_policy(policyName=name, target=g["thingGroupArn"])
        self.assertEqual(iot.list_targets_for_policy(policyName=name)["targets"], [])
        self.cli("iot", "delete-policy", "--policy-name", name)
        # attachments to things that do not exist
        self.assertApiError("ResourceNotFoundException", 404, iot.attach_policy,
                            policyName=name, target=cert["certificateArn"])
        other = self.name("other")
        iot.create_policy(policyName=other, policyDocument=policy_doc())
        self.assertApiError("ResourceNotFoundException", 404, iot.attach_policy,
                            policyName=other, target=cert["certificateArn"][:-64] + "0" * 64)
        self.assertApiError("InvalidRequestException", 400, iot.attach_policy,
                            policyName=other, target="not-an-arn")

    def test_list_policies_pagination(self):
        iot = self.iot
        mine = [self.name("lp") for _ in range(5)]
        for n in mine:
            iot.create_policy(policyName=n, policyDocument=json.dumps(POLICY))
        pages = list(iot.get_paginator("list_policies").paginate(
            PaginationConfig={"PageSize": 2}))
        names = [p["policyName"] for page in pages for p in page["policies"]]
        self.assertEqual(len(names), len(set(names)))
        self.assertTrue(set(mine) <= set(names))
        self.assertTrue(all(len(p["policies"]) <= 2 for p in pages))
        self.assertNotIn("nextMarker", pages[-1])
        out = self.cli_all("policies", "iot", "list-policies", max_items=3)
        got = [p["policyName"] for p in out]
        self.assertEqual(len(got), len(set(got)))
        self.assertTrue(set(mine) <= set(got))

    def test_malformed_json_400(self):
        """Raw signed requests whose body is not a JSON object."""
        name = self.name("mj")
        self.iot.create_policy(policyName=name, policyDocument=json.dumps(POLICY))
        cert = self.iot.create_keys_and_certificate()
        cases = [
            ("POST", "/policies/" + self.name("mjnew"), b'{"policyDocument": '),
            ("POST", "/policies/%s/version" % name, b"[]"),
            ("PUT", "/target-policies/" + name, b'{"target": "%s"' %
             cert["certificateArn"].encode()),
            ("POST", "/certificates?setAsActive=true", b"-----BEGIN CERTIFICATE REQUEST-----"),
            ("POST", "/certificate/register", b'{"certificatePem": "x",}'),
            ("POST", "/certificate/register-no-ca", b"null"),
            ("POST", "/cacertificate", b"{{}}"),
        ]
        for method, path, body in cases:
            with self.subTest(path=path):
                r = api.request(self.server, method, path, body=body)
                self.assertRawError(r, "InvalidRequestException", 400)
        self.assertEqual(self.iot.list_targets_for_policy(policyName=name)["targets"], [])
        self.assertEqual([v["versionId"] for v in self.iot.list_policy_versions(
            policyName=name)["policyVersions"]], ["1"])
        # JSON, but a member of the wrong type
        r = api.request(self.server, "POST", "/policies/" + self.name("mjt"),
                        body=b'{"policyDocument": {"Version": "2012-10-17"}}')
        self.assertRawError(r, "InvalidRequestException", 400)

    def test_malformed_policy(self):
        iot = self.iot
        bad_docs = [
            "not json",
            json.dumps({"Version": "2012-10-17"}),                        # no Statement
            json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe",
                                                                "Action": "iot:*",
                                                                "Resource": "*"}]}),
            json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                                                                "Resource": "*"}]}),
            json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                                                                "Action": "iot:Connect",
                                                                "Resource": "*",
                                                                "Padding": "x" * 3000}]}),
        ]
        for doc in bad_docs:
            with self.subTest(doc=doc[:50]):
                self.assertApiError("MalformedPolicyException", 400, iot.create_policy,
                                    policyName=self.name("bad"), policyDocument=doc)
        name = self.name("good")
        iot.create_policy(policyName=name, policyDocument=json.dumps(POLICY))
        self.assertApiError("MalformedPolicyException", 400, iot.create_policy_version,
                            policyName=name, policyDocument="{")
        self.assertEqual([v["versionId"] for v in iot.list_policy_versions(
            policyName=name)["policyVersions"]], ["1"])
        doc = write(os.path.join(self.tmp, "bad-policy.json"), '{"Statement": 5}')
        self.cli_error("MalformedPolicyException", "iot", "create-policy", "--policy-name",
                       self.name("clibad"), "--policy-document", "file://" + doc)
        # bad names are InvalidRequest, before the document is looked at
        self.assertApiError("InvalidRequestException", 400, iot.create_policy,
                            policyName="has space", policyDocument=json.dumps(POLICY))
        self.assertApiError("InvalidRequestException", 400, iot.get_policy,
                            policyName="x" * 129)


if __name__ == "__main__":
    unittest.main()
