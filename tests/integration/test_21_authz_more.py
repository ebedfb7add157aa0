"""test_21_authz_more - the principal "anonymous" of plain listeners, the
compiled-policy cache, and the registry events beyond THING and
THING_GROUP_MEMBERSHIP.

Anonymous: with nothing attached it may do anything (and roostd says so at
start-up); AttachPolicy with target "anonymous" makes plain-listener
clients subject to that policy at once, live connections included; the
attachment shows in ListAttachedPolicies / ListTargetsForPolicy and
DetachPolicy ends it. Clients are mosquitto_pub/mosquitto_sub, paho and
the raw client on the plain MQTT and WebSocket listeners.

Cache: a reconnecting device is served from the cache (the
roost_authz_cache_* counters of /metrics say so), and every kind of
registry change its policies depend on still reaches it.

Registry events: THING_GROUP, THING_TYPE, THING_TYPE_ASSOCIATION and
THING_GROUP_HIERARCHY with the topics and payloads of the AWS IoT
developer guide, only once enabled. No fixed sleeps: events are published
in commit order, so a later event is the sentinel for an earlier one that
must not come.
"""

import json
import re
import subprocess
import time
import unittest

import api_client as api
import mqtt_raw
from registry_util import RegistryCase, mqtt_attempt
from roostd_fixture import TIMEOUT, RoostCase

NOT_AUTHORIZED = 0x87
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

ANON_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect",
     "Resource": "arn:aws:iot:*:*:client/anon-*"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
     "Resource": "arn:aws:iot:*:*:topic/public/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": "arn:aws:iot:*:*:topicfilter/public/*"},
]})

PER_THING = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect",
     "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
     "Resource": "arn:aws:iot:*:*:topic/things/${iot:Connection.Thing.ThingName}/*"},
]})

NARROW = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect",
     "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": "iot:Publish",
     "Resource": "arn:aws:iot:*:*:topic/things/${iot:Connection.Thing.ThingName}/only"},
]})


def metric(server, name):
    r = api.request(server, "GET", "/metrics")
    m = re.search(r"(?m)^%s (\d+)$" % re.escape(name), r.body.decode())
    if not m:
        raise AssertionError("no metric %s in /metrics" % name)
    return int(m.group(1))


def log_text(server):
    with open(server.log_path, "rb") as f:
        return f.read().decode(errors="replace")


class AnonymousPrincipalTest(RegistryCase):

    def wait_log(self, needle):
        self.wait_for(lambda: needle in log_text(self.server), what="log line %r" % needle)

    def mosquitto(self, tool, *args):
        cmd = [tool, "-h", self.server.host, "-p", str(self.server.port("mqtt_plain")),
               "-V", "mqttv311"] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT + 5,
                              stdin=subprocess.DEVNULL)

    def test_anonymous_policies_live(self):
        iot = self.iot
        self.assertIn("no policy is attached to principal 'anonymous'", log_text(self.server),
                      "the start-up warning names the principal and the way out")

        # Nothing attached: any client id, any topic.
        watcher = self.paho("free-" + self._uid)
        watcher.subscribe("private/%s/#" % self._uid, 1)
        r = self.mosquitto("mosquitto_pub", "-i", "whatever-" + self._uid, "-q", "1",
                           "-t", "private/%s/a" % self._uid, "-m", "hello")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(watcher.get("private/%s/a" % self._uid).payload, b"hello")
        ws = self.paho("free-ws-" + self._uid, kind="ws_plain")

        policy = self.name("anon")
        iot.create_policy(policyName=policy, policyDocument=ANON_POLICY)
        iot.attach_policy(policyName=policy, target="anonymous")
        self.addCleanup(self._detach, policy)

        # Live connections whose client id iot:Connect no longer allows go.
        watcher.wait_disconnected()
        ws.wait_disconnected()
        self.wait_log("policies attached to principal 'anonymous' are now enforced")

        self.assertEqual(iot.list_attached_policies(target="anonymous")["policies"],
                         [{"policyName": policy,
                           "policyArn": iot.get_policy(policyName=policy)["policyArn"]}])
        self.assertEqual(iot.list_targets_for_policy(policyName=policy)["targets"],
                         ["anonymous"])
        # Still no other principal-like names.
        self.assertApiError("InvalidRequestException", 400, iot.attach_policy,
                            policyName=policy, target="anonymous2")

        # CONNECT: a client id the policy does not name gets no CONNACK.
        r = self.mosquitto("mosquitto_pub", "-i", "other-" + self._uid, "-q", "1",
                           "-t", "public/x", "-m", "no")
        self.assertNotEqual(r.returncode, 0, "connection refused without CONNACK")
        raw = self.raw(connect=False)
        raw.send(mqtt_raw.connect("other2-" + self._uid))
        raw.wait_closed()

        # SUBSCRIBE: 0x80 for the filter outside public/ (3.1.1), 0x87 (5).
        sub = self.paho("anon-sub-" + self._uid)
        self.assertEqual(list(sub.subscribe("public/%s/#" % self._uid, 1)), [1])
        self.assertEqual(list(sub.subscribe("private/%s/#" % self._uid, 1)), [0x80])
        r = self.mosquitto("mosquitto_sub", "-i", "anon-msub-" + self._uid, "-t",
                           "private/#", "-C", "1", "-W", "5")
        self.assertIn("denied", r.stdout + r.stderr, (r.returncode, r.stdout, r.stderr))

        # PUBLISH inside public/ is delivered (mosquitto_pub -> paho).
        r = self.mosquitto("mosquitto_pub", "-i", "anon-pub-" + self._uid, "-q", "1",
                           "-t", "public/%s/t" % self._uid, "-m", "allowed")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sub.get("public/%s/t" % self._uid).payload, b"allowed")
        # ... outside it: PUBACK 0x87 on 5, the connection closes on 3.1.1.
        v5 = self.raw(version=5, client_id="anon-v5-" + self._uid)
        self.assertEqual(v5.publish("private/%s/t" % self._uid, b"x", qos=1).reason,
                         NOT_AUTHORIZED)
        self.assertTrue(v5.is_open(0.5))
        v3 = self.raw(version=4, client_id="anon-v3-" + self._uid)
        v3.publish("private/%s/t" % self._uid, b"x", qos=1, wait=False)
        v3.wait_closed()

        # An attached policy cannot be deleted, anonymous or not.
        self.assertApiError("DeleteConflictException", 409, iot.delete_policy,
                            policyName=policy)

        # Detached: allowed everything again, at once.
        iot.detach_policy(policyName=policy, target="anonymous")
        self.assertEqual(iot.list_attached_policies(target="anonymous")["policies"], [])
        self.wait_log("no policy is attached to principal 'anonymous': plain-listener clients "
                      "are ALLOWED EVERYTHING")
        free = self.paho("free-again-" + self._uid)
        self.assertEqual(list(free.subscribe("private/%s/#" % self._uid, 1)), [1])

    def _detach(self, policy):
        try:
            self.iot.detach_policy(policyName=policy, target="anonymous")
        except Exception:
            pass


class PolicyCacheTest(RegistryCase):

    def device(self):
        iot = self.iot
        thing = self.name("dev")
        iot.create_thing(thingName=thing)
        cert, key, _, arn = self.registered_cert(allow=False)
        iot.attach_thing_principal(thingName=thing, principal=arn)
        policy = self.name("pol")
        iot.create_policy(policyName=policy, policyDocument=PER_THING)
        iot.attach_policy(policyName=policy, target=arn)
        return thing, (cert, key), arn, policy

    def connected(self, thing, cert):
        r = self.server.raw("mqtt", 5, cert=cert)
        self.addCleanup(r.close)
        self.assertEqual(r.connect(thing).rc, 0)
        return r

    def until_reason(self, client, topic, reason):
        """Publishes QoS 1 until the PUBACK carries `reason` (a live policy
        change is applied on the client's loop shortly after the commit)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            got = client.publish(topic, b"probe", qos=1).reason
            if got == reason:
                return
            if time.monotonic() > deadline:
                self.fail("PUBACK reason still 0x%02x for %s" % (got, topic))
            time.sleep(0.02)

    def test_cached_principal_follows_every_change(self):
        iot = self.iot
        thing, cert, arn, policy = self.device()
        first = self.connected(thing, cert)
        first.disconnect()
        hits = metric(self.server, "roost_authz_cache_hits_total")
        misses = metric(self.server, "roost_authz_cache_misses_total")
        for _ in range(3):
            self.assertEqual(mqtt_attempt(self.server, *cert, client_id=thing, allow=False),
                             ("ok", 0))
        self.assertGreaterEqual(metric(self.server, "roost_authz_cache_hits_total"), hits + 3,
                                "reconnects are served from the cache")
        self.assertEqual(metric(self.server, "roost_authz_cache_misses_total"), misses,
                         "no recompile without a registry change")

        live = self.connected(thing, cert)
        self.assertEqual(live.publish("things/%s/a" % thing, b"x", qos=1).reason, 0)

        # A new default policy version narrows what the live client may do.
        iot.create_policy_version(policyName=policy, policyDocument=NARROW,
                                  setAsDefault=True)
        self.until_reason(live, "things/%s/a" % thing, NOT_AUTHORIZED)
        self.assertEqual(live.publish("things/%s/only" % thing, b"x", qos=1).reason, 0)
        again = self.connected(thing, cert)  # a new connection sees it too
        self.assertEqual(again.publish("things/%s/a" % thing, b"x", qos=1).reason,
                         NOT_AUTHORIZED)
        self.assertGreater(metric(self.server, "roost_authz_cache_misses_total"), misses)

        # A thing group's policy reaches the thing's connections once it joins.
        group, gpol = self.name("grp"), self.name("gpol")
        iot.create_thing_group(thingGroupName=group)
        iot.create_policy(policyName=gpol, policyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "iot:Publish",
                "Resource": "arn:aws:iot:*:*:topic/things/${iot:Connection.Thing.ThingName}/g"}]}))
        iot.attach_policy(policyName=gpol, target=iot.describe_thing_group(
            thingGroupName=group)["thingGroupArn"])
        self.assertEqual(again.publish("things/%s/g" % thing, b"x", qos=1).reason,
                         NOT_AUTHORIZED)
        iot.add_thing_to_thing_group(thingName=thing, thingGroupName=group)
        self.until_reason(again, "things/%s/g" % thing, 0)
        iot.remove_thing_from_thing_group(thingName=thing, thingGroupName=group)
        self.until_reason(again, "things/%s/g" % thing, NOT_AUTHORIZED)

        # Thing attributes used as variables: an update reaches the cache.
        attr_pol = self.name("apol")
        iot.create_policy(policyName=attr_pol, policyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "iot:Publish",
                "Resource": "arn:aws:iot:*:*:topic/zone/"
                            "${iot:Connection.Thing.Attributes[zone]}"}]}))
        iot.attach_policy(policyName=attr_pol, target=arn)
        iot.update_thing(thingName=thing, attributePayload={"attributes": {"zone": "z1"}})
        self.until_reason(again, "zone/z1", 0)
        iot.update_thing(thingName=thing, attributePayload={"attributes": {"zone": "z2"}})
        self.until_reason(again, "zone/z1", NOT_AUTHORIZED)
        self.assertEqual(again.publish("zone/z2", b"x", qos=1).reason, 0)

        # Deactivating the certificate ends it all.
        iot.update_certificate(certificateId=arn.rsplit("/", 1)[1], newStatus="INACTIVE")
        again.wait_closed()



class RegistryEventsMoreTest(RoostCase):
    """The events test_19 does not cover, watched on the plain listener."""

    @classmethod
    def setUpClass(cls):
        api.need_boto3()
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.iot = api.iot_client(self.server)
        self.addCleanup(self.iot.close)

    def name(self, what):
        return "%s-%s" % (what, self._uid)

    def enable(self, **types):
        self.iot.update_event_configurations(
            eventConfigurations={t: {"Enabled": on} for t, on in types.items()})

    def event(self, watcher, topic):
        e = json.loads(watcher.get(topic).payload)
        self.assertRegex(e["eventId"], UUID_RE)
        self.assertIsInstance(e["timestamp"], int)
        return e

    def common(self, e, event_type, operation, account=True):
        self.assertEqual((e["eventType"], e["operation"]), (event_type, operation))
        if account:
            self.assertRegex(e["accountId"], r"^\d{12}$")
        else:
            self.assertNotIn("accountId", e)

    def test_thing_type_and_association_events(self):
        iot = self.iot
        w = self.paho(self.cid("watch"), version=4)
        w.subscribe("$aws/events/thingType/#", 1)
        w.subscribe("$aws/events/thingTypeAssociation/#", 1)
        w.subscribe("$aws/events/thing/+/+", 1)
        quiet, ttype, thing = self.name("quiet"), self.name("type"), self.name("dev")
        self.enable(THING_TYPE=False, THING_TYPE_ASSOCIATION=False, THING=False)
        iot.create_thing_type(thingTypeName=quiet)

        self.enable(THING_TYPE=True, THING_TYPE_ASSOCIATION=True)
        t = iot.create_thing_type(thingTypeName=ttype, thingTypeProperties={
            "thingTypeDescription": "lamps", "searchableAttributes": ["watt", "model"]})
        e = self.event(w, "$aws/events/thingType/%s/created" % ttype)
        self.assertEqual([m.topic for m in w.pending()], [], "quiet's event came first")
        self.common(e, "THING_TYPE_EVENT", "CREATED")
        self.assertEqual((e["thingTypeId"], e["thingTypeName"]), (t["thingTypeId"], ttype))
        self.assertIs(e["isDeprecated"], False)
        self.assertIsNone(e["deprecationDate"])
        self.assertEqual(e["searchableAttributes"], ["watt", "model"])
        self.assertEqual(e["description"], "lamps")

        created = iot.create_thing(thingName=thing, thingTypeName=ttype)
        e = self.event(w, "$aws/events/thingTypeAssociation/thing/%s/%s" % (thing, ttype))
        self.common(e, "THING_TYPE_ASSOCIATION_EVENT", "CREATED", account=False)
        self.assertEqual((e["thingId"], e["thingName"], e["thingTypeName"]),
                         (created["thingId"], thing, ttype))
        iot.update_thing(thingName=thing, removeThingType=True)
        e = self.event(w, "$aws/events/thingTypeAssociation/thing/%s/%s" % (thing, ttype))
        self.common(e, "THING_TYPE_ASSOCIATION_EVENT", "DELETED", account=False)

        iot.deprecate_thing_type(thingTypeName=ttype)
        e = self.event(w, "$aws/events/thingType/%s/updated" % ttype)
        self.common(e, "THING_TYPE_EVENT", "UPDATED")
        self.assertIs(e["isDeprecated"], True)
        described = iot.describe_thing_type(thingTypeName=ttype)["thingTypeMetadata"]
        self.assertAlmostEqual(e["deprecationDate"] / 1000.0,
                               described["deprecationDate"].timestamp(), delta=0.002)
        iot.delete_thing_type(thingTypeName=ttype)
        e = self.event(w, "$aws/events/thingType/%s/deleted" % ttype)
        self.common(e, "THING_TYPE_EVENT", "DELETED")
        self.assertIs(e["isDeprecated"], True)
        self.assertEqual([m.topic for m in w.pending()], [], "THING events are off")

    def test_thing_group_and_hierarchy_events(self):
        iot = self.iot
        w = self.paho(self.cid("watch"), version=4)
        w.subscribe("$aws/events/thingGroup/#", 1)
        w.subscribe("$aws/events/thingGroupHierarchy/#", 1)
        root, mid, leaf = self.name("root"), self.name("mid"), self.name("leaf")
        self.enable(THING_GROUP=False, THING_GROUP_HIERARCHY=False)
        r = iot.create_thing_group(thingGroupName=root)

        self.enable(THING_GROUP=True, THING_GROUP_HIERARCHY=True)
        m = iot.create_thing_group(thingGroupName=mid, parentGroupName=root,
                                   thingGroupProperties={"thingGroupDescription": "floor 1"})
        e = self.event(w, "$aws/events/thingGroup/%s/created" % mid)
        # In commit order: root's (disabled) CREATED would have come first.
        self.assertNotIn("$aws/events/thingGroup/%s/created" % root,
                         [x.topic for x in w.pending()])
        self.common(e, "THING_GROUP_EVENT", "CREATED")
        self.assertEqual((e["thingGroupId"], e["thingGroupName"], e["versionNumber"]),
                         (m["thingGroupId"], mid, 1))
        self.assertEqual((e["parentGroupName"], e["parentGroupId"]), (root, r["thingGroupId"]))
        self.assertEqual(e["description"], "floor 1")
        self.assertEqual(e["rootToParentThingGroups"],
                         [{"groupArn": r["thingGroupArn"], "groupId": r["thingGroupId"]}])
        self.assertEqual(e["attributes"], {})
        self.assertIsNone(e["dynamicGroupMappingId"])
        h = self.event(w, "$aws/events/thingGroupHierarchy/thingGroup/%s/childThingGroup/%s/added"
                          % (root, mid))
        self.common(h, "THING_GROUP_HIERARCHY_EVENT", "ADDED")
        self.assertEqual((h["thingGroupId"], h["thingGroupName"], h["childGroupId"],
                          h["childGroupName"]), (r["thingGroupId"], root, m["thingGroupId"], mid))

        lf = iot.create_thing_group(thingGroupName=leaf, parentGroupName=mid)
        e = self.event(w, "$aws/events/thingGroup/%s/created" % leaf)
        self.assertEqual([x["groupId"] for x in e["rootToParentThingGroups"]],
                         [r["thingGroupId"], m["thingGroupId"]], "root first")
        self.assertIsNone(e["description"])
        self.event(w, "$aws/events/thingGroupHierarchy/thingGroup/%s/childThingGroup/%s/added"
                      % (mid, leaf))

        iot.update_thing_group(thingGroupName=leaf, thingGroupProperties={
            "attributePayload": {"attributes": {"room": "12"}}})
        e = self.event(w, "$aws/events/thingGroup/%s/updated" % leaf)
        self.common(e, "THING_GROUP_EVENT", "UPDATED")
        self.assertEqual((e["versionNumber"], e["attributes"]), (2, {"room": "12"}))

        iot.delete_thing_group(thingGroupName=leaf)
        h = self.event(w, "$aws/events/thingGroupHierarchy/thingGroup/%s/childThingGroup/%s/"
                          "removed" % (mid, leaf))
        self.common(h, "THING_GROUP_HIERARCHY_EVENT", "REMOVED")
        self.assertEqual(h["childGroupId"], lf["thingGroupId"])
        e = self.event(w, "$aws/events/thingGroup/%s/deleted" % leaf)
        self.common(e, "THING_GROUP_EVENT", "DELETED")
        self.assertEqual((e["thingGroupId"], e["versionNumber"]), (lf["thingGroupId"], 2))
        self.assertEqual([x.topic for x in w.pending()], [])


if __name__ == "__main__":
    unittest.main()
