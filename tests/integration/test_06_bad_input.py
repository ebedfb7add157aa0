"""test_06_bad_input - malformed and hostile input over raw sockets: bad
remaining length, QoS 3, wrong protocol level, packets over the maximum size,
invalid UTF-8 and wildcards in topic names, a second CONNECT, a first packet
that is not CONNECT, half a CONNECT (connect_timeout), bad flags, invalid
filters, and random garbage.  After every case a witness client that was
connected all along must still complete a publish/receive round trip, and the
server must still be alive.
"""

import random
import time
import unittest

import mqtt_raw as m
from roostd_fixture import RoostCase, TIMEOUT, IS_MOSQUITTO, SLOW, roostd_only

MALFORMED, PROTOCOL_ERROR, TOO_LARGE, TOPIC_INVALID = 0x81, 0x82, 0x95, 0x90


class WitnessCase(RoostCase):
    """setUp connects a witness; tearDown proves it still works."""

    def setUp(self):
        super().setUp()
        self.witness = self.raw(version=5, client_id=self.cid("witness"))
        self.wt = self.topic("witness")
        self.witness.subscribe([(self.wt, 1)])

    def tearDown(self):
        try:
            if self.server.alive():
                pub = self.raw(version=4)
                pub.publish(self.wt, b"round trip", qos=1)
                p = self.witness.wait_for(lambda p: p.type == m.PUBLISH and p.topic == self.wt,
                                          TIMEOUT, "witness message")
                self.assertEqual(p.payload, b"round trip")
        finally:
            super().tearDown()

    def rejected(self, r, v5_codes):
        """The server closes r; a v5 client first gets DISCONNECT with one
        of v5_codes, a 3.1.1 client gets nothing (3.1.1 has no server
        DISCONNECT)."""
        got = r.wait_closed()
        if IS_MOSQUITTO:
            # The stand-in often closes without DISCONNECT and picks other
            # codes; only the close itself is checked there.
            self.assertTrue(all(p.type == m.DISCONNECT and p.reason >= 0x80 for p in got), got)
            return
        if r.version == 5:
            self.assertEqual([p.type for p in got], [m.DISCONNECT],
                             "expected DISCONNECT then close, got %r" % got)
            self.assertIn(got[0].reason, v5_codes, "DISCONNECT reason: %r" % got[0])
        else:
            self.assertEqual(got, [], "3.1.1: close without a packet")

    def connect_refused(self, r):
        """A bad CONNECT: closed, and no successful CONNACK on the way."""
        got = r.wait_closed()
        for p in got:
            self.assertEqual(p.type, m.CONNACK, got)
            self.assertNotEqual(p.rc, 0, "bad CONNECT accepted: %r" % got)
        return got


class BadInputTest(WitnessCase):

    def test_remaining_length_five_bytes(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version)
                r.send(b"\x30\xff\xff\xff\xff\x01")
                self.rejected(r, (MALFORMED,))

    def test_publish_qos3(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version)
                body = m.mstr(self.topic("q3")) + m.u16(1) + (b"\x00" if version == 5 else b"")
                r.send(m.packet(0x36, body + b"payload"))
                self.rejected(r, (MALFORMED,))

    def test_wrong_protocol_level(self):
        r = self.raw(connect=False)
        r.send(m.connect(self.cid("lvl6"), version=6))
        got = r.wait_closed()
        self.assertEqual(len(got), 1, got)
        self.assertEqual((got[0].type, got[0].flags, got[0].body), (m.CONNACK, 0, b"\x00\x01"),
                         "expected 20 02 00 01, got %r" % got)

    def test_bad_protocol_name(self):
        r = self.raw(connect=False)
        body = m.mstr("MQTX") + bytes([4, 2]) + m.u16(60) + m.mstr(self.cid("name"))
        r.send(m.packet(0x10, body))
        self.connect_refused(r)

    def test_packet_over_maximum_size(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version)
                limit = r.connack.prop("MaximumPacketSize") if version == 5 else None
                # Header only: the server must refuse on the length, not
                # wait for (or buffer) the body.
                rl = limit if limit else 200 * 1024 * 1024
                r.send(bytes([0x32]) + m.varint(rl) + m.mstr(self.topic("big")) + m.u16(1))
                self.rejected(r, (TOO_LARGE,))

    @roostd_only("mosquitto waits for the whole CONNECT")
    def test_huge_connect(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version, connect=False)
                r.send(bytes([0x10]) + m.varint(200 * 1024 * 1024) + m.mstr("MQTT")
                       + bytes([version]))
                self.connect_refused(r)

    def test_invalid_utf8_topic(self):
        for version in (4, 5):
            for bad in (b"a/\xff\xfe", b"a\x00b", b"\xed\xa0\x80"):  # bad byte, NUL, surrogate
                with self.subTest(version=version, topic=bad):
                    r = self.raw(version=version)
                    r.send(m.publish(bad, b"x", qos=1, pid=1, version=version))
                    self.rejected(r, (MALFORMED,))

    def test_wildcard_in_publish_topic(self):
        for version in (4, 5):
            for bad in ("a/+", "a/#", "+", "#"):
                with self.subTest(version=version, topic=bad):
                    r = self.raw(version=version)
                    r.send(m.publish(bad, b"x", qos=0, version=version))
                    self.rejected(r, (TOPIC_INVALID,))

    def test_empty_topic_without_alias(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version)
                r.send(m.publish("", b"x", qos=1, pid=1, version=version))
                self.rejected(r, (MALFORMED, PROTOCOL_ERROR, TOPIC_INVALID))

    def test_second_connect(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version)
                r.send(m.connect(self.cid("again"), version=version))
                self.rejected(r, (PROTOCOL_ERROR,))

    def test_first_packet_not_connect(self):
        for first in (m.pingreq(), m.publish(self.topic("x"), b"x"),
                      m.subscribe(1, [(self.topic("x"), 0)]),
                      b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n"):
            with self.subTest(first=first[:8]):
                r = self.raw(connect=False)
                r.send(first)
                got = r.wait_closed()
                self.assertEqual([p for p in got if p.type == m.CONNACK and p.rc == 0], [],
                                 "no session without CONNECT: %r" % got)
                self.assertEqual([p for p in got if p.type in (m.PINGRESP, m.SUBACK)], [], got)

    def test_packet_id_zero(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version)
                r.send(m.publish(self.topic("pid0"), b"x", qos=1, pid=0, version=version))
                self.rejected(r, (MALFORMED, PROTOCOL_ERROR))

    def test_subscribe_bad_fixed_header_flags(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version)
                good = m.subscribe(1, [(self.topic("f"), 1)], version)
                r.send(bytes([0x80]) + good[1:])  # flags must be 0010
                self.rejected(r, (MALFORMED,))

    def test_subscribe_without_filters(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version)
                r.send(m.packet(0x82, m.u16(1) + (b"\x00" if version == 5 else b"")))
                self.rejected(r, (MALFORMED, PROTOCOL_ERROR))

    def test_invalid_filters_refused(self):
        for version in (4, 5):
            for bad in ("a/#/b", "a#", "a/b+", "+a/b", "#/"):
                with self.subTest(version=version, filter=bad):
                    r = self.raw(version=version)
                    r.send(m.subscribe(9, [(bad, 1)], version))
                    try:
                        p = r.read()
                    except m.ConnectionClosed:
                        continue  # closing is allowed for an invalid filter
                    if p.type == m.SUBACK:
                        self.assertEqual(p.codes, [0x80 if version == 4 else 0x8F],
                                         "invalid filter %r granted" % bad)
                    else:
                        self.assertEqual(p.type, m.DISCONNECT, p)
                        self.assertIn(p.reason, (MALFORMED, PROTOCOL_ERROR, 0x8F))
                        r.wait_closed()

    def test_subscribe_reserved_option_bits(self):
        r = self.raw(version=5)
        r.send(m.subscribe(1, [(self.topic("o"), 0xC1)], 5))  # reserved bits 6-7
        self.rejected(r, (MALFORMED, PROTOCOL_ERROR))

    def test_reserved_connect_flag(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version, connect=False)
                r.send(m.connect(self.cid("rsv"), version=version, flags_extra=0x01))
                self.connect_refused(r)

    def test_will_qos3(self):
        for version in (4, 5):
            with self.subTest(version=version):
                r = self.raw(version=version, connect=False)
                r.send(m.connect(self.cid("wq3"), version=version,
                                 will={"topic": self.topic("w"), "payload": b"x", "qos": 3}))
                self.connect_refused(r)

    def test_v5_duplicate_property(self):
        r = self.raw(version=5)
        r.send(m.publish(self.topic("dp"), b"x", qos=1, pid=1, version=5,
                         properties=[("ContentType", "a"), ("ContentType", "b")]))
        self.rejected(r, (MALFORMED, PROTOCOL_ERROR))

    def test_v5_unknown_property(self):
        r = self.raw(version=5)
        body = m.mstr(self.topic("up")) + m.u16(1) + b"\x02\x7f\x00" + b"x"
        r.send(m.packet(0x32, body))
        self.rejected(r, (MALFORMED, PROTOCOL_ERROR))

    def test_v5_subscription_identifier_zero(self):
        r = self.raw(version=5)
        r.send(m.subscribe(1, [(self.topic("sid"), 1)], 5,
                           properties=[("SubscriptionIdentifier", 0)]))
        self.rejected(r, (MALFORMED, PROTOCOL_ERROR))

    @roostd_only("mosquitto 2.0.11 does not enforce its Receive Maximum")
    def test_v5_receive_maximum_exceeded(self):
        # The client sends more QoS 2 PUBLISHes than the server's Receive
        # Maximum without completing them.
        r = self.raw(version=5)
        limit = r.connack.prop("ReceiveMaximum", 65535)
        if limit > 2000:
            self.skipTest("server Receive Maximum %d too large to exceed cheaply" % limit)
        t = self.topic("rm")
        data = b"".join(m.publish(t, b"x", qos=2, pid=i + 1, version=5) for i in range(limit + 1))
        r.send(data)
        got = r.wait_closed()
        discs = [p for p in got if p.type == m.DISCONNECT]
        self.assertEqual(len(discs), 1, got[-3:])
        self.assertEqual(discs[0].reason, 0x93, "Receive Maximum exceeded")

    def test_random_garbage(self):
        rng = random.Random(20261122)
        seed = m.publish(self.topic("g"), b"hello", qos=1, pid=3, version=5)
        clients = []
        for i in range(40):
            version = 4 + i % 2
            r = self.raw(version=version)
            if i % 2:
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
            else:
                data = bytearray(seed)
                for _ in range(rng.randrange(1, 4)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
                data = bytes(data)
            try:
                r.send(data + m.pingreq())
            except OSError:
                pass
            clients.append(r)
        deadline = time.monotonic() + 2.0
        for r in clients:
            try:
                while True:
                    r.read(timeout=max(0.01, deadline - time.monotonic()))
            except (m.ConnectionClosed, m.MalformedError, TimeoutError, OSError):
                pass
            r.close()
        self.server.check_alive()


@roostd_only("connect_timeout")
class ConnectTimeoutTest(WitnessCase):
    CONFIG = {"connect_timeout": 2}

    def test_half_connect_closed_after_timeout(self):
        full = m.connect(self.cid("slow"), version=4)
        silent = self.raw(connect=False)       # TCP only, not a byte sent
        half = self.raw(connect=False)         # half a CONNECT, then nothing
        half.send(full[:len(full) // 2])
        start = time.monotonic()
        for name, r in (("half CONNECT", half), ("silent", silent)):
            with self.subTest(name):
                r.wait_closed(timeout=max(0.1, start + 10 * SLOW - time.monotonic()))
                elapsed = time.monotonic() - start
                self.assertGreaterEqual(elapsed, 1.5, "closed before connect_timeout")
                self.assertLessEqual(elapsed, 6.0 * SLOW, "connect_timeout (2 s) not enforced")

    def test_connect_in_pieces_within_timeout_is_fine(self):
        r = self.raw(connect=False)
        full = m.connect(self.cid("pieces"), version=5)
        for i in range(len(full)):
            r.send(full[i:i + 1])
        self.assertEqual(r.expect(m.CONNACK).rc, 0)
        self.assertTrue(r.is_open(TIMEOUT))


if __name__ == "__main__":
    unittest.main()
