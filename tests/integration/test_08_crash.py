"""test_08_crash - durability across `kill -9`: what roostd acknowledged
(PUBACK / PUBREC for a message to a persistent session, a retained message,
a SUBACK for a persistent session's subscription) must be there after a
restart on the same data dir.  Duplicates are allowed, losses are not.
"""

import threading
import time
import unittest

import mqtt_raw as m
from roostd_fixture import RoostCase, TIMEOUT, roostd_only

N = 200


@roostd_only("kill -9 durability (mosquitto persists only on exit)")
class CrashTest(RoostCase):
    CLASS_SERVER = False

    def subscribers(self, srv, t, qos=1):
        """A 3.1.1 (clean session 0) and a v5 (long session expiry)
        persistent subscriber on t, subscribed and disconnected."""
        subs = {4: self.cid("s4"), 5: self.cid("s5")}
        for version, cid in subs.items():
            r = self.raw(version=version, server=srv, client_id=cid, **self.persist(version))
            self.assertEqual(r.subscribe([(t, qos)]).codes, [qos])
            r.disconnect()
        return subs

    @staticmethod
    def persist(version):
        if version == 5:
            return {"clean": False, "properties": [("SessionExpiryInterval", 86400)]}
        return {"clean": False}

    def collect(self, srv, version, cid, t, want):
        """Reconnect cid and read PUBLISHes on t until every payload in want
        has arrived (acknowledging each).  Returns the payloads seen."""
        r = self.raw(version=version, server=srv, client_id=cid, **self.persist(version))
        self.assertEqual(r.connack.session_present, 1, "v%d session lost in the crash" % version)
        seen = []
        missing = set(want)
        deadline = time.monotonic() + TIMEOUT * 2
        while missing:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail("v%d: %d acknowledged messages lost, e.g. %r"
                          % (version, len(missing), sorted(missing)[:10]))
            try:
                p = r.next_publish(timeout=left)
            except TimeoutError:
                continue
            if p.topic == t:
                seen.append(p.payload)
                missing.discard(p.payload)
        return r, seen

    def publish_stream(self, srv, t, n, qos, kill_after=None):
        """Pipeline n PUBLISHes on t; return the payloads the server
        acknowledged (PUBACK, or PUBREC for QoS 2).  With kill_after, the
        server gets SIGKILL as soon as that many were acknowledged."""
        pub = self.raw(version=4, server=srv)
        acked = []
        ack_type = m.PUBACK if qos == 1 else m.PUBREC
        data = b"".join(m.publish(t, b"msg-%04d" % i, qos=qos, pid=i + 1) for i in range(n))

        def reader():
            try:
                while len(acked) < n:
                    p = pub.read(timeout=TIMEOUT)
                    if p.type == ack_type:
                        acked.append(b"msg-%04d" % (p.pid - 1))
                        if qos == 2:
                            pub.send(m.ack(m.PUBREL, p.pid))
                        if kill_after is not None and len(acked) == kill_after:
                            srv.kill9()
                            return
            except (m.ConnectionClosed, TimeoutError, OSError):
                pass

        th = threading.Thread(target=reader)
        th.start()
        try:
            pub.send(data)
        except OSError:
            pass
        th.join(TIMEOUT * 3)
        self.assertFalse(th.is_alive())
        if kill_after is None:
            self.assertEqual(len(acked), n, "not every message was acknowledged")
        return acked

    def test_acked_qos1_survive_kill9(self):
        srv = self.new_server()
        t = self.topic("q1")
        subs = self.subscribers(srv, t)
        acked = self.publish_stream(srv, t, N, 1)
        srv.kill9()
        srv.start()
        for version, cid in subs.items():
            with self.subTest(version=version):
                r, seen = self.collect(srv, version, cid, t, acked)
                self.assertTrue(set(acked) <= set(seen))
        # The subscriptions survived too: live delivery still works.
        live = self.raw(version=5, server=srv)
        live.publish(t, b"after", qos=1)
        for version, cid in subs.items():
            r = self.raw(version=version, server=srv, client_id=cid, **self.persist(version))
            got = r.wait_for(lambda p: p.type == m.PUBLISH and p.payload == b"after",
                             TIMEOUT, "post-restart message")
            self.assertEqual(got.topic, t)

    def test_kill9_mid_stream(self):
        srv = self.new_server()
        t = self.topic("mid")
        subs = self.subscribers(srv, t)
        n = 1000  # long enough that the kill lands while messages are in flight
        acked = self.publish_stream(srv, t, n, 1, kill_after=300)
        self.assertGreaterEqual(len(acked), 300)
        self.assertFalse(srv.alive())
        srv.start()
        for version, cid in subs.items():
            with self.subTest(version=version):
                r, seen = self.collect(srv, version, cid, t, acked)
                self.assertTrue(set(acked) <= set(seen))

    def test_acked_qos2_survive_kill9(self):
        srv = self.new_server()
        t = self.topic("q2")
        subs = self.subscribers(srv, t, qos=2)
        acked = self.publish_stream(srv, t, 50, 2)
        srv.kill9()
        srv.start()
        for version, cid in subs.items():
            with self.subTest(version=version):
                r, seen = self.collect(srv, version, cid, t, acked)
                self.assertTrue(set(acked) <= set(seen))

    def test_retained_survives_kill9(self):
        srv = self.new_server()
        t = self.topic("ret")
        pub = self.raw(version=5, server=srv)
        pub.publish(t + "/1", b"kept", qos=1, retain=True)
        pub.publish(t + "/2", b"first", qos=1, retain=True)
        pub.publish(t + "/2", b"second", qos=1, retain=True)
        pub.publish(t + "/3", b"doomed", qos=1, retain=True)
        pub.publish(t + "/3", b"", qos=1, retain=True)
        srv.kill9()
        srv.start()
        sub = self.raw(version=4, server=srv)
        sub.subscribe([(t + "/#", 1)])
        got = {}
        for _ in range(2):
            p = sub.next_publish()
            got[p.topic] = (p.payload, p.retain)
        self.assertEqual(got, {t + "/1": (b"kept", 1), t + "/2": (b"second", 1)})
        self.sync(sub)
        self.assertFalse([p for p in sub.stash if p.type == m.PUBLISH and p.topic == t + "/3"])

    def test_repeated_kill9_restarts(self):
        # Three crashes in a row: the store must come back every time.
        srv = self.new_server()
        t = self.topic("rep")
        cid = self.cid("rep")
        r = self.raw(version=5, server=srv, client_id=cid, **self.persist(5))
        r.subscribe([(t, 1)])
        r.disconnect()
        want = []
        for round_ in range(3):
            pub = self.raw(version=4, server=srv)
            payload = b"round-%d" % round_
            pub.publish(t, payload, qos=1)
            want.append(payload)
            srv.kill9()
            srv.start()
        r, seen = self.collect(srv, 5, cid, t, want)
        self.assertTrue(set(want) <= set(seen))


if __name__ == "__main__":
    unittest.main()
