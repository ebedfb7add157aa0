"""test_14_device_binding - roostd binds MQTT devices to registered
certificates (allow_unregistered_certs=false): a registered ACTIVE
certificate connects on the MQTT port and on the HTTPS port with ALPN
x-amzn-mqtt-ca (mosquitto_pub, python ssl); every other certificate fails
the TLS handshake with the alert that says why (unknown but signed by
Roost's CA: bad certificate; INACTIVE: bad certificate; REVOKED: certificate
revoked; expired: certificate expired; from a CA nobody registered: unknown
ca), seen through python's ssl and `openssl s_client`; and a registry change
reaches live connections: REVOKED or INACTIVE disconnects the certificate's
clients within a second of UpdateCertificate (measured against a deadline)
and their reconnect fails, while other devices stay connected.
"""

import datetime
import os
import subprocess
import time
import unittest

import mqtt_raw as m
from registry_util import (RegistryCase, SLOW, TIMEOUT, alert_name, cert_id, make_cert,
                           mosquitto_pub, mqtt_attempt, new_ca, read, s_client)

ALPN = "x-amzn-mqtt-ca"
# How soon a live connection must go after UpdateCertificate (from the
# boto3 call, its own time included; from the CLI's exit, whose start-up
# takes most of a second by itself).
CUT_DEADLINE = 1.0 * SLOW


class DeviceBindingTest(RegistryCase):

    def assertRefused(self, cert, key, alert, what):
        """Refused with `alert` on the MQTT port (python ssl and s_client)
        and on the HTTPS port with ALPN x-amzn-mqtt-ca; mosquitto_pub fails."""
        for kind, alpn in (("mqtt", None), ("https", ALPN)):
            verdict, why = mqtt_attempt(self.server, cert, key, kind=kind, alpn=alpn,
                                        client_id=self.cid("refused"), refusal_expected=True)
            self.assertEqual(verdict, "refused", "%s: connected on %s (%r)" % (what, kind, why))
            self.assertEqual(alert_name(why), alert, "%s on %s: %s" % (what, kind, why))
        rc, out = s_client(self.server, cert, key)
        self.assertEqual(alert_name(out), alert, "%s via s_client:\n%s" % (what, out[-1500:]))
        r = mosquitto_pub(self.server, cert, key, self.topic("refused"), "x")
        self.assertNotEqual(r.returncode, 0, "%s: mosquitto_pub got through" % what)

    def assertConnects(self, cert, key, what):
        for kind, alpn in (("mqtt", None), ("https", ALPN)):
            self.assertEqual(mqtt_attempt(self.server, cert, key, kind=kind, alpn=alpn,
                                          client_id=self.cid("ok")), ("ok", 0),
                             "%s on %s" % (what, kind))

    def test_registered_active_connects_both_ports(self):
        cert, key, cid, _ = self.registered_cert("ACTIVE")
        watcher = self.paho()  # the plain port: no certificate needed to watch
        topic = self.topic("both")
        watcher.subscribe(topic, 1)
        r = mosquitto_pub(self.server, cert, key, topic, "via mqtts")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(watcher.get(topic).payload, b"via mqtts")
        r = mosquitto_pub(self.server, cert, key, topic, "via alpn", kind="https", alpn=ALPN)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(watcher.get(topic).payload, b"via alpn")
        self.assertConnects(cert, key, "registered ACTIVE")

    def test_no_certificate_refused(self):
        # the MQTT port asks for a certificate during the handshake (TLS 1.3's alert)
        verdict, why = mqtt_attempt(self.server, None, None, refusal_expected=True)
        self.assertEqual((verdict, alert_name(why)), ("refused", "certificate required"), why)
        # the HTTPS port cannot: HTTP clients come without one. MQTT by ALPN
        # is refused after the handshake (a close, no alert), never served.
        verdict, why = mqtt_attempt(self.server, None, None, kind="https", alpn=ALPN,
                                    refusal_expected=True)
        self.assertEqual(verdict, "refused", why)
        r = subprocess.run(["mosquitto_pub", "-h", "localhost", "-p",
                            str(self.server.port("https")), "--cafile", self.server.ca_cert,
                            "--tls-alpn", ALPN, "-t", self.topic("nocert"), "-m", "x"],
                           capture_output=True, timeout=TIMEOUT + 5, stdin=subprocess.DEVNULL)
        self.assertNotEqual(r.returncode, 0, "published without a certificate")

    def test_refused_certificates_and_their_alerts(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        ca, ca_key = self.server.ca_cert, self.server.ca_key
        # never registered, though Roost's CA signed it
        unknown = make_cert(self.tmp, "unknown", ca, ca_key)
        inactive_cert, inactive_key, inactive_id, _ = self.registered_cert("INACTIVE")
        inactive = (inactive_cert, inactive_key)
        revoked_cert, revoked_key, revoked_id, _ = self.registered_cert("ACTIVE")
        self.iot.update_certificate(certificateId=revoked_id, newStatus="REVOKED")
        revoked = (revoked_cert, revoked_key)
        # expired: openssl ca with an end date in the past (registration refuses it)
        expired = make_cert(self.tmp, "expired", ca, ca_key,
                            not_before=now - datetime.timedelta(days=3),
                            not_after=now - datetime.timedelta(days=1))
        self.assertApiError("CertificateValidationException", 400,
                            self.iot.register_certificate, certificatePem=read(expired[0]),
                            caCertificatePem=read(ca), setAsActive=True)
        not_yet = make_cert(self.tmp, "not-yet", ca, ca_key,
                            not_before=now + datetime.timedelta(days=1),
                            not_after=now + datetime.timedelta(days=3))
        # another CA's: unregistered, and registered without a CA but not ACTIVE
        other_ca, other_key = new_ca(os.path.join(self.tmp, "other"), "other-ca")
        foreign = make_cert(self.tmp, "foreign", other_ca, other_key)
        foreign_inactive = make_cert(self.tmp, "foreign-inactive", other_ca, other_key)
        self.iot.register_certificate_without_ca(certificatePem=read(foreign_inactive[0]),
                                                 status="INACTIVE")
        foreign_revoked = make_cert(self.tmp, "foreign-revoked", other_ca, other_key)
        self.iot.register_certificate_without_ca(certificatePem=read(foreign_revoked[0]),
                                                 status="REVOKED")
        cases = [
            ("unknown (Roost CA, never registered)", unknown, "bad certificate"),
            ("INACTIVE", inactive, "bad certificate"),
            ("REVOKED", revoked, "certificate revoked"),
            ("expired", expired, "certificate expired"),
            ("not yet valid", not_yet, "certificate expired"),
            ("other CA, unregistered", foreign, "unknown ca"),
            ("other CA, registered INACTIVE", foreign_inactive, "unknown ca"),
            ("other CA, registered REVOKED", foreign_revoked, "certificate revoked"),
        ]
        for what, (cert, key), alert in cases:
            with self.subTest(what):
                self.assertRefused(cert, key, alert, what)
        # a certificate of another CA registered ACTIVE without a CA connects:
        # the registry entry is the trust
        foreign_ok = make_cert(self.tmp, "foreign-ok", other_ca, other_key)
        self.iot.register_certificate_without_ca(certificatePem=read(foreign_ok[0]),
                                                 status="ACTIVE")
        self.assertConnects(*foreign_ok, "other CA, registered ACTIVE without CA")
        # and INACTIVE becomes ACTIVE: the cache follows at once
        self.iot.update_certificate(certificateId=inactive_id, newStatus="ACTIVE")
        self.assertConnects(*inactive, "INACTIVE made ACTIVE")

    def test_registered_certificate_expires(self):
        """Registered while valid, refused with certificate_expired once its
        notAfter passes: the chain check comes before the registry's word."""
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        not_after = now + datetime.timedelta(seconds=3)
        cert, key = make_cert(self.tmp, "short", self.server.ca_cert, self.server.ca_key,
                              not_before=now - datetime.timedelta(minutes=1),
                              not_after=not_after)
        self.iot.register_certificate(certificatePem=read(cert),
                                      caCertificatePem=read(self.server.ca_cert),
                                      setAsActive=True)
        verdict = mqtt_attempt(self.server, cert, key)
        if datetime.datetime.now(datetime.timezone.utc) >= not_after:
            self.skipTest("too slow: the certificate expired before the first attempt")
        self.assertEqual(verdict, ("ok", 0))
        # Wait for notAfter to pass (OpenSSL compares whole seconds, and a
        # certificate is still valid during its notAfter second), then assert.
        left = (not_after - datetime.datetime.now(datetime.timezone.utc)).total_seconds() + 1.05
        time.sleep(max(0.0, left))
        verdict, why = mqtt_attempt(self.server, cert, key, refusal_expected=True)
        self.assertEqual((verdict, alert_name(why)), ("refused", "certificate expired"), why)
        self.assertEqual(self.status_of(cert_id(read(cert))), "ACTIVE")  # the registry's word

    def test_revocation_cuts_live_connections(self):
        iot = self.iot
        a_cert, a_key, a_id, _ = self.registered_cert("ACTIVE")
        b_cert, b_key, b_id, b_arn = self.registered_cert("ACTIVE")
        a = self.paho(self.cid("a"), kind="mqtt", cert=(a_cert, a_key))
        # the same certificate on the HTTPS port, as AWS devices on 443 do it
        a2 = self._alpn_client(a_cert, a_key, self.cid("a2"))
        b = self.paho(self.cid("b"), kind="mqtt", cert=(b_cert, b_key))
        # a registry change that leaves b ACTIVE disconnects nobody
        thing = self.name("thing")
        iot.create_thing(thingName=thing)
        iot.attach_thing_principal(thingName=thing, principal=b_arn)

        t0 = time.monotonic()
        iot.update_certificate(certificateId=a_id, newStatus="REVOKED")
        self.wait_cut(t0, a, a2, "revoked")
        # b is untouched: a message round trip through it
        self.sync(b)
        self.assertIsNone(b.disconnected)
        # and a cannot come back
        verdict, why = mqtt_attempt(self.server, a_cert, a_key, client_id=self.cid("a"),
                                    refusal_expected=True)
        self.assertEqual((verdict, alert_name(why)), ("refused", "certificate revoked"), why)
        r = mosquitto_pub(self.server, a_cert, a_key, self.topic("again"), "x",
                          client_id=self.cid("a"))
        self.assertNotEqual(r.returncode, 0, "a revoked certificate published")

    def test_deactivation_cuts_live_connections(self):
        c_cert, c_key, c_id, _ = self.registered_cert("ACTIVE")
        keep_cert, keep_key, _, _ = self.registered_cert("ACTIVE")
        c = self.paho(self.cid("c"), version=5, kind="mqtt", cert=(c_cert, c_key))
        c2 = self._alpn_client(c_cert, c_key, self.cid("c2"))
        keep = self.paho(self.cid("keep"), kind="mqtt", cert=(keep_cert, keep_key))
        # through the CLI this time; measured from when it returns
        self.cli("iot", "update-certificate", "--certificate-id", c_id, "--new-status",
                 "INACTIVE")
        self.wait_cut(time.monotonic(), c, c2, "deactivated")
        self.sync(keep)
        verdict, why = mqtt_attempt(self.server, c_cert, c_key, client_id=self.cid("c"),
                                    refusal_expected=True)
        self.assertEqual((verdict, alert_name(why)), ("refused", "bad certificate"), why)
        # ACTIVE again: welcome back
        self.iot.update_certificate(certificateId=c_id, newStatus="ACTIVE")
        back = self.paho(self.cid("c-back"), kind="mqtt", cert=(c_cert, c_key))
        self.sync(back)

    def test_deleted_certificate_refused(self):
        cert, key, cid, _ = self.registered_cert("ACTIVE")
        self.assertConnects(cert, key, "before delete")
        self.iot.update_certificate(certificateId=cid, newStatus="INACTIVE")
        self.iot.delete_certificate(certificateId=cid, forceDelete=True)  # detaches its policy
        # gone from the registry: the same as never registered
        self.assertRefused(cert, key, "bad certificate", "deleted")

    # -- helpers
    def wait_cut(self, t0, paho_client, raw_client, what):
        """Both clients must lose their connection by t0 + CUT_DEADLINE."""
        paho_client.wait_disconnected(timeout=max(0.0, t0 + CUT_DEADLINE - time.monotonic()))
        try:
            raw_client.wait_closed(timeout=max(0.05, t0 + CUT_DEADLINE - time.monotonic()))
        except TimeoutError as e:
            self.fail("%s: the ALPN client is still connected: %s" % (what, e))
        took = time.monotonic() - t0
        self.assertLess(took, CUT_DEADLINE, "%s clients cut after %.3f s" % (what, took))

    def _alpn_client(self, cert, key, client_id):
        """A raw MQTT client on the HTTPS port (ALPN x-amzn-mqtt-ca), connected."""
        ctx = self.server.ssl_context(cert, key)
        ctx.set_alpn_protocols([ALPN])
        r = m.RawClient("127.0.0.1", self.server.port("https"), 4, TIMEOUT, ssl_context=ctx,
                        server_hostname="localhost")
        self._clients.append(r)
        self.assertEqual(r.sock.selected_alpn_protocol(), ALPN)
        self.assertEqual(r.connect(client_id).rc, 0)
        return r


if __name__ == "__main__":
    unittest.main()
