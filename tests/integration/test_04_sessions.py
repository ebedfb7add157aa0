"""test_04_sessions - persistent sessions: clean session / clean start and
the session-present flag, QoS 1/2 messages queued while offline and sent on
reconnect (also across a roostd restart), in-flight messages resent with DUP,
QoS 2 PUBREL resent, v5 session expiry, session_expiry_default for 3.1.1 and
the max_queued limit (oldest dropped).
"""

import time
import unittest

import mqtt_raw as m
from roostd_fixture import RoostCase, roostd_only


def persistent(version):
    """Connect options for a persistent session in either version."""
    if version == 5:
        return {"clean_start": False, "properties": {"SessionExpiryInterval": 3600}}
    return {}


def check_queued(case, got, prefix, n):
    """got holds exactly prefix0..prefix(n-1), message i with QoS 1 + i % 2.
    Order is only promised per QoS level (MQTT 4.6), so check it per level."""
    names = [x.payload for x in got]
    case.assertEqual(sorted(names), sorted(b"%s%d" % (prefix, i) for i in range(n)))
    for x in got:
        i = int(x.payload[len(prefix):])
        case.assertEqual(x.qos, 1 + i % 2, "QoS of %r" % x.payload)
    for qos in (1, 2):
        seq = [int(x.payload[len(prefix):]) for x in got if x.qos == qos]
        case.assertEqual(seq, sorted(seq), "QoS %d messages out of order" % qos)


class SessionTest(RoostCase):

    def open(self, cid, version, server=None, clean=False):
        """Connect cid persistently (clean=False) or clean."""
        srv = server or self.server
        if version == 5:
            if clean:
                return self.paho(cid, 5, server=srv, clean_start=True)
            return self.paho(cid, 5, server=srv, **persistent(5))
        return self.paho(cid, 4, server=srv, clean_session=clean)

    def test_session_present_flag(self):
        for version in (4, 5):
            with self.subTest(version=version):
                cid = self.cid("sp%d" % version)
                c = self.open(cid, version)
                self.assertFalse(c.session_present, "new session")
                c.disconnect()
                c = self.open(cid, version)
                self.assertTrue(c.session_present, "resumed session")
                c.disconnect()
                c = self.open(cid, version, clean=True)
                self.assertFalse(c.session_present, "clean session discards")
                c.disconnect()

    def test_offline_messages_delivered_on_reconnect(self):
        pub = self.paho(version=4)
        for version in (4, 5):
            with self.subTest(version=version):
                cid = self.cid("off%d" % version)
                t = self.topic("off%d" % version)
                c = self.open(cid, version)
                c.subscribe(t, 2)
                c.disconnect()
                for i in range(10):
                    pub.publish(t, b"m%d" % i, 1 + i % 2)
                c = self.open(cid, version)
                self.assertTrue(c.session_present)
                check_queued(self, c.get_n(10, t), b"m", 10)
                # The subscription itself survived too.
                pub.publish(t, b"live", 1)
                self.assertEqual(c.get(t).payload, b"live")

    def test_clean_session_discards_subscriptions(self):
        pub = self.paho(version=5)
        for version in (4, 5):
            with self.subTest(version=version):
                cid = self.cid("cs%d" % version)
                t = self.topic("cs%d" % version)
                c = self.open(cid, version)
                c.subscribe(t, 1)
                c.disconnect()
                pub.publish(t, b"queued", 1)
                c = self.open(cid, version, clean=True)
                self.assertFalse(c.session_present)
                pub.publish(t, b"after clean", 1)
                self.sync(c, pub)
                self.assertNoMessage(c, lambda x: x.topic == t)

    def test_clean_session_connection_leaves_nothing(self):
        # A clean (non-persistent) session's subscriptions end with it.
        cid = self.cid("cl")
        t = self.topic("cl")
        c = self.paho(cid, 4, clean_session=True)
        c.subscribe(t, 1)
        c.disconnect()
        pub = self.paho(version=4)
        pub.publish(t, b"nobody", 1)
        c = self.paho(cid, 4, clean_session=False)
        self.assertFalse(c.session_present)
        self.sync(c, pub)
        self.assertNoMessage(c, lambda x: x.topic == t)

    def test_inflight_qos1_resent_with_dup(self):
        t = self.topic("dup")
        for version in (4, 5):
            cid = self.cid("dup%d" % version)
            with self.subTest(version=version):
                sub = self.raw(version, client_id=cid, clean=False,
                               properties={"SessionExpiryInterval": 600} if version == 5 else None)
                sub.subscribe(t, 1)
                self.paho(version=4).publish(t, b"unacked%d" % version, 1)
                first = sub.next_publish(auto_ack=False)
                self.assertEqual((first.payload, first.dup), (b"unacked%d" % version, 0))
                sub.close()  # no PUBACK
                again = self.raw(version, client_id=cid, clean=False,
                                 properties={"SessionExpiryInterval": 600} if version == 5 else None)
                self.assertEqual(again.connack.session_present, 1)
                p = again.next_publish()
                self.assertEqual((p.payload, p.qos, p.dup), (first.payload, 1, 1))
                again.disconnect()

    def test_acked_resend_is_not_sent_again(self):
        # Resume a session with a QoS 1 message in flight (old connection
        # closed, or taken over while still open), PUBACK the DUP resend,
        # then resume once more: nothing may be left to send.  Repeated,
        # because a lost ack here has been a race.
        pub = self.raw(version=4)
        for i in range(20):
            mode = ("close", "takeover")[i % 2]
            with self.subTest(round=i, mode=mode):
                cid = self.cid("again%d" % i)
                t = self.topic("again%d" % i)
                first = self.raw(4, client_id=cid, clean=False)
                first.subscribe([(t, 1)])
                pub.publish(t, b"once", qos=1)
                first.next_publish(auto_ack=False)
                if mode == "close":
                    first.close()
                second = self.raw(4, client_id=cid, clean=False)
                p = second.next_publish()  # PUBACKed here
                self.assertEqual((p.payload, p.dup), (b"once", 1))
                second.disconnect()
                third = self.raw(4, client_id=cid, clean=False)
                self.sync(third, pub)
                left = [x for x in third.stash if x.type == m.PUBLISH and x.topic == t]
                self.assertEqual(left, [], "message PUBACKed on the resumed connection was "
                                 "delivered again on the next one: %r" % left)
                third.disconnect()
                first.close()

    def test_inflight_qos2_pubrel_resent(self):
        t = self.topic("rel")
        cid = self.cid("rel")
        sub = self.raw(4, client_id=cid, clean=False)
        sub.subscribe(t, 2)
        self.paho(version=5).publish(t, b"two", 2)
        p = sub.next_publish(auto_ack=False)
        self.assertEqual(p.qos, 2)
        sub.send(m.ack(m.PUBREC, p.pid))
        rel = sub.expect(m.PUBREL)
        self.assertEqual(rel.pid, p.pid)
        sub.close()  # no PUBCOMP
        again = self.raw(4, client_id=cid, clean=False)
        self.assertEqual(again.connack.session_present, 1)
        rel2 = again.read()
        self.assertEqual((rel2.type, rel2.pid), (m.PUBREL, p.pid),
                         "PUBREL must be resent, not the PUBLISH: %r" % rel2)
        again.send(m.ack(m.PUBCOMP, p.pid))
        self.sync(again)
        self.assertFalse([x for x in again.stash if x.type == m.PUBLISH and x.topic == t])

    def test_v5_session_expiry_zero_ends_at_disconnect(self):
        cid = self.cid("e0")
        c = self.paho(cid, 5, clean_start=False, properties={"SessionExpiryInterval": 0})
        c.subscribe(self.topic("e0"), 1)
        c.disconnect()
        c = self.paho(cid, 5, clean_start=False, properties={"SessionExpiryInterval": 60})
        self.assertFalse(c.session_present)

    def test_v5_session_expires(self):
        cid = self.cid("exp")
        t = self.topic("exp")
        c = self.paho(cid, 5, clean_start=False, properties={"SessionExpiryInterval": 1})
        c.subscribe(t, 1)
        c.disconnect()
        gone = time.monotonic()
        pub = self.paho(version=4)
        pub.publish(t, b"too late", 1)
        # Not a race: past expiry + margin the session must be gone.
        while time.monotonic() < gone + 2.5:
            time.sleep(0.1)
        c = self.paho(cid, 5, clean_start=False, properties={"SessionExpiryInterval": 60})
        self.assertFalse(c.session_present, "session outlived its expiry")
        self.sync(c, pub)
        self.assertNoMessage(c, lambda x: x.topic == t)

    def test_v5_session_expiry_changed_at_disconnect(self):
        # DISCONNECT may lower the session expiry (to 0: session ends now).
        cid = self.cid("chg")
        c = self.paho(cid, 5, clean_start=False, properties={"SessionExpiryInterval": 600})
        c.subscribe(self.topic("chg"), 1)
        c.disconnect(reason=0, properties={"SessionExpiryInterval": 0})
        c = self.paho(cid, 5, clean_start=False, properties={"SessionExpiryInterval": 600})
        self.assertFalse(c.session_present)

    def test_takeover_keeps_session(self):
        cid = self.cid("tk")
        t = self.topic("tk")
        a = self.open(cid, 5)
        a.subscribe(t, 1)
        b = self.open(cid, 5)
        self.assertTrue(b.session_present)
        a.wait_disconnected()
        self.paho(version=4).publish(t, b"to b", 1)
        self.assertEqual(b.get(t).payload, b"to b")

    def test_version_switch_resumes_session(self):
        # The same client id may come back speaking the other version.
        cid = self.cid("sw")
        t = self.topic("sw")
        c = self.open(cid, 4)
        c.subscribe(t, 1)
        c.disconnect()
        self.paho(version=4).publish(t, b"queued", 1)
        c = self.open(cid, 5)
        self.assertTrue(c.session_present)
        self.assertEqual(c.get(t).payload, b"queued")


class SessionRestartTest(RoostCase):
    """Sessions across a graceful restart on the same data dir."""

    def test_session_survives_restart(self):
        srv = self.new_server()
        subs = {}
        for version in (4, 5):
            cid = self.cid("rs%d" % version)
            t = self.topic("rs%d" % version)
            if version == 5:
                c = self.paho(cid, 5, server=srv, **persistent(5))
            else:
                c = self.paho(cid, 4, server=srv, clean_session=False)
            c.subscribe(t, 2)
            c.disconnect()
            subs[version] = (cid, t)
        pub = self.paho(version=4, server=srv)
        for version, (cid, t) in subs.items():
            for i in range(20):
                pub.publish(t, b"%d" % i, 1 + i % 2)
        pub.close()
        srv.restart()
        pub = self.paho(version=5, server=srv)
        for version, (cid, t) in subs.items():
            with self.subTest(version=version):
                if version == 5:
                    c = self.paho(cid, 5, server=srv, **persistent(5))
                else:
                    c = self.paho(cid, 4, server=srv, clean_session=False)
                self.assertTrue(c.session_present, "session lost in restart")
                check_queued(self, c.get_n(20, t), b"", 20)
                pub.publish(t, b"after restart", 1)
                self.assertEqual(c.get(t).payload, b"after restart")

    @roostd_only("session_expiry_default for 3.1.1")
    def test_v311_session_expiry_default(self):
        srv = self.new_server({"session_expiry_default": 1})
        cid = self.cid("d")
        t = self.topic("d")
        c = self.paho(cid, 4, server=srv, clean_session=False)
        c.subscribe(t, 1)
        c.disconnect()
        gone = time.monotonic()
        while time.monotonic() < gone + 2.5:
            time.sleep(0.1)
        c = self.paho(cid, 4, server=srv, clean_session=False)
        self.assertFalse(c.session_present, "3.1.1 session outlived session_expiry_default")

    @roostd_only("max_queued drops the oldest")
    def test_max_queued_drops_oldest(self):
        srv = self.new_server({"max_queued": 5})
        cid = self.cid("mq")
        t = self.topic("mq")
        c = self.paho(cid, 5, server=srv, **persistent(5))
        c.subscribe(t, 1)
        c.disconnect()
        pub = self.paho(version=4, server=srv)
        for i in range(12):
            pub.publish(t, b"%d" % i, 1)
        c = self.paho(cid, 5, server=srv, **persistent(5))
        got = [int(x.payload) for x in c.get_n(5, t)]
        self.assertEqual(got, list(range(7, 12)), "the newest 5 are kept")
        self.sync(c, pub)
        self.assertNoMessage(c, lambda x: x.topic == t)


if __name__ == "__main__":
    unittest.main()
