"""test_19_registry_events - AWS IoT registry events through a real roostd:
Update/DescribeEventConfigurations with boto3 (unknown event types
refused), then an ordinary MQTT subscriber on $aws/events/thing/+/+ that
sees no THING events before they are enabled and AWS's created, updated
and deleted payloads after, plus thing group membership added/removed.

No fixed sleeps: registry events are published in commit order, so the
event of a later thing is the sentinel proving an earlier one never came.
"""

import json
import unittest

import api_client as api
from roostd_fixture import RoostCase

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class RegistryEventsTest(RoostCase):

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
        return json.loads(watcher.get(topic).payload)

    def test_configurations(self):
        iot = self.iot
        with self.assertRaises(iot.exceptions.InvalidRequestException):
            iot.update_event_configurations(eventConfigurations={"NO_SUCH": {"Enabled": True}})
        self.enable(THING_TYPE=True)
        d = iot.describe_event_configurations()
        cfg = d["eventConfigurations"]
        self.assertEqual(len(cfg), 11)
        self.assertIs(cfg["THING_TYPE"]["Enabled"], True)
        self.assertIs(cfg["JOB"]["Enabled"], False)
        self.assertIn("creationDate", d)
        self.assertIn("lastModifiedDate", d)
        self.enable(THING_TYPE=False)
        cfg = iot.describe_event_configurations()["eventConfigurations"]
        self.assertIs(cfg["THING_TYPE"]["Enabled"], False)

    def test_thing_and_membership_events(self):
        iot = self.iot
        w = self.paho(self.cid("watch"), version=4)
        w.subscribe("$aws/events/thing/+/+", 1)
        w.subscribe("$aws/events/thingGroupMembership/#", 1)
        self.enable(THING=False, THING_GROUP_MEMBERSHIP=False)
        quiet, name, group = self.name("quiet"), self.name("dev"), self.name("grp")
        iot.create_thing(thingName=quiet)
        iot.create_thing_group(thingGroupName=group)
        iot.add_thing_to_thing_group(thingName=quiet, thingGroupName=group)

        self.enable(THING=True, THING_GROUP_MEMBERSHIP=True)
        created = iot.create_thing(thingName=name,
                                   attributePayload={"attributes": {"color": "red"}})
        e = self.event(w, "$aws/events/thing/%s/created" % name)
        # Events go out in commit order: quiet's would have come first.
        self.assertEqual([m.topic for m in w.pending()], [])
        self.assertEqual(e["eventType"], "THING_EVENT")
        self.assertEqual(e["operation"], "CREATED")
        self.assertEqual(e["thingName"], name)
        self.assertEqual(e["thingId"], created["thingId"])
        self.assertEqual(e["versionNumber"], 1)
        self.assertIsNone(e["thingTypeName"])
        self.assertEqual(e["attributes"], {"color": "red"})
        self.assertRegex(e["eventId"], UUID_RE)
        self.assertRegex(e["accountId"], r"^\d{12}$")
        self.assertIsInstance(e["timestamp"], int)

        iot.update_thing(thingName=name, attributePayload={"attributes": {"size": "9"},
                                                           "merge": True})
        e = self.event(w, "$aws/events/thing/%s/updated" % name)
        self.assertEqual((e["operation"], e["versionNumber"]), ("UPDATED", 2))
        self.assertEqual(e["attributes"], {"color": "red", "size": "9"})

        iot.add_thing_to_thing_group(thingName=name, thingGroupName=group)
        topic = "$aws/events/thingGroupMembership/thingGroup/%s/thing/%s/" % (group, name)
        e = self.event(w, topic + "added")
        self.assertEqual((e["eventType"], e["operation"]), ("THING_GROUP_MEMBERSHIP_EVENT",
                                                            "ADDED"))
        self.assertEqual(e["thingId"], created["thingId"])
        self.assertEqual(e["thingArn"], created["thingArn"])
        iot.remove_thing_from_thing_group(thingName=name, thingGroupName=group)
        self.assertEqual(self.event(w, topic + "removed")["operation"], "REMOVED")

        # A refused change publishes nothing: the delete's event is next.
        with self.assertRaises(iot.exceptions.VersionConflictException):
            iot.update_thing(thingName=name, expectedVersion=1)
        iot.delete_thing(thingName=name)
        e = self.event(w, "$aws/events/thing/%s/deleted" % name)
        self.assertEqual((e["operation"], e["versionNumber"]), ("DELETED", 2))
        self.assertEqual([m.topic for m in w.pending()], [])


if __name__ == "__main__":
    unittest.main()
