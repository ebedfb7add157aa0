"""test_07_transports - the listeners: MQTT over TLS with client
certificates (mosquitto_pub/sub, paho, openssl s_client; missing and foreign
certificates refused with the right alert), the server certificate and its
chain, and MQTT over WebSocket at /mqtt (paho both versions, subprotocols
mqtt and mqttv3.1, packets split across and coalesced in frames).
"""

import socket
import ssl
import subprocess
import unittest

import mqtt_raw as m
from roostd_fixture import RoostCase, TIMEOUT, roostd_only, HOST


class TlsTest(RoostCase):

    def mosq(self, tool, version, args, cert=True, host="localhost"):
        """Run mosquitto_pub/sub against the mTLS port; returns the result."""
        cmd = [tool, "-h", host, "-p", str(self.server.port("mqtt")), "-V", version,
               "--cafile", self.server.ca_cert]
        if cert:
            c, k = cert if isinstance(cert, tuple) else self.server.device_cert()
            cmd += ["--cert", c, "--key", k]
        return subprocess.run(cmd + args, capture_output=True, timeout=TIMEOUT + 5,
                              stdin=subprocess.DEVNULL)

    def s_client(self, cert=None, ign_eof=True):
        cmd = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, self.server.port("mqtt")),
               "-CAfile", self.server.ca_cert, "-servername", "localhost", "-brief"]
        if ign_eof:
            cmd.append("-ign_eof")
        if cert:
            cmd += ["-cert", cert[0], "-key", cert[1]]
        r = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT + 5, stdin=subprocess.DEVNULL)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    def test_mosquitto_clients_mtls(self):
        watcher = self.paho(version=4)
        for v in ("mqttv311", "mqttv5"):
            with self.subTest(version=v):
                t = self.topic(v)
                watcher.subscribe(t, 1)
                r = self.mosq("mosquitto_pub", v, ["-t", t, "-m", "tls " + v, "-q", "1", "-r"])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(watcher.get(t).payload, ("tls " + v).encode())
                # The subscriber dials the IP: the server certificate has an IP SAN.
                r = self.mosq("mosquitto_sub", v, ["-t", t, "-C", "1", "-W", str(int(TIMEOUT)),
                                                   "-q", "1"], host="127.0.0.1")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.strip(), ("tls " + v).encode())

    def test_no_client_certificate_refused(self):
        r = self.mosq("mosquitto_pub", "mqttv311", ["-t", self.topic("x"), "-m", "x"], cert=False)
        self.assertNotEqual(r.returncode, 0, "connected without a client certificate")
        rc, out = self.s_client()
        self.assertRegex(out.lower(), r"alert|verify error|certificate required|handshake failure",
                         out[-800:])
        self.assert_no_mqtt_session(None)

    def test_foreign_ca_certificate_refused(self):
        foreign = self.server.foreign_cert()
        r = self.mosq("mosquitto_pub", "mqttv5", ["-t", self.topic("x"), "-m", "x"], cert=foreign)
        self.assertNotEqual(r.returncode, 0, "connected with a foreign certificate")
        rc, out = self.s_client(foreign)
        self.assertRegex(out.lower(), r"alert|verify error", out[-800:])
        self.assertRegex(out.lower(), r"unknown ca|bad certificate|certificate unknown|"
                                      r"decrypt error|handshake failure", out[-800:])
        self.assert_no_mqtt_session(foreign)

    def assert_no_mqtt_session(self, cert):
        """With python's ssl: the handshake (or the first read after it, in
        TLS 1.3) fails and no CONNACK ever comes."""
        ctx = self.server.ssl_context(*cert) if cert else self.server.ssl_context()
        try:
            r = m.RawClient(HOST, self.server.port("mqtt"), 4, TIMEOUT, ssl_context=ctx,
                            server_hostname="localhost")
        except (ssl.SSLError, OSError):
            return
        try:
            r.send(m.connect(self.cid("nocert")))
            got = r.wait_closed()
            self.assertEqual([p for p in got if p.type == m.CONNACK], [], got)
        except OSError:
            pass
        finally:
            r.close()

    def test_good_certificate_s_client(self):
        rc, out = self.s_client(self.server.device_cert(), ign_eof=False)
        self.assertEqual(rc, 0, out[-800:])
        self.assertIn("Verification: OK", out)

    def test_server_certificate_chain_and_names(self):
        r = subprocess.run(["openssl", "verify", "-CAfile", self.server.ca_cert,
                            self.server.pki + "/server.pem"], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for name in ("localhost", "127.0.0.1"):
            with self.subTest(name=name):
                ctx = self.server.ssl_context(*self.server.device_cert())
                with socket.create_connection((HOST, self.server.port("mqtt")), TIMEOUT) as s:
                    with ctx.wrap_socket(s, server_hostname=name) as tls:
                        self.assertIn(tls.version(), ("TLSv1.2", "TLSv1.3"))

    def test_plain_mqtt_on_tls_port_refused(self):
        r = m.RawClient(HOST, self.server.port("mqtt"), 4, TIMEOUT)
        self._clients.append(r)
        r.send(m.connect(self.cid("plain")))
        got = r.wait_closed()
        self.assertEqual([p for p in got if p.type == m.CONNACK], [], got)

    def test_paho_tls_to_websocket_and_back(self):
        t = self.topic("cross")
        tls = self.paho(version=5, kind="mqtt")
        ws = self.paho(version=4, kind="ws_plain")
        tls.subscribe(t + "/tls", 1)
        ws.subscribe(t + "/ws", 1)
        tls.publish(t + "/ws", b"from tls", 1)
        ws.publish(t + "/tls", b"from ws", 1)
        self.assertEqual(ws.get(t + "/ws").payload, b"from tls")
        self.assertEqual(tls.get(t + "/tls").payload, b"from ws")


class WebSocketTest(RoostCase):

    def test_paho_websocket_both_versions(self):
        plain = self.paho(version=4)
        for version in (4, 5):
            with self.subTest(version=version):
                t = self.topic("ws%d" % version)
                ws = self.paho(version=version, kind="ws_plain")
                ws.subscribe(t + "/in", 2)
                plain.subscribe(t + "/out", 2)
                for qos in (0, 1, 2):
                    plain.publish(t + "/in", b"in%d" % qos, qos)
                    got = ws.get(t + "/in")
                    self.assertEqual((got.payload, got.qos), (b"in%d" % qos, qos))
                    ws.publish(t + "/out", b"out%d" % qos, qos)
                    self.assertEqual(plain.get(t + "/out").payload, b"out%d" % qos)

    def test_websocket_large_message(self):
        t = self.topic("big")
        ws = self.paho(version=5, kind="ws_plain")
        ws.subscribe(t, 1)
        payload = bytes(range(256)) * 300  # 76800 bytes: 64-bit frame length
        self.paho(version=4).publish(t, payload, 1)
        self.assertEqual(ws.get(t).payload, payload)

    def handshake(self, subprotocols, path="/mqtt"):
        s = socket.create_connection((HOST, self.server.port("ws_plain")), TIMEOUT)
        self.addCleanup(s.close)
        status, headers, left = m.ws_handshake(s, HOST, self.server.port("ws_plain"),
                                               path=path, subprotocols=subprotocols)
        return s, status, headers, left

    def test_subprotocols_echoed(self):
        for proto in ("mqtt", "mqttv3.1"):
            with self.subTest(proto=proto):
                s, status, headers, left = self.handshake((proto,))
                self.assertEqual(status, 101, headers)
                self.assertEqual(headers.get("sec-websocket-protocol"), proto)
                self.assertEqual(headers.get("sec-websocket-accept"),
                                 headers["_expected_accept"])
                r = m.RawClient(None, None, 4, TIMEOUT, sock=m.WebSocketStream(s, left))
                self.assertEqual(r.connect(self.cid(proto)).rc, 0)
                self.assertTrue(r.is_open(TIMEOUT))

    @roostd_only("mosquitto serves any path")
    def test_wrong_path_refused(self):
        s, status, headers, left = self.handshake(("mqtt",), path="/not-mqtt")
        self.assertNotEqual(status, 101, headers)
        self.assertGreaterEqual(status, 400)

    def test_packets_split_and_coalesced_in_frames(self):
        s, status, headers, left = self.handshake(("mqtt",))
        self.assertEqual(status, 101)
        ws = m.WebSocketStream(s, left)
        r = m.RawClient(None, None, 5, TIMEOUT, sock=ws)
        # CONNECT in 3-byte fragments of one message (continuation frames).
        ws.sendall(m.connect(self.cid("frag"), version=5), chunk=3)
        self.assertEqual(r.expect(m.CONNACK).rc, 0)
        t = self.topic("frag")
        r.subscribe([(t, 1)])
        # One PUBLISH split over two separate WebSocket messages.
        pkt = m.publish(t, b"split", qos=1, pid=5, version=5)
        ws.sendall(pkt[:7])
        ws.sendall(pkt[7:])
        self.assertEqual(r.expect(m.PUBACK).pid, 5)
        self.assertEqual(r.next_publish().payload, b"split")
        # Two packets in one WebSocket message.
        ws.sendall(m.publish(t, b"one", qos=1, pid=6, version=5) + m.pingreq())
        got = {r.expect(m.PUBACK).pid, r.expect(m.PINGRESP).type}
        self.assertEqual(got, {6, m.PINGRESP})
        self.assertEqual(r.next_publish().payload, b"one")

    def test_websocket_bad_input_closes_only_that_client(self):
        witness = self.paho(version=5, kind="ws_plain")
        t = self.topic("w")
        witness.subscribe(t, 1)
        s, status, headers, left = self.handshake(("mqtt",))
        ws = m.WebSocketStream(s, left)
        r = m.RawClient(None, None, 4, TIMEOUT, sock=ws)
        ws.sendall(b"\x10\xff\xff\xff\xff\x01")  # malformed as first packet
        r.wait_closed()
        self.paho(version=4).publish(t, b"alive", 1)
        self.assertEqual(witness.get(t).payload, b"alive")


if __name__ == "__main__":
    unittest.main()
