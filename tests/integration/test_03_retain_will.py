"""test_03_retain_will - retained messages (stored, sent on subscribe with
RETAIN=1 also to wildcard filters, replaced, deleted by an empty payload,
RETAIN=0 on live forwards, kept across a restart) and wills (ungraceful close,
not on DISCONNECT, v5 will delay and its cancellation by reconnecting, v5
DISCONNECT 0x04, will retain, will properties).
"""

import time
import unittest

from roostd_fixture import RoostCase, TIMEOUT, QUIET, prop


class RetainTest(RoostCase):

    def test_retained_delivered_on_subscribe(self):
        t = self.topic("r")
        pub = self.paho(version=4)
        pub.publish(t, b"kept", 1, retain=True)
        for version in (4, 5):
            with self.subTest(version=version):
                sub = self.paho(version=version)
                sub.subscribe(t, 1)
                got = sub.get(t)
                self.assertEqual((got.payload, got.retain, got.qos), (b"kept", True, 1))

    def test_retained_delivered_to_wildcards(self):
        base = self.topic()
        pub = self.paho(version=5)
        pub.publish(base + "/a/b", b"ab", 1, retain=True)
        pub.publish(base + "/a", b"a", 1, retain=True)
        cases = {"/a/+": [b"ab"], "/+/b": [b"ab"], "/a/#": [b"a", b"ab"], "/#": [b"a", b"ab"]}
        subs = []
        for flt, want in cases.items():
            for version in (4, 5):
                sub = self.paho(version=version)
                sub.subscribe(base + flt, 1)
                subs.append((flt, version, want, sub))
        for i, (flt, version, want, sub) in enumerate(subs):
            with self.subTest(filter=flt, version=version):
                got = sub.get_n(len(want))
                self.assertEqual(sorted(x.payload for x in got), want)
                self.assertTrue(all(x.retain for x in got), [x.retain for x in got])
                self.sync(sub, pub, topic=base + "-sync/%d" % i)
        self.assertNoMessages([(s[3], lambda x: x.topic.startswith(base + "/")) for s in subs])

    def test_retained_qos_is_min_of_stored_and_granted(self):
        t = self.topic("q")
        self.paho(version=4).publish(t, b"q2", 2, retain=True)
        for granted in (0, 1, 2):
            with self.subTest(granted=granted):
                sub = self.paho(version=5)
                sub.subscribe(t, granted)
                got = sub.get(t)
                self.assertEqual((got.payload, got.qos, got.retain), (b"q2", granted, True))

    def test_live_forward_has_retain_0(self):
        t = self.topic("live")
        subs = [self.paho(version=4), self.paho(version=5)]
        for s in subs:
            s.subscribe(t, 1)
        self.paho(version=4).publish(t, b"live", 1, retain=True)
        for s in subs:
            got = s.get(t)
            self.assertEqual(got.payload, b"live")
            self.assertFalse(got.retain, "an already-subscribed client gets RETAIN=0")
        # ... but it was stored.
        late = self.paho(version=4)
        late.subscribe(t, 1)
        self.assertTrue(late.get(t).retain)

    def test_retained_replaced(self):
        t = self.topic("rep")
        pub = self.paho(version=4)
        pub.publish(t, b"old", 1, retain=True)
        pub.publish(t, b"new", 1, retain=True)
        sub = self.paho(version=4)
        sub.subscribe(t, 1)
        self.assertEqual(sub.get(t).payload, b"new")
        self.sync(sub, pub)
        self.assertNoMessage(sub, lambda x: x.topic == t)

    def test_empty_payload_deletes_retained(self):
        base = self.topic()
        pub = self.paho(version=5)
        pub.publish(base + "/keep", b"k", 1, retain=True)
        pub.publish(base + "/gone", b"g", 1, retain=True)
        live = self.paho(version=4)
        live.subscribe(base + "/gone", 1)
        self.assertEqual(live.get().payload, b"g")
        pub.publish(base + "/gone", b"", 1, retain=True)
        # The delete itself is forwarded to current subscribers.
        got = live.get(base + "/gone")
        self.assertEqual(got.payload, b"")
        sub = self.paho(version=4)
        sub.subscribe(base + "/#", 1)
        self.assertEqual(sub.get(base + "/keep").payload, b"k")
        self.sync(sub, pub, topic=base + "-sync")
        self.assertNoMessage(sub, lambda x: x.topic == base + "/gone")

    def test_non_retained_publish_leaves_retained(self):
        t = self.topic("nr")
        pub = self.paho(version=4)
        pub.publish(t, b"stored", 1, retain=True)
        pub.publish(t, b"transient", 1, retain=False)
        sub = self.paho(version=4)
        sub.subscribe(t, 1)
        self.assertEqual(sub.get(t).payload, b"stored")

    def test_retained_survives_restart(self):
        srv = self.new_server()
        t = self.topic("persist")
        pub = self.paho(version=4, server=srv)
        pub.publish(t, b"durable", 1, retain=True)
        pub.publish(self.topic("deleted"), b"x", 1, retain=True)
        pub.publish(self.topic("deleted"), b"", 1, retain=True)
        pub.close()
        srv.restart()
        sub = self.paho(version=5, server=srv)
        sub.subscribe(self.topic("#"), 1)
        got = sub.get(t)
        self.assertEqual((got.payload, got.retain), (b"durable", True))
        self.sync(sub, self.paho(version=4, server=srv), topic=self.topic() + "-sync")
        self.assertNoMessage(sub, lambda x: x.topic == self.topic("deleted"))


class WillTest(RoostCase):

    def watcher(self):
        w = self.paho(version=4)
        w.subscribe(self.topic("#"), 1)
        return w

    def test_will_on_ungraceful_close(self):
        w = self.watcher()
        for version in (4, 5):
            with self.subTest(version=version):
                wt = self.topic("will%d" % version)
                c = self.paho(version=version,
                              will={"topic": wt, "payload": b"bye%d" % version, "qos": 1})
                c.drop()
                got = w.get(wt)
                self.assertEqual((got.payload, got.qos, got.retain), (b"bye%d" % version, 1, False))

    def test_will_on_raw_socket_close(self):
        w = self.watcher()
        wt = self.topic("rawwill")
        r = self.raw(version=4, will={"topic": wt, "payload": b"raw", "qos": 0})
        r.close()
        self.assertEqual(w.get(wt).payload, b"raw")

    def test_no_will_on_disconnect(self):
        w = self.watcher()
        for version in (4, 5):
            with self.subTest(version=version):
                wt = self.topic("nowill%d" % version)
                c = self.paho(version=version, will={"topic": wt, "payload": b"no", "qos": 1})
                c.disconnect()
                self.sync(w)
                self.assertNoMessage(w, lambda x: x.topic == wt)

    def test_will_retain(self):
        w = self.watcher()
        wt = self.topic("wr")
        c = self.paho(version=4, will={"topic": wt, "payload": b"offline", "qos": 1,
                                       "retain": True})
        c.drop()
        self.assertEqual(w.get(wt).payload, b"offline")
        late = self.paho(version=5)
        late.subscribe(wt, 1)
        got = late.get(wt)
        self.assertEqual((got.payload, got.retain), (b"offline", True))

    def test_v5_disconnect_with_will_0x04(self):
        w = self.watcher()
        wt = self.topic("w4")
        c = self.paho(version=5, will={"topic": wt, "payload": b"asked", "qos": 1})
        c.disconnect(reason=0x04)
        self.assertEqual(w.get(wt).payload, b"asked")

    def test_v5_will_properties_forwarded(self):
        wt = self.topic("wp")
        w = self.paho(version=5)
        w.subscribe(wt, 1)
        c = self.paho(version=5, will={
            "topic": wt, "payload": b"{}", "qos": 1,
            "properties": {"ContentType": "application/json", "UserProperty": [("k", "v")],
                           "ResponseTopic": "r/t", "CorrelationData": b"\x01\x02"}})
        c.drop()
        got = w.get(wt)
        self.assertEqual(prop(got, "ContentType"), "application/json")
        self.assertEqual(prop(got, "UserProperty"), [("k", "v")])
        self.assertEqual(prop(got, "ResponseTopic"), "r/t")
        self.assertEqual(prop(got, "CorrelationData"), b"\x01\x02")

    def test_v5_will_delay(self):
        w = self.watcher()
        wt = self.topic("delayed")
        c = self.paho(version=5, clean_start=True, properties={"SessionExpiryInterval": 60},
                      will={"topic": wt, "payload": b"late", "qos": 1,
                            "properties": {"WillDelayInterval": 2}})
        start = time.monotonic()
        c.drop()
        got = w.get(wt, timeout=TIMEOUT + 2)
        elapsed = time.monotonic() - start
        self.assertEqual(got.payload, b"late")
        self.assertGreaterEqual(elapsed, 1.5, "will published before its delay")

    def test_v5_will_delay_cancelled_by_reconnect(self):
        w = self.watcher()
        wt = self.topic("cancel")
        cid = self.cid("wd")
        c = self.paho(cid, version=5, clean_start=True, properties={"SessionExpiryInterval": 60},
                      will={"topic": wt, "payload": b"never", "qos": 1,
                            "properties": {"WillDelayInterval": 2}})
        start = time.monotonic()
        c.drop()
        again = self.paho(cid, version=5, clean_start=False,
                          properties={"SessionExpiryInterval": 60})
        if time.monotonic() - start > 1.5:
            self.skipTest("reconnect took too long to test the will delay")
        self.assertTrue(again.session_present)
        # Wait past the delay (plus the quiet margin): the will must not come.
        self.assertNoMessage(w, lambda x: x.topic == wt,
                             quiet=max(0.0, start + 2.0 - time.monotonic()) + QUIET + 0.5)

    def test_v5_will_sent_when_session_ends_before_delay(self):
        # Will delay 30 s but session expiry 1 s: the will goes at session end.
        w = self.watcher()
        wt = self.topic("sessend")
        c = self.paho(version=5, clean_start=True, properties={"SessionExpiryInterval": 1},
                      will={"topic": wt, "payload": b"session over", "qos": 1,
                            "properties": {"WillDelayInterval": 30}})
        c.drop()
        self.assertEqual(w.get(wt, timeout=TIMEOUT).payload, b"session over")

    def test_will_on_takeover_v311(self):
        # The old connection did not DISCONNECT: its will is published.
        w = self.watcher()
        wt = self.topic("tk")
        cid = self.cid("tk")
        self.raw(version=4, client_id=cid, will={"topic": wt, "payload": b"taken", "qos": 1})
        self.raw(version=4, client_id=cid)
        self.assertEqual(w.get(wt).payload, b"taken")


if __name__ == "__main__":
    unittest.main()
