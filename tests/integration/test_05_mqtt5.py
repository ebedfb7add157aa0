"""test_05_mqtt5 - MQTT 5 features end to end: topic aliases (client to
server), message expiry (offline, retained, decremented on delivery), receive
maximum, maximum packet size, subscription identifiers, no-local,
retain-as-published, retain handling 0/1/2, and publish properties forwarded
unchanged (user properties in order, response topic, correlation data,
content type, payload format indicator).
"""

import time
import unittest

import mqtt_raw as m
from roostd_fixture import RoostCase, TIMEOUT, QUIET, prop, roostd_only


def pubs(packets, topic):
    return [p for p in packets if p.type == m.PUBLISH and p.topic == topic]


class Mqtt5Test(RoostCase):

    def raw_sync(self, r):
        """Sentinel round trip for a raw v5 client; returns the PUBLISH
        packets that were stashed on the way (in order)."""
        self.sync(r)
        out = [p for p in r.stash if p.type == m.PUBLISH]
        r.stash.clear()
        for p in out:
            r.ack_publish(p)
        return out

    def quiet_publishes(self, r, quiet=QUIET):
        """PUBLISH packets arriving within the quiet window (not acknowledged)."""
        got = [p for p in r.stash if p.type == m.PUBLISH]
        r.stash.clear()
        deadline = time.monotonic() + quiet
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            try:
                p = r.read(timeout=left)
            except TimeoutError:
                return got
            if p.type == m.PUBLISH:
                got.append(p)

    # -- topic aliases

    def test_topic_alias_client_to_server(self):
        t1, t2 = self.topic("alias/1"), self.topic("alias/2")
        sub = self.paho(version=4)
        sub.subscribe(self.topic("alias/#"), 1)
        r = self.raw(version=5)
        tam = r.connack.prop("TopicAliasMaximum", 0)
        self.assertGreaterEqual(tam, 1, "server should accept topic aliases")
        r.publish(t1, b"a", qos=1, properties=[("TopicAlias", 1)])
        r.publish("", b"b", qos=1, properties=[("TopicAlias", 1)])
        r.publish(t2, b"c", qos=1, properties=[("TopicAlias", 1)])  # re-map alias 1
        r.publish("", b"d", qos=1, properties=[("TopicAlias", 1)])
        got = [(x.topic, x.payload) for x in sub.get_n(4)]
        self.assertEqual(got, [(t1, b"a"), (t1, b"b"), (t2, b"c"), (t2, b"d")])

    def test_topic_alias_from_paho(self):
        t = self.topic("pa")
        sub = self.paho(version=5)
        sub.subscribe(t, 1)
        pub = self.paho(version=5)
        for i in range(3):
            pub.publish(t, b"%d" % i, 1, properties={"TopicAlias": 1})
        got = sub.get_n(3, t)
        self.assertEqual([x.payload for x in got], [b"0", b"1", b"2"])
        # The alias is the publisher's business: never forwarded as-is.
        for x in got:
            alias = prop(x, "TopicAlias")
            self.assertTrue(alias is None or x.topic == t)

    def test_topic_alias_out_of_range(self):
        # Over Topic Alias Maximum: 0x94.  Alias 0 is never valid: the spec
        # does not single out a code, so any malformed/protocol/alias error.
        for alias, codes in ((0, (0x81, 0x82, 0x94)), (None, (0x94,))):
            with self.subTest(alias=alias):
                r = self.raw(version=5)
                if alias is None:
                    alias = r.connack.prop("TopicAliasMaximum", 0) + 1
                r.send(m.publish(self.topic("x"), b"x", qos=1, pid=1, version=5,
                                 properties=[("TopicAlias", alias)]))
                got = r.wait_closed()
                self.assertEqual([p.type for p in got], [m.DISCONNECT], got)
                self.assertIn(got[0].reason, codes, "Topic Alias invalid: %r" % got)

    def test_unknown_topic_alias_is_protocol_error(self):
        r = self.raw(version=5)
        r.send(m.publish("", b"x", qos=1, pid=1, version=5, properties=[("TopicAlias", 1)]))
        got = r.wait_closed()
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0].type, m.DISCONNECT)
        self.assertIn(got[0].reason, (0x82, 0x94), "protocol error / topic alias invalid")

    # -- message expiry

    def test_message_expiry(self):
        base = self.topic()
        cid = self.cid("exp")
        sub = self.raw(version=5, client_id=cid, clean=False,
                       properties=[("SessionExpiryInterval", 600)])
        sub.subscribe([(base + "/q", 1)])
        sub.disconnect()
        pub = self.paho(version=5)
        pub.publish(base + "/q", b"short", 1, properties={"MessageExpiryInterval": 1})
        pub.publish(base + "/q", b"long", 1, properties={"MessageExpiryInterval": 60})
        pub.publish(base + "/q", b"forever", 1)
        pub.publish(base + "/r", b"retained short", 1, retain=True,
                    properties={"MessageExpiryInterval": 1})
        queued_at = time.monotonic()
        while time.monotonic() < queued_at + 2.2:
            time.sleep(0.1)
        sub = self.raw(version=5, client_id=cid, clean=False,
                       properties=[("SessionExpiryInterval", 600)])
        self.assertEqual(sub.connack.session_present, 1)
        got = [sub.next_publish(), sub.next_publish()]
        self.assertEqual([p.payload for p in got], [b"long", b"forever"])
        left = got[0].prop("MessageExpiryInterval")
        self.assertIsNotNone(left, "expiry must be forwarded")
        self.assertTrue(0 < left <= 58, "expiry not decremented by the wait: %r" % left)
        self.assertIsNone(got[1].prop("MessageExpiryInterval"))
        sub.subscribe([(base + "/r", 1)])
        late = self.raw_sync(sub)
        self.assertEqual(pubs(late, base + "/q") + pubs(late, base + "/r"), [],
                         "expired messages delivered")

    def test_message_expiry_forwarded_live(self):
        t = self.topic("live")
        sub = self.raw(version=5)
        sub.subscribe([(t, 1)])
        self.paho(version=5).publish(t, b"x", 1, properties={"MessageExpiryInterval": 60})
        p = sub.next_publish()
        self.assertTrue(0 < p.prop("MessageExpiryInterval", -1) <= 60, p)

    # -- flow control and sizes

    @roostd_only("mosquitto 2.0.11 sends one more than Receive Maximum after a PUBACK")
    def test_receive_maximum(self):
        t = self.topic("rm")
        sub = self.raw(version=5, properties=[("ReceiveMaximum", 2)])
        sub.subscribe([(t, 1)])
        pub = self.paho(version=4)
        for i in range(6):
            pub.publish(t, b"%d" % i, 1)
        first = [sub.next_publish(auto_ack=False) for _ in range(2)]
        self.assertEqual([p.payload for p in first], [b"0", b"1"])
        self.assertEqual(self.quiet_publishes(sub), [], "more than ReceiveMaximum in flight")
        sub.send(m.ack(m.PUBACK, first[0].pid, 5))
        third = sub.next_publish(auto_ack=False)
        self.assertEqual(third.payload, b"2")
        self.assertEqual(self.quiet_publishes(sub), [], "more than ReceiveMaximum in flight")
        sub.send(m.ack(m.PUBACK, first[1].pid, 5))
        sub.send(m.ack(m.PUBACK, third.pid, 5))
        rest = [sub.next_publish().payload for _ in range(3)]
        self.assertEqual(rest, [b"3", b"4", b"5"])

    def test_maximum_packet_size(self):
        t = self.topic("mps")
        sub = self.raw(version=5, properties=[("MaximumPacketSize", 256)])
        sub.subscribe([(t, 1)])
        pub = self.paho(version=5)
        pub.publish(t, b"B" * 1000, 1)
        pub.publish(t, b"small", 1)
        p = sub.next_publish()
        self.assertEqual(p.payload, b"small", "the too-large message must be dropped")
        self.raw_sync(sub)
        self.assertTrue(all(size <= 256 for size in sub.sizes), sub.sizes)
        self.assertTrue(sub.is_open(TIMEOUT), "dropping is not a reason to disconnect")

    # -- subscriptions

    def test_subscription_identifiers(self):
        base = self.topic()
        r = self.raw(version=5)
        r.subscribe([(base + "/a/#", 1)], properties=[("SubscriptionIdentifier", 7)])
        r.subscribe([(base + "/a/b", 1)], properties=[("SubscriptionIdentifier", 9)])
        r.subscribe([(base + "/z", 1)])
        pub = self.paho(version=4)
        pub.publish(base + "/a/b", b"both", 1)
        pub.publish(base + "/a/c", b"seven", 1)
        pub.publish(base + "/z", b"none", 1)
        got = self.raw_sync(r)
        both = pubs(got, base + "/a/b")
        self.assertTrue(1 <= len(both) <= 2, got)
        ids = sorted(i for p in both for i in p.props_all("SubscriptionIdentifier"))
        self.assertEqual(ids, [7, 9])
        seven = pubs(got, base + "/a/c")
        self.assertEqual([p.props_all("SubscriptionIdentifier") for p in seven], [[7]])
        none = pubs(got, base + "/z")
        self.assertEqual([p.props_all("SubscriptionIdentifier") for p in none], [[]])

    def test_subscription_identifier_on_retained(self):
        t = self.topic("ret")
        self.paho(version=4).publish(t, b"kept", 1, retain=True)
        r = self.raw(version=5)
        r.subscribe([(t, 1)], properties=[("SubscriptionIdentifier", 42)])
        p = r.next_publish()
        self.assertEqual((p.payload, p.retain), (b"kept", 1))
        self.assertEqual(p.props_all("SubscriptionIdentifier"), [42])

    def test_no_local(self):
        t = self.topic("nl")
        nl = self.raw(version=5)
        nl.subscribe([(t, m.sub_options(qos=1, no_local=True))])
        ctl = self.raw(version=5)
        ctl.subscribe([(t, 1)])
        nl.publish(t, b"own", qos=1)
        ctl.publish(t, b"control own", qos=1)
        self.paho(version=4).publish(t, b"other", 1)
        got = [p.payload for p in pubs(self.raw_sync(nl), t)]
        self.assertEqual(got, [b"control own", b"other"])
        got = [p.payload for p in pubs(self.raw_sync(ctl), t)]
        self.assertEqual(got, [b"own", b"control own", b"other"],
                         "without no-local a client gets its own messages")

    def test_retain_as_published(self):
        t = self.topic("rap")
        rap = self.raw(version=5)
        rap.subscribe([(t, m.sub_options(qos=1, rap=True))])
        plain = self.raw(version=5)
        plain.subscribe([(t, 1)])
        self.paho(version=4).publish(t, b"r", 1, retain=True)
        self.paho(version=4).publish(t, b"n", 1, retain=False)
        a = [rap.next_publish() for _ in range(2)]
        b = [plain.next_publish() for _ in range(2)]
        self.assertEqual([(p.payload, p.retain) for p in a], [(b"r", 1), (b"n", 0)])
        self.assertEqual([(p.payload, p.retain) for p in b], [(b"r", 0), (b"n", 0)])

    def test_retain_handling(self):
        t = self.topic("rh")
        self.paho(version=4).publish(t, b"kept", 1, retain=True)
        # 0: retained messages on every subscribe.
        r0 = self.raw(version=5)
        for _ in range(2):
            r0.subscribe([(t, m.sub_options(qos=1, retain_handling=0))])
            self.assertEqual(r0.next_publish().payload, b"kept")
        # 1: only when the subscription is new.
        r1 = self.raw(version=5)
        r1.subscribe([(t, m.sub_options(qos=1, retain_handling=1))])
        self.assertEqual(r1.next_publish().payload, b"kept")
        r1.subscribe([(t, m.sub_options(qos=1, retain_handling=1))])
        # 2: never.
        r2 = self.raw(version=5)
        r2.subscribe([(t, m.sub_options(qos=1, retain_handling=2))])
        self.assertEqual(pubs(self.raw_sync(r1), t), [], "rh=1 re-subscribe resent retained")
        self.assertEqual(pubs(self.raw_sync(r2), t), [], "rh=2 sent retained")

    def test_unsuback_reason_codes(self):
        r = self.raw(version=5)
        t = self.topic("u")
        r.subscribe([(t, 1)])
        ack = r.unsubscribe([t, self.topic("never")])
        self.assertEqual(ack.codes[0], 0x00)
        self.assertIn(ack.codes[1], (0x00, 0x11), "no subscription existed")

    # -- properties

    def test_publish_properties_forwarded_unchanged(self):
        t = self.topic("props")
        user = [("a", "1"), ("a", "2"), ("b", "ü"), ("a", "3")]
        sub = self.raw(version=5)
        sub.subscribe([(t, 1)])
        v3 = self.paho(version=4)
        v3.subscribe(t, 1)
        pub = self.raw(version=5)
        pub.publish(t, "{\"x\": 1}", qos=1, retain=True, properties=[
            ("PayloadFormatIndicator", 1), ("ContentType", "application/json"),
            ("ResponseTopic", self.topic("reply")), ("CorrelationData", b"\x00\xffcorr"),
        ] + [("UserProperty", kv) for kv in user])

        def check(p, what):
            self.assertEqual(p.payload, b"{\"x\": 1}", what)
            self.assertEqual(p.prop("PayloadFormatIndicator"), 1, what)
            self.assertEqual(p.prop("ContentType"), "application/json", what)
            self.assertEqual(p.prop("ResponseTopic"), self.topic("reply"), what)
            self.assertEqual(p.prop("CorrelationData"), b"\x00\xffcorr", what)
            self.assertEqual(p.props_all("UserProperty"), user, what + ": order kept")

        check(sub.next_publish(), "live")
        self.assertEqual(v3.get(t).payload, b"{\"x\": 1}")
        late = self.raw(version=5)
        late.subscribe([(t, 1)])
        check(late.next_publish(), "retained")

    def test_properties_from_paho_to_paho(self):
        t = self.topic("pp")
        sub = self.paho(version=5)
        sub.subscribe(t, 2)
        self.paho(version=5).publish(t, b"q", 2, properties={
            "ResponseTopic": "reply/here", "CorrelationData": b"id-1",
            "UserProperty": [("k", "v")], "ContentType": "text/plain"})
        got = sub.get(t)
        self.assertEqual(prop(got, "ResponseTopic"), "reply/here")
        self.assertEqual(prop(got, "CorrelationData"), b"id-1")
        self.assertEqual(prop(got, "UserProperty"), [("k", "v")])
        self.assertEqual(prop(got, "ContentType"), "text/plain")

    def test_request_response_information_optional(self):
        # A server may ignore Request Response Information, but must accept it.
        r = self.raw(version=5, properties=[("RequestResponseInformation", 1),
                                             ("RequestProblemInformation", 0)])
        info = r.connack.prop("ResponseInformation")
        self.assertTrue(info is None or isinstance(info, str))
        self.assertTrue(r.is_open(TIMEOUT))


if __name__ == "__main__":
    unittest.main()
