"""test_16_dataplane - the iot-data HTTPS plane with boto3's "iot-data" client
and the aws CLI: Get/Update/DeleteThingShadow (classic and named),
ListNamedShadowsForThing, Publish (reaching MQTT subscribers, retained),
GetRetainedMessage, ListRetainedMessages (pages), the AWS error shapes
(404, 409, 400, 405), the MQTT /accepted, /delta and /documents an HTTPS
update publishes, and DeleteThing taking the thing's shadows with it.
"""

import base64
import json
import os
import tempfile

import api_client as api
from roostd_fixture import RoostCase, TIMEOUT, roostd_only

try:
    import botocore.config
except ImportError:  # pragma: no cover - api.need_boto3 skips
    botocore = None


def data_client(server):
    api.need_boto3()
    akid, secret = api.admin_keys(server)
    cfg = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=TIMEOUT,
                                 read_timeout=TIMEOUT)
    return api.boto3.client("iot-data", endpoint_url=api.endpoint(server),
                            region_name=api.REGION, aws_access_key_id=akid,
                            aws_secret_access_key=secret, verify=server.ca_cert, config=cfg)


@roostd_only("the data plane is roostd's")
class DataPlaneTest(RoostCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = data_client(cls.server)

    def thing(self, tag="t"):
        return "%s-%s" % (tag, self._uid)

    def code(self, exc):
        return exc.exception.response["Error"]["Code"], \
            exc.exception.response["ResponseMetadata"]["HTTPStatusCode"]

    def get(self, thing, name=None):
        kw = {"shadowName": name} if name else {}
        return json.loads(self.d.get_thing_shadow(thingName=thing, **kw)["payload"].read())

    def update(self, thing, doc, name=None):
        kw = {"shadowName": name} if name else {}
        r = self.d.update_thing_shadow(thingName=thing, payload=json.dumps(doc).encode(), **kw)
        return json.loads(r["payload"].read())

    # ---------------------------------------------------------------- shadows

    def test_shadow_update_get_delete(self):
        t = self.thing()
        with self.assertRaises(self.d.exceptions.ResourceNotFoundException) as e:
            self.get(t)
        self.assertEqual(self.code(e), ("ResourceNotFoundException", 404))
        self.assertIn("No shadow exists", e.exception.response["Error"]["Message"])
        acc = self.update(t, {"state": {"desired": {"color": "red"}}, "clientToken": "ct1"})
        self.assertEqual(acc["state"], {"desired": {"color": "red"}})
        self.assertEqual(acc["version"], 1)
        self.assertEqual(acc["clientToken"], "ct1")
        doc = self.get(t)
        self.assertEqual(doc["state"]["desired"], {"color": "red"})
        self.assertEqual(doc["state"]["delta"], {"color": "red"})
        self.assertEqual(doc["version"], 1)
        self.update(t, {"state": {"reported": {"color": "red"}}})
        doc = self.get(t)
        self.assertNotIn("delta", doc["state"])
        self.assertEqual(doc["version"], 2)
        with self.assertRaises(self.d.exceptions.ConflictException) as e:
            self.update(t, {"state": {"desired": {"x": 1}}, "version": 1})
        self.assertEqual(self.code(e), ("ConflictException", 409))
        with self.assertRaises(self.d.exceptions.InvalidRequestException) as e:
            self.d.update_thing_shadow(thingName=t, payload=b"{not json")
        self.assertEqual(self.code(e)[1], 400)
        r = json.loads(self.d.delete_thing_shadow(thingName=t)["payload"].read())
        self.assertEqual(r["version"], 2)
        self.assertIsInstance(r["timestamp"], int)
        with self.assertRaises(self.d.exceptions.ResourceNotFoundException):
            self.get(t)
        with self.assertRaises(self.d.exceptions.ResourceNotFoundException):
            self.d.delete_thing_shadow(thingName=t)
        # numbering continues after a delete, as on AWS
        self.assertEqual(self.update(t, {"state": {"reported": {"a": 1}}})["version"], 3)

    def test_named_shadows_and_list(self):
        t = self.thing()
        self.update(t, {"state": {"reported": {"c": 1}}})  # the classic one is not listed
        names = ["n%02d" % i for i in range(5)]
        for n in names:
            self.update(t, {"state": {"reported": {"n": n}}}, name=n)
        self.assertEqual(self.get(t, "n03")["state"]["reported"], {"n": "n03"})
        self.assertEqual(self.get(t)["state"]["reported"], {"c": 1})
        r = self.d.list_named_shadows_for_thing(thingName=t)
        self.assertEqual(r["results"], names)
        self.assertNotIn("nextToken", r)
        self.assertIsInstance(r["timestamp"], int)
        got, kw = [], {}
        while True:
            r = self.d.list_named_shadows_for_thing(thingName=t, pageSize=2, **kw)
            got += r["results"]
            self.assertLessEqual(len(r["results"]), 2)
            if "nextToken" not in r:
                break
            kw = {"nextToken": r["nextToken"]}
        self.assertEqual(got, names)
        self.assertEqual(self.d.list_named_shadows_for_thing(thingName=self.thing("none"))
                         ["results"], [])
        self.d.delete_thing_shadow(thingName=t, shadowName="n01")
        self.assertEqual(self.d.list_named_shadows_for_thing(thingName=t)["results"],
                         [n for n in names if n != "n01"])

    def test_http_update_publishes_on_mqtt(self):
        t = self.thing()
        c = self.paho()
        p = "$aws/things/%s/shadow" % t
        for s in ("update/accepted", "update/delta", "update/documents", "update/rejected"):
            c.subscribe("%s/%s" % (p, s), 1)
        self.sync(c)
        self.update(t, {"state": {"desired": {"on": True}}, "clientToken": "h1"})
        acc = json.loads(c.get(p + "/update/accepted").payload)
        self.assertEqual(acc["clientToken"], "h1")
        delta = json.loads(c.get(p + "/update/delta").payload)
        self.assertEqual(delta["state"], {"on": True})
        docs = json.loads(c.get(p + "/update/documents").payload)
        self.assertEqual(docs["current"]["version"], 1)
        # a rejected HTTPS update is told only in the response
        with self.assertRaises(self.d.exceptions.ConflictException):
            self.update(t, {"state": {"desired": {"on": False}}, "version": 7})
        self.sync(c)
        self.assertEqual([m for m in c.msgs if m.topic.endswith("/rejected")], [])
        # and an MQTT update is seen by the HTTPS side
        c.publish(p + "/update", json.dumps({"state": {"reported": {"on": True}}}), 1)
        c.get(p + "/update/documents")
        # a REST get publishes nothing; a REST delete publishes /delete/accepted
        c.subscribe(p + "/get/+", 1)
        c.subscribe(p + "/delete/+", 1)
        self.sync(c)
        self.assertEqual(self.get(t)["state"]["reported"], {"on": True})
        self.d.delete_thing_shadow(thingName=t)
        self.assertEqual(json.loads(c.get(p + "/delete/accepted").payload)["version"], 2)
        self.assertEqual([m.topic for m in c.msgs if "/get/" in m.topic], [])

    def test_delete_thing_deletes_shadows(self):
        iot = api.iot_client(self.server)
        t = self.thing()
        iot.create_thing(thingName=t)
        self.update(t, {"state": {"reported": {"v": 1}}})
        self.update(t, {"state": {"reported": {"v": 1}}}, name="aux")
        self.get(t)  # cached by the service now
        iot.delete_thing(thingName=t)
        with self.assertRaises(self.d.exceptions.ResourceNotFoundException):
            self.get(t)
        with self.assertRaises(self.d.exceptions.ResourceNotFoundException):
            self.get(t, "aux")
        self.assertEqual(self.d.list_named_shadows_for_thing(thingName=t)["results"], [])
        # a shadow made again starts afresh (no tombstone was left)
        self.assertEqual(self.update(t, {"state": {"reported": {"v": 2}}})["version"], 1)

    # ---------------------------------------------------------------- publish, retained

    def test_publish_reaches_subscribers(self):
        c = self.paho()
        topic = self.topic("pub/a b")
        c.subscribe(topic, 1)
        self.sync(c)
        self.d.publish(topic=topic, qos=1, payload=b"\x00\x01hello")
        m = c.get(topic)
        self.assertEqual(m.payload, b"\x00\x01hello")
        self.d.publish(topic=topic, payload=b"")
        self.assertEqual(c.get(topic).payload, b"")
        for bad in ("a/+/b", "a/#"):
            with self.assertRaises(self.d.exceptions.InvalidRequestException):
                self.d.publish(topic=bad, payload=b"x")
        with self.assertRaises(self.d.exceptions.InvalidRequestException):
            self.d.publish(topic=topic, qos=2, payload=b"x")

    def test_publish_mqtt5_properties(self):
        """Publish's MQTT 5 headers and parameters reach v5 subscribers as
        properties (and 3.1.1 subscribers get the message alone)."""
        v5 = self.paho(version=5)
        v3 = self.paho()
        topic = self.topic("props")
        v5.subscribe(topic, 1)
        v3.subscribe(topic, 1)
        self.sync(v5)
        self.sync(v3)
        corr = base64.b64encode(b"\x01req-7").decode()
        self.d.publish(topic=topic, qos=1, payload=b'{"t":1}',
                       userProperties=json.dumps([{"deviceName": "alpha"}, {"count": "45"}]),
                       payloadFormatIndicator="UTF8_DATA", contentType="application/json",
                       responseTopic=topic + "/reply", correlationData=corr, messageExpiry=60)
        m = v5.get(topic)
        self.assertEqual(m.payload, b'{"t":1}')
        p = m.properties
        self.assertEqual(p.UserProperty, [("deviceName", "alpha"), ("count", "45")])
        self.assertEqual(p.PayloadFormatIndicator, 1)
        self.assertEqual(p.ContentType, "application/json")
        self.assertEqual(p.ResponseTopic, topic + "/reply")
        self.assertEqual(p.CorrelationData, b"\x01req-7")
        self.assertTrue(0 < p.MessageExpiryInterval <= 60)
        self.assertEqual(v3.get(topic).payload, b'{"t":1}')
        # botocore sends a JSON value: a list as is, the documented JSON string once more
        self.d.publish(topic=topic, payload=b"2", userProperties=[{"k": "v"}])
        self.assertEqual(v5.get(topic).properties.UserProperty, [("k", "v")])
        # bad values: 400 with a reason
        for kw in ({"userProperties": json.dumps({"not": "an array"})},
                   {"correlationData": "***"},
                   {"payloadFormatIndicator": "UTF8_DATA", "payload": b"\xff\xfe"}):
            args = dict(topic=topic, payload=b"x")
            args.update(kw)
            with self.assertRaises(self.d.exceptions.InvalidRequestException):
                self.d.publish(**args)

    def test_publish_to_shadow_topic_reaches_the_service(self):
        t = self.thing()
        c = self.paho()
        p = "$aws/things/%s/shadow/name/s1" % t
        c.subscribe(p + "/update/+", 1)
        self.sync(c)
        self.d.publish(topic=p + "/update", payload=json.dumps(
            {"state": {"reported": {"k": 1}}, "clientToken": "viahttp"}).encode())
        acc = json.loads(c.get(p + "/update/accepted").payload)
        self.assertEqual(acc["clientToken"], "viahttp")
        self.assertEqual(self.get(t, "s1")["state"]["reported"], {"k": 1})
        self.d.publish(topic=p + "/update", payload=b"{bad")
        rej = json.loads(c.get(p + "/update/rejected").payload)
        self.assertEqual(rej["code"], 400)
        # other reserved topics are the server's to publish (not modeled by
        # iot-data: botocore raises a plain ClientError)
        with self.assertRaises(self.d.exceptions.ClientError) as e:
            self.d.publish(topic="$aws/events/presence/connected/x", payload=b"{}")
        self.assertEqual(self.code(e), ("ForbiddenException", 403))

    def test_retained_messages(self):
        base = self.topic("ret")
        topics = ["%s/%d" % (base, i) for i in range(4)]
        for i, tp in enumerate(topics):
            self.d.publish(topic=tp, qos=1, retain=True, payload=("v%d" % i).encode())
        r = self.d.get_retained_message(topic=topics[2])
        self.assertEqual(r["topic"], topics[2])
        self.assertEqual(r["payload"], b"v2")
        self.assertEqual(r["qos"], 1)
        self.assertIsInstance(r["lastModifiedTime"], int)
        with self.assertRaises(self.d.exceptions.ResourceNotFoundException):
            self.d.get_retained_message(topic=base + "/none")
        # pages, through botocore's paginator (the token is absent on the last)
        seen = []
        for page in self.d.get_paginator("list_retained_messages").paginate(
                PaginationConfig={"PageSize": 2}):
            seen += [x for x in page["retainedTopics"] if x["topic"].startswith(base + "/")]
        self.assertEqual([x["topic"] for x in seen], topics)
        self.assertEqual(seen[0]["payloadSize"], 2)
        # a retained message reaches a new subscriber, and an empty one clears it
        c = self.paho()
        c.subscribe(topics[0], 1)
        self.assertEqual(c.get(topics[0]).payload, b"v0")
        self.d.publish(topic=topics[0], retain=True, payload=b"")
        with self.assertRaises(self.d.exceptions.ResourceNotFoundException):
            self.d.get_retained_message(topic=topics[0])

    # ---------------------------------------------------------------- the wire

    def test_routes_methods_and_planes(self):
        # iot-data paths signed for the control plane are not iot-data
        r = api.request(self.server, "GET", "/retainedMessage", service="iot")
        self.assertEqual(r.status, 404)
        r = api.request(self.server, "GET", "/retainedMessage", service="iotdevicegateway")
        self.assertEqual(r.status, 200, r)
        r = api.request(self.server, "PUT", "/topics/a", service="iotdata")
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers.get("x-amzn-errortype"), "MethodNotAllowedException")
        r = api.request(self.server, "GET", "/nothing/here", service="iotdata")
        self.assertEqual(r.status, 404, r)
        # curl-style raw slashes and the SDKs' one encoded segment are one topic
        c = self.paho()
        topic = self.topic("raw")
        c.subscribe(topic, 0)
        self.sync(c)
        r = api.request(self.server, "POST", "/topics/" + topic, body=b"raw", service="iotdata")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(c.get(topic).payload, b"raw")
        bad = api.request(self.server, "POST", "/things/bad%20name/shadow", body=b"{}",
                          service="iotdata")
        self.assertEqual(bad.status, 400, bad)

    def test_aws_cli(self):
        t = self.thing()
        doc = json.dumps({"state": {"desired": {"mode": "cli"}}})
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.json")
            r = api.aws_cli(self.server, "iot-data", "update-thing-shadow", "--thing-name", t,
                            "--cli-binary-format", "raw-in-base64-out", "--payload", doc, out)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out) as f:
                self.assertEqual(json.load(f)["state"]["desired"], {"mode": "cli"})
            r = api.aws_cli(self.server, "iot-data", "get-thing-shadow", "--thing-name", t, out)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out) as f:
                self.assertEqual(json.load(f)["state"]["delta"], {"mode": "cli"})
            r = api.aws_cli(self.server, "iot-data", "get-thing-shadow", "--thing-name",
                            self.thing("none"), out)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("ResourceNotFoundException", r.stderr)
        topic = self.topic("cli")
        r = api.aws_cli(self.server, "iot-data", "publish", "--topic", topic, "--qos", "1",
                        "--retain", "--cli-binary-format", "raw-in-base64-out",
                        "--payload", "from-cli")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = api.aws_cli(self.server, "iot-data", "get-retained-message", "--topic", topic)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(base64.b64decode(json.loads(r.stdout)["payload"]), b"from-cli")
        r = api.aws_cli(self.server, "iot-data", "list-retained-messages")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(topic, [x["topic"] for x in json.loads(r.stdout)["retainedTopics"]])
