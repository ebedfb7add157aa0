"""test_25_device_dataplane - devices on the HTTPS data plane with their own
certificates (mTLS, no SigV4), as AWS serves them on port 8443 and with
ALPN x-amzn-http-ca: curl --cert/--key publishes and reads and updates
shadows, and every request is checked against the policies of the device's
certificate with AWS's actions and resources (iot:Publish and
iot:RetainPublish on topic/..., iot:GetThingShadow, iot:UpdateThingShadow,
iot:DeleteThingShadow on thing/<thing>[/<shadow>],
iot:ListNamedShadowsForThing, iot:GetRetainedMessage,
iot:ListRetainedMessages). A denied request gets 403 and changes nothing;
a policy change counts from the next request; a request without a
certificate or a signature is refused as before.
"""

import http.client
import json
import socket
import ssl
import subprocess

from registry_util import HOST, TIMEOUT, RegistryCase, read

ACCOUNT = "123456789012"
REGION = "us-east-1"


def arn(kind, name):
    return "arn:aws:iot:%s:%s:%s/%s" % (REGION, ACCOUNT, kind, name)


class DeviceDataPlaneTest(RegistryCase):

    def setUp(self):
        super().setUp()
        self.thing = self.name("thing")
        self.iot.create_thing(thingName=self.thing)
        self.cert, self.key, self.cert_id, self.cert_arn = self.registered_cert(allow=False)
        self.iot.attach_thing_principal(thingName=self.thing, principal=self.cert_arn)
        self.policy = self.name("devpol")
        self.iot.create_policy(policyName=self.policy, policyDocument=json.dumps(self.doc()))
        self.iot.attach_policy(policyName=self.policy, target=self.cert_arn)

    def doc(self, extra=()):
        t = self.thing
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iot:GetThingShadow", "iot:UpdateThingShadow"],
             "Resource": arn("thing", t)},
            {"Effect": "Allow", "Action": "iot:Publish",
             "Resource": arn("topic", "things/%s/*" % t)},
            {"Effect": "Allow", "Action": "iot:GetRetainedMessage",
             "Resource": arn("topic", "things/%s/*" % t)},
        ] + list(extra)}

    def curl(self, method, path, body=None, cert=True):
        """(status, parsed JSON body or text) of a request with curl."""
        cmd = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-X", method,
               "--cacert", self.server.ca_cert, "--max-time", str(int(TIMEOUT)),
               "https://localhost:%d%s" % (self.server.port("https"), path)]
        if cert:
            cmd += ["--cert", self.cert, "--key", self.key]
        if body is not None:
            cmd += ["--data-binary", body]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT + 5,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        text, _, status = r.stdout.rpartition("\n")
        try:
            return int(status), json.loads(text) if text else None
        except ValueError:
            return int(status), text

    def assertForbidden(self, method, path, body=None):
        status, body = self.curl(method, path, body)
        self.assertEqual(status, 403, body)
        return body

    def test_publish_within_and_outside_the_policy(self):
        watcher = self.paho()
        mine, other = "things/%s/temp" % self.thing, "things/else/temp"
        watcher.subscribe("things/#", 1)
        status, body = self.curl("POST", "/topics/%s?qos=1" % mine, "21.5")
        self.assertEqual((status, body["message"]), (200, "OK"))
        self.assertEqual(watcher.get(mine).payload, b"21.5")
        self.assertForbidden("POST", "/topics/%s?qos=1" % other, "x")
        # retained needs iot:RetainPublish as well
        self.assertForbidden("POST", "/topics/%s?retain=true" % mine, "r")
        self.assertTrue(watcher.none(lambda m: m.topic == other or m.payload in (b"x", b"r")))

    def test_shadow_actions_by_resource(self):
        status, doc = self.curl("POST", "/things/%s/shadow" % self.thing,
                                json.dumps({"state": {"reported": {"fw": "1.0"}}}))
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["state"]["reported"], {"fw": "1.0"})
        status, doc = self.curl("GET", "/things/%s/shadow" % self.thing)
        self.assertEqual((status, doc["state"]["reported"]["fw"]), (200, "1.0"))
        # a named shadow is thing/<thing>/<name>: not covered by thing/<thing>
        self.assertForbidden("GET", "/things/%s/shadow?name=cfg" % self.thing)
        # another thing, and an action the policy does not name
        self.assertForbidden("GET", "/things/else/shadow")
        self.assertForbidden("DELETE", "/things/%s/shadow" % self.thing)
        self.assertForbidden("GET", "/api/things/shadow/ListNamedShadowsForThing/%s" % self.thing)
        self.assertForbidden("GET", "/retainedMessage")
        # nothing changed: the shadow is still there for the admin
        status, doc = self.curl("GET", "/things/%s/shadow" % self.thing)
        self.assertEqual(status, 200)

    def test_policy_change_counts_from_the_next_request(self):
        path = "/things/%s/shadow?name=cfg" % self.thing
        self.assertForbidden("GET", path)
        self.iot.create_policy_version(
            policyName=self.policy, setAsDefault=True, policyDocument=json.dumps(self.doc([
                {"Effect": "Allow", "Action": ["iot:GetThingShadow", "iot:UpdateThingShadow",
                                               "iot:DeleteThingShadow",
                                               "iot:ListNamedShadowsForThing"],
                 "Resource": [arn("thing", self.thing + "/*"), arn("thing", self.thing)]}])))
        status, doc = self.curl("POST", path, json.dumps({"state": {"desired": {"on": True}}}))
        self.assertEqual(status, 200, doc)
        status, doc = self.curl("GET", "/api/things/shadow/ListNamedShadowsForThing/%s"
                                % self.thing)
        self.assertEqual((status, doc["results"]), (200, ["cfg"]))
        self.assertEqual(self.curl("DELETE", path)[0], 200)
        # detached: everything is refused
        self.iot.detach_policy(policyName=self.policy, target=self.cert_arn)
        self.assertForbidden("GET", "/things/%s/shadow" % self.thing)

    def test_explicit_deny_wins(self):
        self.iot.create_policy_version(
            policyName=self.policy, setAsDefault=True, policyDocument=json.dumps(self.doc([
                {"Effect": "Deny", "Action": "iot:Publish",
                 "Resource": arn("topic", "things/%s/secret" % self.thing)}])))
        self.assertEqual(self.curl("POST", "/topics/things/%s/open" % self.thing, "a")[0], 200)
        self.assertForbidden("POST", "/topics/things/%s/secret" % self.thing, "b")

    def test_retained_read(self):
        self.iot.create_policy_version(
            policyName=self.policy, setAsDefault=True, policyDocument=json.dumps(self.doc([
                {"Effect": "Allow", "Action": "iot:RetainPublish",
                 "Resource": arn("topic", "things/%s/*" % self.thing)}])))
        topic = "things/%s/state" % self.thing
        self.assertEqual(self.curl("POST", "/topics/%s?retain=true&qos=1" % topic, "kept")[0],
                         200)
        status, body = self.curl("GET", "/retainedMessage/%s" % topic)
        self.assertEqual((status, body["topic"]), (200, topic))
        self.assertForbidden("GET", "/retainedMessage/things/else/state")

    def test_unroutable_and_unauthenticated(self):
        status, body = self.curl("GET", "/no/such/route")
        self.assertEqual(status, 404, body)
        status, body = self.curl("PUT", "/things/%s/shadow" % self.thing, "{}")
        self.assertEqual(status, 405, body)
        # no certificate, no signature: the API's refusal, as before
        status, body = self.curl("GET", "/things/%s/shadow" % self.thing, cert=False)
        self.assertEqual(status, 403, body)

    def alpn_request(self, method, path, cert=True):
        ctx = ssl.create_default_context(cafile=self.server.ca_cert)
        if cert:
            ctx.load_cert_chain(self.cert, self.key)
        ctx.set_alpn_protocols(["x-amzn-http-ca"])
        sock = socket.create_connection((HOST, self.server.port("https")), timeout=TIMEOUT)
        tls = ctx.wrap_socket(sock, server_hostname="localhost")
        self.assertEqual(tls.selected_alpn_protocol(), "x-amzn-http-ca")
        conn = http.client.HTTPConnection("localhost")
        conn.sock = tls
        try:
            conn.request(method, path)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def test_alpn_x_amzn_http_ca(self):
        status, body = self.alpn_request("GET", "/things/%s/shadow" % self.thing)
        self.assertIn(status, (200, 404), body)  # allowed: 404 only if no shadow yet
        status, body = self.alpn_request("GET", "/things/else/shadow")
        self.assertEqual(status, 403, body)
        # the ALPN needs a client certificate: without one the connection goes
        with self.assertRaises((ConnectionError, OSError, http.client.HTTPException)):
            self.alpn_request("GET", "/things/%s/shadow" % self.thing, cert=False)
