"""Policies enforced on live MQTT traffic: a device with the typical
per-thing policy may connect only as its thing, publish and subscribe only
under things/<its name>/, and loses its connection when the policy is
detached. Certificates are registered through the API (boto3); the broker
is reached over mTLS with the raw client and paho."""

import json
import unittest

import mqtt_raw as m
from registry_util import RegistryCase, mqtt_attempt

PER_THING = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect",
     "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
     "Resource": "arn:aws:iot:*:*:topic/things/${iot:Connection.Thing.ThingName}/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": "arn:aws:iot:*:*:topicfilter/things/${iot:Connection.Thing.ThingName}/*"},
]})

NOT_AUTHORIZED = 0x87


class AuthzTest(RegistryCase):

    def device(self):
        """A thing, its certificate (ACTIVE, attached) and the per-thing policy."""
        iot = self.iot
        thing = self.name("dev")
        iot.create_thing(thingName=thing)
        cert, key, _, arn = self.registered_cert(allow=False)
        iot.attach_thing_principal(thingName=thing, principal=arn)
        policy = self.name("pol")
        iot.create_policy(policyName=policy, policyDocument=PER_THING)
        iot.attach_policy(policyName=policy, target=arn)
        return thing, (cert, key), arn, policy

    def connected(self, thing, cert, version=4):
        r = self.server.raw("mqtt", version, cert=cert)
        self.addCleanup(r.close)
        self.assertEqual(r.connect(thing).rc, 0)
        return r

    def test_connect_only_as_its_thing(self):
        thing, cert, _, _ = self.device()
        self.assertEqual(mqtt_attempt(self.server, *cert, client_id=thing, allow=False), ("ok", 0))
        verdict, why = mqtt_attempt(self.server, *cert, client_id=thing + "-other",
                                    refusal_expected=True, allow=False)
        self.assertEqual(verdict, "refused", "no CONNACK for another client id: %s" % why)

    def test_no_policy_no_connection(self):
        cert, key, _, _ = self.registered_cert(allow=False)
        verdict, _ = mqtt_attempt(self.server, cert, key, client_id="anything",
                                  refusal_expected=True, allow=False)
        self.assertEqual(verdict, "refused")

    def test_publish_inside_and_outside_its_topics(self):
        thing, cert, _, _ = self.device()
        v5 = self.connected(thing, cert, version=5)
        ok = v5.publish("things/%s/telemetry" % thing, b"mine", qos=1)
        self.assertEqual(ok.reason, 0)
        refused = v5.publish("things/someone-else/telemetry", b"theirs", qos=1)
        self.assertEqual(refused.reason, NOT_AUTHORIZED, "MQTT 5 QoS 1: PUBACK 0x87")
        self.assertTrue(v5.is_open(0.3), "a refused QoS 1 PUBLISH keeps the connection")
        v3 = self.connected(thing, cert, version=4)
        v3.publish("things/someone-else/telemetry", b"x", qos=1, wait=False)
        v3.wait_closed()  # 3.1.1 has no way to say no: the connection goes

    def test_subscribe_inside_and_outside_its_topics(self):
        thing, cert, _, _ = self.device()
        for version, refused_code in ((4, 0x80), (5, NOT_AUTHORIZED)):
            with self.subTest(version=version):
                c = self.connected(thing, cert, version=version)
                ack = c.subscribe([("things/%s/cmd" % thing, 1), ("things/other/cmd", 1)])
                self.assertEqual(ack.codes, [1, refused_code])

    def test_detached_policy_disconnects_live_client(self):
        thing, cert, arn, policy = self.device()
        c = self.connected(thing, cert, version=5)
        self.iot.detach_policy(policyName=policy, target=arn)
        c.wait_closed()  # iot:Connect no longer holds
        verdict, _ = mqtt_attempt(self.server, *cert, client_id=thing, refusal_expected=True,
                                  allow=False)
        self.assertEqual(verdict, "refused")


if __name__ == "__main__":
    unittest.main()
