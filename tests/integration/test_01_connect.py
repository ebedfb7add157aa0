"""test_01_connect - CONNECT/CONNACK against a real roostd: both protocol
versions, plain and mTLS, client identifiers (empty, assigned, too long),
takeover of a client id, keep-alive enforcement, and many connections at once.
"""

import threading
import time
import unittest

import mqtt_raw as m
from roostd_fixture import RoostCase, TIMEOUT, IS_MOSQUITTO, SLOW, roostd_only


class ConnectTest(RoostCase):

    def test_connect_v311_paho(self):
        c = self.paho(version=4)
        flags, rc, _ = c.connack
        self.assertEqual(rc, 0)
        self.assertFalse(flags.get("session present"))

    def test_connect_v5_paho(self):
        c = self.paho(version=5)
        flags, rc, _ = c.connack
        self.assertEqual(rc.value, 0)
        self.assertFalse(flags.get("session present"))

    def test_connack_v311_bytes(self):
        r = self.raw(version=4)
        self.assertEqual(r.connack.body, b"\x00\x00")
        self.assertEqual(r.connack.size, 4)

    def test_connack_v5_capabilities(self):
        # What the server advertises must match what it does: QoS 2, retain,
        # wildcards and shared subscriptions are all supported.
        r = self.raw(version=5)
        ack = r.connack
        self.assertEqual(ack.rc, 0)
        self.assertEqual(ack.session_present, 0)
        self.assertIn(ack.prop("MaximumQoS", 2), (2,), "QoS 2 must not be restricted")
        self.assertEqual(ack.prop("RetainAvailable", 1), 1)
        self.assertEqual(ack.prop("WildcardSubscriptionAvailable", 1), 1)
        self.assertEqual(ack.prop("SharedSubscriptionAvailable", 1), 1)
        self.assertEqual(ack.prop("SubscriptionIdentifierAvailable", 1), 1)
        self.assertIsNone(ack.prop("AssignedClientIdentifier"),
                          "no id to assign when the client sent one")

    def test_connect_mtls_both_versions(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version, kind="mqtt")
                self.assertEqual(r.connack.rc, 0)
                self.assertTrue(r.is_open(TIMEOUT))

    def test_pubsub_over_mtls_paho(self):
        sub = self.paho(version=5, kind="mqtt")
        pub = self.paho(version=4, kind="mqtt")
        t = self.topic("x")
        sub.subscribe(t, 1)
        pub.publish(t, b"over tls", 1)
        self.assertEqual(sub.get(t).payload, b"over tls")

    def test_disconnect_closes_connection(self):
        r = self.raw(version=4)
        r.send(m.disconnect(4))
        self.assertEqual(r.wait_closed(), [])

    # -- client identifiers

    def test_empty_client_id_v311_clean_session(self):
        r = self.raw(version=4, client_id="", clean=True)
        self.assertTrue(r.is_open(TIMEOUT))

    def test_empty_client_id_v311_persistent_rejected(self):
        r = self.raw(version=4, connect=False)
        ack = r.connect("", clean=False)
        self.assertEqual(ack.rc, 2, "identifier rejected")
        self.assertEqual(ack.session_present, 0)
        r.wait_closed()

    def test_empty_client_id_v5_assigned(self):
        ids = []
        for _ in range(2):
            r = self.raw(version=5, client_id="")
            assigned = r.connack.prop("AssignedClientIdentifier")
            self.assertTrue(assigned, "CONNACK lacks Assigned Client Identifier: %r" % r.connack)
            ids.append(assigned)
        self.assertNotEqual(ids[0], ids[1])
        # The assigned id is a real client id: a publish through it works.
        t = self.topic("assigned")
        sub = self.paho(version=4)
        sub.subscribe(t, 1)
        r.publish(t, b"hi", qos=1)
        self.assertEqual(sub.get(t).payload, b"hi")

    @roostd_only("max_client_id = 128")
    def test_client_id_128_accepted(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version, client_id="i" * 127 + str(version))
                self.assertTrue(r.is_open(TIMEOUT))

    @roostd_only("max_client_id = 128")
    def test_client_id_129_rejected_v311(self):
        r = self.raw(version=4, connect=False)
        ack = r.connect("x" * 129)
        self.assertEqual(ack.rc, 2)
        r.wait_closed()

    @roostd_only("max_client_id = 128")
    def test_client_id_129_rejected_v5(self):
        r = self.raw(version=5, connect=False)
        ack = r.connect("y" * 129)
        self.assertEqual(ack.rc, 0x85, "Client Identifier not valid")
        r.wait_closed()

    # -- takeover

    def test_takeover_v311(self):
        cid = self.cid("dup")
        first = self.raw(version=4, client_id=cid)
        second = self.raw(version=4, client_id=cid)
        got = first.wait_closed()
        self.assertEqual([p for p in got if p.type != m.PINGRESP], [],
                         "3.1.1 has no server DISCONNECT")
        self.assertTrue(second.is_open(TIMEOUT), "the new connection must survive")

    @roostd_only("mosquitto 2.0.11 closes without DISCONNECT 0x8E")
    def test_takeover_v5_reason_0x8e(self):
        cid = self.cid("dup5")
        first = self.raw(version=5, client_id=cid)
        second = self.raw(version=5, client_id=cid)
        got = first.wait_closed()
        discs = [p for p in got if p.type == m.DISCONNECT]
        self.assertEqual(len(discs), 1, "expected one DISCONNECT, got %r" % got)
        self.assertEqual(discs[0].reason, 0x8E, "Session taken over")
        self.assertTrue(second.is_open(TIMEOUT))

    def test_takeover_keeps_new_connection_working(self):
        cid = self.cid("dup")
        t = self.topic("x")
        first = self.paho(cid, version=4)
        second = self.paho(cid, version=4)
        first.wait_disconnected()
        second.subscribe(t, 1)
        self.paho(version=5).publish(t, b"after takeover", 1)
        self.assertEqual(second.get(t).payload, b"after takeover")

    # -- keep-alive

    def test_keepalive_timeout_disconnects_and_fires_will(self):
        wt = self.topic("will")
        watcher = self.paho(version=4)
        watcher.subscribe(self.topic("#"), 1)
        v4 = self.raw(version=4, keepalive=2,
                      will={"topic": wt + "/4", "payload": b"gone4", "qos": 1})
        v5 = self.raw(version=5, keepalive=2,
                      will={"topic": wt + "/5", "payload": b"gone5", "qos": 1})
        start = time.monotonic()
        results = {}

        def wait(name, client):
            try:
                results[name] = (client.wait_closed(12 * SLOW), time.monotonic() - start)
            except Exception as e:  # reported below
                results[name] = (e, None)

        threads = [threading.Thread(target=wait, args=(n, c)) for n, c in (("v4", v4), ("v5", v5))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(15 * SLOW)
        for name in ("v4", "v5"):
            got, elapsed = results[name]
            self.assertIsNotNone(elapsed, "%s: %r" % (name, got))
            # 1.5 x keep-alive = 3 s; a server may not cut before the keep-alive itself.
            self.assertGreaterEqual(elapsed, 2.0, "%s closed too early" % name)
            # (mosquitto checks keep-alives on a coarse timer: up to ~8 s.)
            self.assertLessEqual(elapsed, (10.0 if IS_MOSQUITTO else 6.0) * SLOW,
                                 "%s closed too late" % name)
            for p in got:
                if p.type == m.DISCONNECT:
                    self.assertEqual(p.reason, 0x8D, "Keep Alive timeout")
        self.assertEqual(watcher.get(wt + "/4").payload, b"gone4")
        self.assertEqual(watcher.get(wt + "/5").payload, b"gone5")

    def test_keepalive_pings_keep_connection(self):
        r = self.raw(version=4, keepalive=2)
        start = time.monotonic()
        # Over 1.5 x keep-alive in total, but each gap well under it.
        while time.monotonic() - start < 3.6:
            time.sleep(0.9)
            r.send(m.pingreq())
            r.expect(m.PINGRESP, TIMEOUT)
        self.assertTrue(r.is_open(TIMEOUT))

    # -- load

    def test_fifty_connections_at_once(self):
        clients = [self.raw(version=4 + (i % 2), connect=False) for i in range(50)]
        for i, c in enumerate(clients):
            c.send(m.connect(self.cid("many%d" % i), version=c.version))
        for c in clients:
            ack = c.expect(m.CONNACK)
            self.assertEqual(ack.rc, 0)
        for c in clients:
            c.disconnect()
        self.assertTrue(self.raw(version=4).is_open(TIMEOUT))


class LifecycleTest(RoostCase):
    CLASS_SERVER = False

    def test_sigterm_right_after_ready_exits_0(self):
        # SIGTERM at any moment after `roostd ready` is a clean shutdown.
        srv = self.new_server()
        for i in range(8):
            with self.subTest(round=i):
                self.assertEqual(srv.stop(), 0, srv.log_tail(30))
                srv.start()

    def test_pki_kept_across_restart(self):
        srv = self.new_server()
        with open(srv.ca_cert, "rb") as f:
            ca = f.read()
        cert = srv.device_cert("before-restart")
        srv.restart()
        with open(srv.ca_cert, "rb") as f:
            self.assertEqual(f.read(), ca, "root CA replaced on restart")
        r = srv.raw("mqtt", 5, cert=cert)
        self._clients.append(r)
        self.assertEqual(r.connect(self.cid("pki")).rc, 0)

    def test_ports_json_matches_listeners(self):
        srv = self.new_server()
        self.assertEqual(len(set(srv.ports.values())), 4, srv.ports)
        self.assertEqual(srv.raw("mqtt_plain", 4).connect(self.cid("pj")).rc, 0)


if __name__ == "__main__":
    unittest.main()
