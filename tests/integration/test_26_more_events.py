"""test_26_more_events - Roost's POLICY, CERTIFICATE and CA_CERTIFICATE
registry events through a real roostd. AWS accepts these three switches in
UpdateEventConfigurations but documents no MQTT event for them; Roost
publishes its own (docs/internals/AUTHZ.md, "Registry events"):

  $aws/events/policy/<name>/created|updated|deleted|attached|detached
  $aws/events/certificate/<id>/created|updated|deleted
  $aws/events/caCertificate/<id>/created|updated|deleted

A paho subscriber on the plain listener watches $aws/events/# (lifecycle
events, presence/ and subscriptions/, set aside) while boto3 makes the
changes. Each test checks that nothing is published while its
switch is off and that a refused call publishes nothing; a forced
DeleteCertificate reports the policies it detached; a certificate
registered and activated by JITP (a device connecting with a certificate
signed by a registered CA) reports CREATED then UPDATED like one made
through the API.

No fixed sleeps: registry events are published in commit order, so the
event of a later change is the sentinel proving an earlier one never came.
"""

import json
import os
import unittest

import api_client as api
from registry_util import (RegistryCase, cert_id, make_cert, make_verification_cert,
                           mqtt_attempt, new_ca, read, write)

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
ACCOUNT = "123456789012"
ROLE = "arn:aws:iam::%s:role/roost-provisioning" % ACCOUNT
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})
CONNECT_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]})
# JITP: activate the certificate and give it a policy to connect with.
JITP_TEMPLATE = json.dumps({
    "Parameters": {"AWS::IoT::Certificate::Id": {"Type": "String"}},
    "Resources": {
        "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
            "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
        "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": ALLOW_ALL}}}})


def registry_event(m):
    """Not a lifecycle event (the watcher's and the device's connections)."""
    return not m.topic.startswith(("$aws/events/presence/", "$aws/events/subscriptions/"))


class MoreRegistryEventsTest(RegistryCase):

    def setUp(self):
        super().setUp()
        self.w = self.paho(self.cid("watch"), version=4)
        self.w.subscribe("$aws/events/#", 1)

    def switches(self, policy, certificate, ca):
        self.iot.update_event_configurations(eventConfigurations={
            "POLICY": {"Enabled": policy}, "CERTIFICATE": {"Enabled": certificate},
            "CA_CERTIFICATE": {"Enabled": ca}})

    def event(self, topic, event_type, operation):
        """The next event must be on `topic`: nothing else came before it."""
        m = self.w.take(registry_event)
        self.assertIsNotNone(m, "no event, expected one on " + topic)
        self.assertEqual(m.topic, topic)
        e = json.loads(m.payload)
        self.assertEqual((e["eventType"], e["operation"]), (event_type, operation))
        self.assertRegex(e["eventId"], UUID_RE)
        self.assertIsInstance(e["timestamp"], int)
        self.assertEqual(e["accountId"], ACCOUNT)
        return e

    def assertQuiet(self):
        self.assertEqual([m.topic for m in self.w.pending() if registry_event(m)], [])

    def test_policy_events(self):
        iot = self.iot
        quiet, pol, grp = self.name("quiet"), self.name("pol"), self.name("grp")
        self.switches(False, False, False)
        iot.create_policy(policyName=quiet, policyDocument=CONNECT_ONLY)
        group_arn = iot.create_thing_group(thingGroupName=grp)["thingGroupArn"]

        self.switches(True, False, False)
        created = iot.create_policy(policyName=pol, policyDocument=CONNECT_ONLY)
        topic = "$aws/events/policy/%s/" % pol
        e = self.event(topic + "created", "POLICY_EVENT", "CREATED")
        self.assertQuiet()  # quiet's event would have come first
        self.assertEqual((e["policyName"], e["policyArn"], e["defaultVersionId"]),
                         (pol, created["policyArn"], "1"))

        iot.create_policy_version(policyName=pol, policyDocument=ALLOW_ALL, setAsDefault=False)
        e = self.event(topic + "updated", "POLICY_EVENT", "UPDATED")
        self.assertEqual((e["policyVersionId"], e["isDefaultVersion"], e["defaultVersionId"]),
                         ("2", False, "1"))
        iot.set_default_policy_version(policyName=pol, policyVersionId="2")
        e = self.event(topic + "updated", "POLICY_EVENT", "UPDATED")
        self.assertEqual((e["policyVersionId"], e["isDefaultVersion"], e["defaultVersionId"]),
                         ("2", True, "2"))

        iot.attach_policy(policyName=pol, target=group_arn)
        e = self.event(topic + "attached", "POLICY_EVENT", "ATTACHED")
        self.assertEqual((e["target"], e["policyName"]), (group_arn, pol))
        # Refused calls publish nothing: the detach's event is the next one.
        with self.assertRaises(iot.exceptions.MalformedPolicyException):
            iot.create_policy_version(policyName=pol, policyDocument='{"Version": 1}')
        with self.assertRaises(iot.exceptions.DeleteConflictException):
            iot.delete_policy_version(policyName=pol, policyVersionId="2")  # the default
        iot.detach_policy(policyName=pol, target=group_arn)
        e = self.event(topic + "detached", "POLICY_EVENT", "DETACHED")
        self.assertEqual(e["target"], group_arn)

        iot.delete_policy_version(policyName=pol, policyVersionId="1")
        e = self.event(topic + "updated", "POLICY_EVENT", "UPDATED")
        self.assertEqual((e["policyVersionId"], e["isDefaultVersion"]), ("1", False))
        iot.delete_policy(policyName=pol)
        e = self.event(topic + "deleted", "POLICY_EVENT", "DELETED")
        self.assertEqual(e["defaultVersionId"], "2")

        self.switches(False, False, False)
        iot.delete_policy(policyName=quiet)
        iot.create_policy(policyName=self.name("sentinel"), policyDocument=CONNECT_ONLY)
        self.switches(True, False, False)
        sentinel = self.name("sentinel2")
        iot.create_policy(policyName=sentinel, policyDocument=CONNECT_ONLY)
        self.event("$aws/events/policy/%s/created" % sentinel, "POLICY_EVENT", "CREATED")
        self.assertQuiet()

    def test_certificate_events(self):
        iot = self.iot
        self.switches(False, False, False)
        quiet = iot.create_keys_and_certificate(setAsActive=True)["certificateId"]

        self.switches(False, True, False)
        c = iot.create_keys_and_certificate(setAsActive=True)
        cid = c["certificateId"]
        topic = "$aws/events/certificate/%s/" % cid
        e = self.event(topic + "created", "CERTIFICATE_EVENT", "CREATED")
        self.assertQuiet()  # quiet's event would have come first
        self.assertEqual((e["certificateId"], e["certificateArn"], e["status"]),
                         (cid, c["certificateArn"], "ACTIVE"))
        self.assertIsNone(e["caCertificateId"])
        self.assertEqual(e["certificateMode"], "DEFAULT")

        # Refused: deleting an ACTIVE certificate, an invalid status.
        with self.assertRaises(iot.exceptions.CertificateStateException):
            iot.delete_certificate(certificateId=cid)
        with self.assertRaises(iot.exceptions.InvalidRequestException):
            iot.update_certificate(certificateId=cid, newStatus="PENDING_TRANSFER")
        iot.update_certificate(certificateId=cid, newStatus="INACTIVE")
        e = self.event(topic + "updated", "CERTIFICATE_EVENT", "UPDATED")
        self.assertEqual((e["status"], e["previousStatus"]), ("INACTIVE", "ACTIVE"))
        iot.update_certificate(certificateId=cid, newStatus="INACTIVE")  # no change, no event
        iot.delete_certificate(certificateId=cid)
        e = self.event(topic + "deleted", "CERTIFICATE_EVENT", "DELETED")
        self.assertEqual((e["certificateId"], e["status"]), (cid, "INACTIVE"))
        self.assertQuiet()

        self.switches(False, False, False)
        iot.update_certificate(certificateId=quiet, newStatus="REVOKED")
        self.switches(False, True, False)
        iot.update_certificate(certificateId=quiet, newStatus="REVOKED")  # no change
        iot.delete_certificate(certificateId=quiet)
        e = self.event("$aws/events/certificate/%s/deleted" % quiet, "CERTIFICATE_EVENT",
                       "DELETED")
        self.assertEqual(e["status"], "REVOKED")
        self.assertQuiet()

        # A forced delete detaches the certificate's policies: one DETACHED each.
        self.switches(True, True, False)
        c = iot.create_keys_and_certificate(setAsActive=False)
        cid, carn = c["certificateId"], c["certificateArn"]
        pol = self.name("pol")
        iot.create_policy(policyName=pol, policyDocument=CONNECT_ONLY)
        iot.attach_policy(policyName=pol, target=carn)
        self.event("$aws/events/certificate/%s/created" % cid, "CERTIFICATE_EVENT", "CREATED")
        self.event("$aws/events/policy/%s/created" % pol, "POLICY_EVENT", "CREATED")
        e = self.event("$aws/events/policy/%s/attached" % pol, "POLICY_EVENT", "ATTACHED")
        self.assertEqual(e["target"], carn)
        with self.assertRaises(iot.exceptions.DeleteConflictException):
            iot.delete_certificate(certificateId=cid)
        iot.delete_certificate(certificateId=cid, forceDelete=True)
        self.event("$aws/events/certificate/%s/deleted" % cid, "CERTIFICATE_EVENT", "DELETED")
        e = self.event("$aws/events/policy/%s/detached" % pol, "POLICY_EVENT", "DETACHED")
        self.assertEqual(e["target"], carn)
        self.assertQuiet()

    def test_ca_certificate_and_jitp_events(self):
        iot = self.iot
        self.switches(False, True, True)
        ca_cert, ca_key = new_ca(self.tmp, self.name("ca"))
        code = iot.get_registration_code()["registrationCode"]
        verif = make_verification_cert(self.tmp, self.name("verif"), ca_cert, ca_key, code)
        with self.assertRaises(iot.exceptions.RegistrationCodeValidationException):
            iot.register_ca_certificate(caCertificate=read(ca_cert),
                                        verificationCertificate=read(ca_cert))
        reg = iot.register_ca_certificate(
            caCertificate=read(ca_cert), verificationCertificate=read(verif), setAsActive=True,
            allowAutoRegistration=True,
            registrationConfig={"templateBody": JITP_TEMPLATE, "roleArn": ROLE},
            tags=[{"Key": "roost:jitp_first_connect", "Value": "accept"}])
        ca_id = reg["certificateId"]
        ca_topic = "$aws/events/caCertificate/%s/" % ca_id
        e = self.event(ca_topic + "created", "CA_CERTIFICATE_EVENT", "CREATED")
        self.assertQuiet()  # the refused registration published nothing
        self.assertEqual((e["caCertificateId"], e["certificateArn"], e["status"],
                          e["autoRegistrationStatus"], e["certificateMode"]),
                         (ca_id, reg["certificateArn"], "ACTIVE", "ENABLE", "DEFAULT"))

        # A device presents a certificate signed by it: JITP registers it
        # (CREATED, PENDING_ACTIVATION) and activates it (UPDATED).
        cn = self.name("dev")
        cert, key = make_cert(self.tmp, cn, ca_cert, ca_key, cn=cn)
        chain = write(os.path.join(self.tmp, cn + ".chain.pem"), read(cert) + read(ca_cert))
        cid = cert_id(read(cert))
        self.assertEqual(mqtt_attempt(self.server, chain, key, client_id=cn, allow=False),
                         ("ok", 0))
        topic = "$aws/events/certificate/%s/" % cid
        registered = self.w.get("$aws/events/certificates/registered/" + ca_id)
        self.assertEqual(json.loads(registered.payload)["certificateId"], cid)
        e = self.event(topic + "created", "CERTIFICATE_EVENT", "CREATED")
        self.assertEqual((e["status"], e["caCertificateId"]), ("PENDING_ACTIVATION", ca_id))
        e = self.event(topic + "updated", "CERTIFICATE_EVENT", "UPDATED")
        self.assertEqual((e["status"], e["previousStatus"]), ("ACTIVE", "PENDING_ACTIVATION"))
        self.assertQuiet()  # POLICY events are off: the template's policy made none

        with self.assertRaises(iot.exceptions.CertificateStateException):
            iot.delete_ca_certificate(certificateId=ca_id)  # ACTIVE
        iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE",
                                  newAutoRegistrationStatus="DISABLE")
        e = self.event(ca_topic + "updated", "CA_CERTIFICATE_EVENT", "UPDATED")
        self.assertEqual((e["status"], e["autoRegistrationStatus"]), ("INACTIVE", "DISABLE"))
        iot.delete_ca_certificate(certificateId=ca_id)
        e = self.event(ca_topic + "deleted", "CA_CERTIFICATE_EVENT", "DELETED")
        self.assertEqual(e["caCertificateId"], ca_id)
        self.assertQuiet()


if __name__ == "__main__":
    unittest.main()
