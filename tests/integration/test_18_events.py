"""AWS IoT lifecycle events: $aws/events/presence/connected|disconnected and
$aws/events/subscriptions/subscribed|unsubscribed, with AWS's payloads and
disconnectReason values, watched by an ordinary subscriber."""

import json
import unittest

from roostd_fixture import RoostCase


class LifecycleEventsTest(RoostCase):

    def watch(self, cid):
        w = self.paho(self.cid("watch"), version=4)
        w.subscribe("$aws/events/+/+/" + cid, 1)
        return w

    def event(self, watcher, kind, cid):
        m = watcher.get("$aws/events/%s/%s" % (kind, cid))
        return json.loads(m.payload)

    def test_connect_subscribe_unsubscribe_disconnect(self):
        cid = self.cid("dev")
        w = self.watch(cid)
        c = self.paho(cid, version=5)
        e = self.event(w, "presence/connected", cid)
        self.assertEqual((e["clientId"], e["eventType"]), (cid, "connected"))
        self.assertEqual(e["principalIdentifier"], "anonymous")  # plain listener
        self.assertEqual(e["ipAddress"], "127.0.0.1")
        for key in ("timestamp", "sessionIdentifier", "versionNumber"):
            self.assertIn(key, e)
        t = self.topic("t")
        c.subscribe(t, 1)
        e = self.event(w, "subscriptions/subscribed", cid)
        self.assertEqual(e["topics"], [t])
        c.unsubscribe(t)
        e = self.event(w, "subscriptions/unsubscribed", cid)
        self.assertEqual(e["topics"], [t])
        c.disconnect()
        e = self.event(w, "presence/disconnected", cid)
        self.assertEqual(e["disconnectReason"], "CLIENT_INITIATED_DISCONNECT")
        self.assertIs(e["clientInitiatedDisconnect"], True)

    def test_takeover_and_lost_connection_reasons(self):
        cid = self.cid("twin")
        w = self.watch(cid)
        first = self.raw(version=4, client_id=cid)
        self.event(w, "presence/connected", cid)
        second = self.raw(version=4, client_id=cid)
        e = self.event(w, "presence/disconnected", cid)
        self.assertEqual(e["disconnectReason"], "DUPLICATE_CLIENTID")
        self.assertIs(e["clientInitiatedDisconnect"], False)
        first.close()
        second.close()  # socket closed without DISCONNECT
        e = self.event(w, "presence/disconnected", cid)
        self.assertEqual(e["disconnectReason"], "CONNECTION_LOST")


if __name__ == "__main__":
    unittest.main()
