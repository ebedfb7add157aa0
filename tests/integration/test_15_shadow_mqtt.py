"""test_15_shadow_mqtt - the Device Shadow service over MQTT, end to end with
paho (3.1.1 and 5): update/get/delete on classic and named shadows, the
/accepted, /rejected, /update/delta and /update/documents payloads, versions
(409 on a conflict, numbering continued after a delete), clientToken
echoes, 400s, answers in request order, topics the service must ignore, and
durability: what was answered on /accepted survives SIGTERM and kill -9.
"""

import json
import time

import mqtt_raw as m
from roostd_fixture import RoostCase, roostd_only


class Shadow:
    """A paho client speaking to one shadow, subscribed to its response
    topics the way the SDKs do (one wildcard per operation)."""

    def __init__(self, case, thing, name=None, version=4, server=None, client=None):
        self.case = case
        self.c = client or case.paho(version=version, server=server)
        self.prefix = "$aws/things/%s/shadow" % thing
        if name:
            self.prefix += "/name/%s" % name
        for op in ("get", "update", "delete"):
            self.c.subscribe("%s/%s/+" % (self.prefix, op), 1)

    def send(self, op, payload=b""):
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        self.c.publish("%s/%s" % (self.prefix, op), payload, 1)

    def expect(self, op, suffix):
        return json.loads(self.c.get("%s/%s/%s" % (self.prefix, op, suffix)).payload)

    def call(self, op, payload=b"", ok=True):
        """Sends a request; returns the /accepted (ok) or /rejected document,
        failing if the other one arrives instead."""
        self.send(op, payload)
        want, other = ("accepted", "rejected") if ok else ("rejected", "accepted")
        m = self.c.take(lambda m: m.topic in ("%s/%s/%s" % (self.prefix, op, want),
                                              "%s/%s/%s" % (self.prefix, op, other)))
        self.case.assertIsNotNone(m, "no answer to %s" % op)
        self.case.assertEqual(m.topic, "%s/%s/%s" % (self.prefix, op, want), m.payload)
        return json.loads(m.payload)


@roostd_only("the shadow service is roostd's")
class ShadowMqttTest(RoostCase):

    def thing(self, tag="t"):
        return "%s-%s" % (tag, self._uid)

    def assertRecent(self, ts):
        self.assertIsInstance(ts, int)
        self.assertLess(abs(ts - time.time()), 120)

    def test_update_get_delete_classic(self):
        for version in (4, 5):
            with self.subTest(version=version):
                self.lifecycle(Shadow(self, self.thing("v%d" % version), version=version))

    def lifecycle(self, s):
        # Desired from an app: accepted, delta, documents (no previous).
        acc = s.call("update", {"state": {"desired": {"color": "red", "on": True}},
                                "clientToken": "tok-1"})
        self.assertEqual(acc["state"], {"desired": {"color": "red", "on": True}})
        self.assertEqual(acc["version"], 1)
        self.assertEqual(acc["clientToken"], "tok-1")
        self.assertRecent(acc["timestamp"])
        self.assertEqual(set(acc["metadata"]["desired"]), {"color", "on"})
        self.assertRecent(acc["metadata"]["desired"]["color"]["timestamp"])
        delta = s.expect("update", "delta")
        self.assertEqual(delta["state"], {"color": "red", "on": True})
        self.assertEqual(delta["version"], 1)
        self.assertEqual(delta["clientToken"], "tok-1")
        self.assertIn("color", delta["metadata"])
        docs = s.expect("update", "documents")
        self.assertNotIn("previous", docs)
        self.assertEqual(docs["current"]["version"], 1)
        self.assertEqual(docs["current"]["state"], {"desired": {"color": "red", "on": True}})
        self.assertEqual(docs["clientToken"], "tok-1")

        # The device reports half of it: the delta shrinks.
        acc = s.call("update", {"state": {"reported": {"color": "red"}}})
        self.assertEqual(acc["version"], 2)
        self.assertNotIn("clientToken", acc)
        self.assertEqual(s.expect("update", "delta")["state"], {"on": True})
        docs = s.expect("update", "documents")
        self.assertEqual(docs["previous"]["version"], 1)
        self.assertEqual(docs["current"]["version"], 2)
        self.assertEqual(docs["current"]["state"]["reported"], {"color": "red"})

        # ... then the rest, with the right version: no delta any more. The
        # answers of one shadow come in order, so a delta would precede
        # the documents.
        acc = s.call("update", {"state": {"reported": {"on": True}}, "version": 2})
        self.assertEqual(acc["version"], 3)
        s.expect("update", "documents")
        self.assertNoMessage(s.c, lambda m: m.topic.endswith("/update/delta"), quiet=0)

        # A stale version is refused and changes nothing.
        rej = s.call("update", {"state": {"desired": {"color": "blue"}}, "version": 1,
                                "clientToken": "stale"}, ok=False)
        self.assertEqual(rej["code"], 409)
        self.assertEqual(rej["message"], "Version conflict")
        self.assertEqual(rej["clientToken"], "stale")

        got = s.call("get", {"clientToken": "g"})
        self.assertEqual(got["state"], {"desired": {"color": "red", "on": True},
                                        "reported": {"color": "red", "on": True}})
        self.assertNotIn("delta", got["state"])
        self.assertEqual(got["version"], 3)
        self.assertEqual(got["clientToken"], "g")
        self.assertRecent(got["metadata"]["reported"]["on"]["timestamp"])

        dele = s.call("delete", b"")
        self.assertEqual(dele["version"], 3)
        self.assertRecent(dele["timestamp"])
        rej = s.call("get", b"", ok=False)
        self.assertEqual(rej["code"], 404)
        self.assertIn("No shadow exists with name", rej["message"])
        rej = s.call("delete", {"clientToken": "d2"}, ok=False)
        self.assertEqual(rej["code"], 404)
        self.assertEqual(rej["clientToken"], "d2")

        # Recreated: AWS continues the deleted shadow's numbering.
        acc = s.call("update", {"state": {"reported": {"x": 1}}})
        self.assertEqual(acc["version"], 4)
        docs = s.expect("update", "documents")
        self.assertNotIn("previous", docs)

    def test_named_shadows_are_separate(self):
        t = self.thing()
        classic = Shadow(self, t)
        a = Shadow(self, t, "cfg", client=classic.c)
        b = Shadow(self, t, "fw", version=5)
        self.assertEqual(a.call("update", {"state": {"desired": {"n": 1}}})["version"], 1)
        self.assertEqual(a.call("update", {"state": {"desired": {"n": 2}}})["version"], 2)
        self.assertEqual(b.call("update", {"state": {"reported": {"v": "1.0"}}})["version"], 1)
        self.assertEqual(a.call("get")["state"]["desired"], {"n": 2})
        self.assertEqual(b.call("get")["state"], {"reported": {"v": "1.0"}})
        rej = classic.call("get", b"", ok=False)
        self.assertEqual(rej["code"], 404)
        a.call("delete")
        self.assertEqual(b.call("get")["version"], 1)

    def test_bad_requests(self):
        s = Shadow(self, self.thing())
        rej = s.call("update", b"{not json", ok=False)
        self.assertEqual(rej["code"], 400)
        rej = s.call("update", {"clientToken": "c1"}, ok=False)
        self.assertEqual(rej["code"], 400)
        self.assertEqual(rej["message"], "Missing required node: state")
        self.assertEqual(rej["clientToken"], "c1")
        rej = s.call("update", {"state": {"desired": 5}}, ok=False)
        self.assertEqual((rej["code"], rej["message"]), (400, "Desired node must be an object"))
        rej = s.call("update", {"state": {"other": {}}, "clientToken": "c2"}, ok=False)
        self.assertEqual(rej["code"], 400)
        self.assertEqual(rej["clientToken"], "c2")
        rej = s.call("update", {"state": {"desired": {"a": "x" * 9000}}}, ok=False)
        self.assertEqual(rej["code"], 413)
        # Nothing was stored by any of them.
        self.assertEqual(s.call("get", b"", ok=False)["code"], 404)
        # An invalid thing name is answered too, on its own topic.
        bad = Shadow(self, "bad.name-%s" % self._uid, client=s.c)
        rej = bad.call("update", {"state": {"desired": {"a": 1}}}, ok=False)
        self.assertEqual(rej["code"], 400)

    def test_other_topics_ignored(self):
        t = self.thing()
        s = Shadow(self, t)
        jobs = "$aws/things/%s/jobs/get" % t
        s.c.subscribe("$aws/things/%s/jobs/#" % t, 1)
        # A response topic published by a client, and a jobs request: neither
        # is a shadow request. They are routed like any message.
        s.c.publish("%s/update/accepted" % s.prefix, b'{"state":{}}', 1)
        s.c.get("%s/update/accepted" % s.prefix)
        s.c.publish(jobs, b"{}", 1)
        s.c.get(jobs)
        # The service answers in order, so the 404 below comes after anything
        # it could have said about the messages above.
        self.assertEqual(s.call("get", b"", ok=False)["code"], 404)
        self.assertEqual(s.c.pending(), [])

    def test_answers_in_request_order(self):
        # Six clients pipeline updates to one shadow (at most 10 in flight
        # each, AWS's limit): a watcher sees versions 1..60 in order, with
        # each /documents right after its /accepted's version.
        t = self.thing()
        watch = Shadow(self, t)
        writers = [Shadow(self, t, version=4 + i % 2) for i in range(6)]
        for i in range(10):
            for w, s in enumerate(writers):
                s.send("update", {"state": {"reported": {"w%d" % w: i}},
                                  "clientToken": "w%d-%d" % (w, i)})
        seen = {}
        for v in range(1, 61):
            acc = watch.expect("update", "accepted")
            self.assertEqual(acc["version"], v)
            w, i = acc["clientToken"][1:].split("-")
            self.assertEqual(acc["state"]["reported"], {"w" + w: int(i)})
            self.assertEqual(int(i), seen.get(w, -1) + 1, "client %s's order" % w)
            seen[w] = int(i)
            self.assertEqual(watch.expect("update", "documents")["current"]["version"], v)
        got = watch.call("get")
        self.assertEqual(got["version"], 60)
        self.assertEqual(got["state"]["reported"], {"w%d" % w: 9 for w in range(6)})

    def test_too_many_in_flight(self):
        # 100 updates in one write from one connection: AWS allows 10 in
        # flight per connection and answers the rest 429. Each request gets
        # exactly one answer; the accepted ones keep their order.
        t = self.thing()
        watch = Shadow(self, t)
        r = self.raw(version=4)
        prefix = "$aws/things/%s/shadow/update" % t
        n = 100
        r.send(b"".join(m.publish(prefix, json.dumps(
            {"state": {"reported": {"i": i}}, "clientToken": "c%d" % i}).encode(), qos=0)
            for i in range(n)))
        answers = {}
        versions = []
        while len(answers) < n:
            msg = watch.c.take(lambda x: x.topic in (prefix + "/accepted", prefix + "/rejected"))
            self.assertIsNotNone(msg, "%d of %d answered" % (len(answers), n))
            doc = json.loads(msg.payload)
            self.assertNotIn(doc["clientToken"], answers)
            if msg.topic.endswith("/rejected"):
                self.assertEqual(doc["code"], 429)
                answers[doc["clientToken"]] = 429
            else:
                answers[doc["clientToken"]] = doc["version"]
                versions.append(doc["version"])
        self.assertEqual(versions, list(range(1, len(versions) + 1)))
        self.assertGreaterEqual(len(versions), 10)
        self.assertIn(429, answers.values())

    def test_durable_across_restart_and_kill9(self):
        srv = self.new_server()
        t = self.thing()
        s = Shadow(self, t, server=srv)
        s.call("update", {"state": {"desired": {"a": 1}}})
        Shadow(self, t, "n1", client=s.c).call("update", {"state": {"reported": {"b": 2}}})
        s.call("update", {"state": {"desired": {"a": 2}}})
        s.c.close()
        srv.restart()
        s = Shadow(self, t, server=srv)
        got = s.call("get")
        self.assertEqual((got["version"], got["state"]["desired"]), (2, {"a": 2}))
        self.assertEqual(got["state"]["delta"], {"a": 2})
        self.assertEqual(Shadow(self, t, "n1", client=s.c).call("get")["state"]["reported"],
                         {"b": 2})

        # kill -9 right after /accepted: acknowledged means committed.
        s.call("update", {"state": {"reported": {"a": 2}}})
        srv.kill9()
        s.c.close()
        srv.start()
        s = Shadow(self, t, server=srv)
        got = s.call("get")
        self.assertEqual(got["version"], 3)
        self.assertEqual(got["state"]["reported"], {"a": 2})
        self.assertNotIn("delta", got["state"])

        # A delete survives too, and the numbering continues after it.
        s.call("delete")
        srv.kill9()
        s.c.close()
        srv.start()
        s = Shadow(self, t, server=srv)
        self.assertEqual(s.call("get", b"", ok=False)["code"], 404)
        self.assertEqual(s.call("update", {"state": {"desired": {"z": 0}}})["version"], 4)
