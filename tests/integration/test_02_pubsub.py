"""test_02_pubsub - publish/subscribe end to end: QoS 0/1/2 across both
protocol versions (mixed publisher and subscriber versions), QoS downgrade,
exactly-once for QoS 2, wildcard matching (including `a/#` matching `a` and
`$` topics), shared subscriptions, unsubscribe, ordering, the mosquitto
command-line clients, and the payload/topic size limits.
"""

import subprocess
import time
import unittest

import mqtt_raw as m
from roostd_fixture import RoostCase, TIMEOUT, QUIET, roostd_only


class PubSubTest(RoostCase):

    def test_qos_matrix_mixed_versions(self):
        # Every (subscriber version, publisher version, QoS) combination.
        for sv in (4, 5):
            sub = self.paho(version=sv)
            t = self.topic("v%d" % sv)
            sub.subscribe(t, 2)
            for pv in (4, 5):
                pub = self.paho(version=pv)
                for qos in (0, 1, 2):
                    with self.subTest(sub=sv, pub=pv, qos=qos):
                        payload = ("sv%d pv%d q%d" % (sv, pv, qos)).encode()
                        pub.publish(t, payload, qos)
                        got = sub.get(t)
                        self.assertEqual(got.payload, payload)
                        self.assertEqual(got.qos, qos)
                        self.assertFalse(got.retain)

    def test_qos_downgraded_to_subscription(self):
        pub = self.paho(version=4)
        for granted in (0, 1):
            sub = self.paho(version=5)
            t = self.topic("g%d" % granted)
            sub.subscribe(t, granted)
            for qos in (0, 1, 2):
                with self.subTest(granted=granted, qos=qos):
                    pub.publish(t, b"q%d" % qos, qos)
                    got = sub.get(t)
                    self.assertEqual(got.payload, b"q%d" % qos)
                    self.assertEqual(got.qos, min(qos, granted))

    def test_suback_grants_requested_qos(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version)
                ack = r.subscribe([(self.topic("a"), 0), (self.topic("b"), 1),
                                   (self.topic("c"), 2)])
                self.assertEqual(ack.codes, [0, 1, 2])

    def test_qos2_exactly_once_with_resent_publish(self):
        # A QoS 2 PUBLISH sent again (DUP) before PUBREL must not be
        # delivered twice.
        t = self.topic("eo")
        sub = self.paho(version=4)
        sub.subscribe(t, 2)
        for version in (4, 5):
            with self.subTest(version=version):
                pub = self.raw(version=version)
                pkt = dict(qos=2, pid=77, version=version)
                pub.send(m.publish(t, b"once%d" % version, **pkt))
                rec = pub.expect(m.PUBREC)
                self.assertEqual(rec.pid, 77)
                pub.send(m.publish(t, b"once%d" % version, dup=True, **pkt))
                rec2 = pub.expect(m.PUBREC)
                self.assertEqual(rec2.pid, 77)
                pub.send(m.ack(m.PUBREL, 77, version))
                self.assertEqual(pub.expect(m.PUBCOMP).pid, 77)
                self.assertEqual(sub.get(t).payload, b"once%d" % version)
                self.sync(sub)
                self.assertNoMessage(sub, lambda x: x.topic == t)

    def test_qos1_and_qos2_acks_from_raw_client(self):
        t = self.topic("acks")
        sub = self.raw(version=5)
        sub.subscribe([(t, 2)])
        pub = self.raw(version=4)
        self.assertEqual(pub.publish(t, b"one", qos=1).type, m.PUBACK)
        self.assertEqual(pub.publish(t, b"two", qos=2).type, m.PUBCOMP)
        p1 = sub.next_publish()
        p2 = sub.next_publish()
        self.assertEqual((p1.payload, p1.qos, p2.payload, p2.qos), (b"one", 1, b"two", 2))
        self.assertEqual((p1.dup, p2.dup, p1.retain, p2.retain), (0, 0, 0, 0))

    def test_order_preserved_qos1(self):
        t = self.topic("order")
        sub = self.paho(version=5)
        sub.subscribe(t, 1)
        pub = self.paho(version=4)
        for i in range(100):
            pub.publish(t, b"%d" % i, 1, wait=False)
        got = [int(x.payload) for x in sub.get_n(100, t)]
        self.assertEqual(got, list(range(100)))

    def test_large_payload_round_trip(self):
        t = self.topic("big")
        sub = self.paho(version=4)
        sub.subscribe(t, 1)
        payload = bytes(range(256)) * 400  # 102400 bytes, under max_payload
        self.paho(version=5).publish(t, payload, 1)
        self.assertEqual(sub.get(t).payload, payload)

    def test_empty_payload_and_utf8_topic(self):
        t = self.topic("ünïcødé/€")
        sub = self.paho(version=5)
        sub.subscribe(t, 1)
        self.paho(version=4).publish(t, b"", 1)
        got = sub.get(t)
        self.assertEqual(got.payload, b"")

    def test_unsubscribe_stops_delivery(self):
        t = self.topic("u")
        for version in (4, 5):
            with self.subTest(version=version):
                sub = self.paho(version=version)
                sub.subscribe(t, 1)
                pub = self.paho(version=4)
                pub.publish(t, b"before", 1)
                self.assertEqual(sub.get(t).payload, b"before")
                sub.unsubscribe(t)
                pub.publish(t, b"after", 1)
                self.sync(sub, pub)
                self.assertNoMessage(sub, lambda x: x.topic == t)

    # -- wildcards

    def test_wildcard_matching(self):
        base = self.topic()
        cases = {
            "+/b": ["a/b", "x/b", "/b"],
            "a/+": ["a/b", "a/", "a/bc"],
            "a/#": ["a", "a/b", "a/b/c", "a/", "a//c", "a/bc"],
            "a/+/c": ["a/b/c", "a//c"],
            "#": None,  # everything under base
            "a/b/c": ["a/b/c"],
        }
        topics = ["a", "a/b", "a/b/c", "a/", "x/b", "/b", "a//c", "b", "ab", "a/bc", "x/b/c"]
        pub = self.paho(version=4)
        subs = {}
        for flt in cases:
            c = self.paho(version=5)
            c.subscribe(base + "/" + flt, 1)
            subs[flt] = c
        for t in topics:
            pub.publish(base + "/" + t, t.encode(), 1)
        for i, (flt, c) in enumerate(subs.items()):
            want = topics if cases[flt] is None else cases[flt]
            with self.subTest(filter=flt):
                got = sorted(x.payload.decode() for x in c.get_n(len(want)))
                self.assertEqual(got, sorted(want))
                self.sync(c, pub, topic=base + "-sentinel/%d" % i)
                self.assertNoMessage(c, lambda x: x.topic.startswith(base + "/"))

    def test_dollar_topics_not_matched_by_leading_wildcards(self):
        dollar = "$itest" + self._uid
        pub = self.paho(version=4)
        hash_sub = self.paho(version=4)
        hash_sub.subscribe("#", 1)
        plus_sub = self.paho(version=5)
        plus_sub.subscribe("+/x", 1)
        exact = self.paho(version=4)
        exact.subscribe(dollar + "/#", 1)
        plus_dollar = self.paho(version=5)
        plus_dollar.subscribe(dollar + "/+", 1)
        pub.publish(dollar + "/x", b"dollar", 1)
        self.assertEqual(exact.get(dollar + "/x").payload, b"dollar")
        self.assertEqual(plus_dollar.get(dollar + "/x").payload, b"dollar")
        for c in (hash_sub, plus_sub):
            self.sync(c, pub)
            self.assertNoMessage(c, lambda x: x.topic.startswith("$"))

    def test_overlapping_subscriptions_deliver_at_max_qos(self):
        t = self.topic("o/p")
        sub = self.paho(version=5)
        sub.subscribe(self.topic("o/#"), 0)
        sub.subscribe(t, 1)
        self.paho(version=4).publish(t, b"x", 1)
        got = sub.get(t)
        # MQTT 5 (3.3.4): delivered according to the maximum granted QoS of
        # the overlapping subscriptions (one copy, or one per subscription).
        qos_seen = [got.qos]
        extra = sub.take(lambda x: x.topic == t, timeout=0.3)
        if extra is not None:
            qos_seen.append(extra.qos)
        self.assertIn(1, qos_seen)

    # -- shared subscriptions

    def test_shared_subscription_splits_messages(self):
        t = self.topic("jobs")
        group = "$share/g%s/%s" % (self._uid, t)
        members = [self.paho(version=5), self.paho(version=4)]
        for c in members:
            c.subscribe(group, 1)
        plain = self.paho(version=5)
        plain.subscribe(t, 1)
        pub = self.paho(version=4)
        n = 40
        for i in range(n):
            pub.publish(t, b"%d" % i, 1)
        self.assertEqual(sorted(int(x.payload) for x in plain.get_n(n, t)), list(range(n)))
        got = {0: [], 1: []}
        deadline = time.monotonic() + TIMEOUT
        while len(got[0]) + len(got[1]) < n and time.monotonic() < deadline:
            for i, c in enumerate(members):
                x = c.take(lambda x: x.topic == t, timeout=0.02)
                if x is not None:
                    got[i].append(int(x.payload))
        union = got[0] + got[1]
        self.assertEqual(sorted(union), list(range(n)),
                         "each message exactly once to the group: %r" % got)
        self.assertTrue(got[0] and got[1], "both members should get some: %r" % got)
        for c in members:
            self.sync(c, pub)
            self.assertNoMessage(c, lambda x: x.topic == t)

    def test_shared_subscription_member_leaves(self):
        t = self.topic("s")
        group = "$share/h%s/%s" % (self._uid, t)
        a = self.paho(version=5)
        b = self.paho(version=5)
        a.subscribe(group, 1)
        b.subscribe(group, 1)
        a.unsubscribe(group)
        pub = self.paho(version=4)
        for i in range(10):
            pub.publish(t, b"%d" % i, 1)
        self.assertEqual(sorted(int(x.payload) for x in b.get_n(10, t)), list(range(10)))

    # -- mosquitto command-line clients (plain port)

    def test_mosquitto_clients_plain(self):
        t = self.topic("cli")
        port = str(self.server.port("mqtt_plain"))
        for v in ("mqttv311", "mqttv5"):
            with self.subTest(version=v):
                r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", v,
                                    "-t", t, "-m", "cli " + v, "-q", "1", "-r"],
                                   capture_output=True, timeout=TIMEOUT)
                self.assertEqual(r.returncode, 0, r.stderr)
                r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-V", v,
                                    "-t", t, "-C", "1", "-W", str(int(TIMEOUT)), "-q", "1"],
                                   capture_output=True, timeout=TIMEOUT + 5)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.strip(), ("cli " + v).encode())


class InflightTest(RoostCase):
    """max_inflight: QoS 1/2 messages sent to a 3.1.1 client and not yet
    acknowledged (a v5 client's Receive Maximum can only lower it)."""
    CONFIG = {"max_inflight": 3}

    def unacked(self, r, quiet=None):
        """PUBLISHes that arrive within the quiet window."""
        got = [p for p in r.stash if p.type == m.PUBLISH]
        r.stash.clear()
        deadline = time.monotonic() + (quiet if quiet is not None else QUIET)
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

    @roostd_only("mosquitto 2.0.11 sends one more than its window after a PUBACK")
    def test_max_inflight_v311(self):
        t = self.topic("w")
        sub = self.raw(version=4)
        sub.subscribe([(t, 1)])
        pub = self.paho(version=5)
        for i in range(6):
            pub.publish(t, b"%d" % i, 1)
        first = [sub.next_publish(auto_ack=False) for _ in range(3)]
        self.assertEqual([p.payload for p in first], [b"0", b"1", b"2"])
        self.assertEqual(self.unacked(sub), [], "more than max_inflight unacknowledged")
        sub.send(m.ack(m.PUBACK, first[0].pid))
        nxt = sub.next_publish(auto_ack=False)
        self.assertEqual(nxt.payload, b"3")
        self.assertEqual(self.unacked(sub), [], "more than max_inflight unacknowledged")
        for p in first[1:] + [nxt]:
            sub.send(m.ack(m.PUBACK, p.pid))
        self.assertEqual([sub.next_publish().payload for _ in range(2)], [b"4", b"5"])

    def test_receive_maximum_lower_than_max_inflight(self):
        t = self.topic("rm")
        sub = self.raw(version=5, properties=[("ReceiveMaximum", 1)])
        sub.subscribe([(t, 1)])
        pub = self.paho(version=4)
        for i in range(3):
            pub.publish(t, b"%d" % i, 1)
        p = sub.next_publish(auto_ack=False)
        self.assertEqual(self.unacked(sub), [])
        sub.send(m.ack(m.PUBACK, p.pid, 5))
        self.assertEqual([sub.next_publish().payload for _ in range(2)], [b"1", b"2"])


class LimitsTest(RoostCase):
    """Default limits: max_payload 131072, max_topic 256."""

    def setUp(self):
        super().setUp()
        self.witness = self.paho(version=5)
        self.wt = self.topic("witness")
        self.witness.subscribe(self.wt, 1)

    def tearDown(self):
        # Whatever the bad client did, others keep working.
        if self.server.alive():
            self.paho(version=4).publish(self.wt, b"still here", 1)
            self.assertEqual(self.witness.get(self.wt).payload, b"still here")
        super().tearDown()

    @roostd_only("max_payload = 131072 exactly")
    def test_payload_at_limit_accepted(self):
        t = self.topic("p")
        sub = self.paho(version=4)
        sub.subscribe(t, 1)
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version)
                r.publish(t, b"z" * 131072, qos=1)
                self.assertEqual(len(sub.get(t).payload), 131072)

    @roostd_only("max_payload = 131072, DISCONNECT 0x95")
    def test_payload_over_limit_v5(self):
        r = self.raw(version=5)
        r.send(m.publish(self.topic("p"), b"z" * 131073, qos=1, pid=1, version=5))
        got = r.wait_closed()
        self.assertEqual([(p.type, p.reason) for p in got if p.type != m.PUBACK],
                         [(m.DISCONNECT, 0x95)], "Packet too large: %r" % got)
        self.assertFalse([p for p in got if p.type == m.PUBACK], "must not be acknowledged")

    @roostd_only("max_payload = 131072")
    def test_payload_over_limit_v311(self):
        t = self.topic("p")
        sub = self.paho(version=4)
        sub.subscribe(t, 1)
        r = self.raw(version=4)
        r.send(m.publish(t, b"z" * 131073, qos=1, pid=1))
        self.assertEqual(r.wait_closed(), [])
        self.sync(sub)
        self.assertNoMessage(sub, lambda x: x.topic == t)

    @roostd_only("max_topic = 256")
    def test_topic_at_limit_accepted(self):
        t = self.topic()
        t = t + "/" + "k" * (256 - len(t) - 1)
        self.assertEqual(len(t), 256)
        sub = self.paho(version=5)
        sub.subscribe(t, 1)
        self.paho(version=4).publish(t, b"long", 1)
        self.assertEqual(sub.get(t).payload, b"long")

    @roostd_only("max_topic = 256, DISCONNECT 0x90")
    def test_topic_over_limit_v5(self):
        r = self.raw(version=5)
        r.send(m.publish("t" * 257, b"x", qos=1, pid=1, version=5))
        got = r.wait_closed()
        self.assertEqual([(p.type, p.reason) for p in got], [(m.DISCONNECT, 0x90)],
                         "Topic Name invalid: %r" % got)

    @roostd_only("max_topic = 256")
    def test_topic_over_limit_v311(self):
        r = self.raw(version=4)
        r.send(m.publish("t" * 257, b"x", qos=1, pid=1))
        self.assertEqual(r.wait_closed(), [])

    @roostd_only("max_topic = 256 for filters")
    def test_subscribe_filter_over_limit(self):
        for version, code in ((4, 0x80), (5, 0x8F)):
            with self.subTest(version=version):
                r = self.raw(version=version)
                ok = self.topic("ok")
                ack = r.subscribe([(ok, 1), ("f" * 255 + "/+/#", 1)])
                self.assertEqual(ack.codes, [1, code])
                self.assertTrue(r.is_open(TIMEOUT), "a refused filter is not a protocol error")


if __name__ == "__main__":
    unittest.main()
