"""test_12_registry_things - the registry's things, thing types, thing
groups and billing groups through boto3 and the aws CLI against a real
roostd: CRUD, idempotent CreateThing, UpdateThing merge and expectedVersion
(VersionConflictException), DeleteThing of a missing thing (success) and of
one with a principal (refused), ListThings filters and pagination (boto3's
paginator and the CLI's --max-items / --starting-token), nested groups with
ListThingsInThingGroup recursive, moving a thing between billing groups,
DescribeEndpoint, and AWS's error shapes for missing resources, conflicts,
malformed JSON and bad names (code, HTTP status, x-amzn-ErrorType,
resourceId/resourceArn).
"""

import datetime
import json
import re
import unittest
import urllib.parse

import api_client as api
from registry_util import RegistryCase

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ARN_RE = r"^arn:aws:iot:us-east-1:\d{12}:%s/%s$"


class ThingsTest(RegistryCase):

    def test_thing_crud(self):
        iot = self.iot
        name = self.name("thing")
        created = iot.create_thing(thingName=name,
                                   attributePayload={"attributes": {"color": "red", "size": "9"}})
        self.assertEqual(created["thingName"], name)
        self.assertRegex(created["thingId"], UUID_RE)
        self.assertRegex(created["thingArn"], ARN_RE % ("thing", name))
        d = iot.describe_thing(thingName=name)
        self.assertEqual(d["thingName"], name)
        self.assertEqual(d["thingId"], created["thingId"])
        self.assertEqual(d["thingArn"], created["thingArn"])
        self.assertEqual(d["defaultClientId"], name)
        self.assertEqual(d["attributes"], {"color": "red", "size": "9"})
        self.assertEqual(d["version"], 1)
        self.assertNotIn("thingTypeName", d)
        self.assertNotIn("billingGroupName", d)

        # merge: set one, remove one (empty value), keep the rest
        iot.update_thing(thingName=name, attributePayload={
            "attributes": {"color": "blue", "size": "", "shape": "round"}, "merge": True})
        d = iot.describe_thing(thingName=name)
        self.assertEqual(d["attributes"], {"color": "blue", "shape": "round"})
        self.assertEqual(d["version"], 2)
        # without merge: replace the whole map
        iot.update_thing(thingName=name, attributePayload={"attributes": {"only": "this"}})
        d = iot.describe_thing(thingName=name)
        self.assertEqual(d["attributes"], {"only": "this"})
        self.assertEqual(d["version"], 3)

        # expectedVersion: a stale one conflicts and changes nothing
        r = self.assertApiError("VersionConflictException", 409, iot.update_thing,
                                thingName=name, expectedVersion=1,
                                attributePayload={"attributes": {"x": "1"}})
        self.assertIn(name, r["Error"]["Message"])
        self.assertEqual(iot.describe_thing(thingName=name)["version"], 3)
        iot.update_thing(thingName=name, expectedVersion=3,
                         attributePayload={"attributes": {"x": "1"}, "merge": True})
        d = iot.describe_thing(thingName=name)
        self.assertEqual((d["version"], d["attributes"]), (4, {"only": "this", "x": "1"}))

        # delete with a stale expectedVersion conflicts; the right one deletes
        self.assertApiError("VersionConflictException", 409, iot.delete_thing,
                            thingName=name, expectedVersion=3)
        iot.delete_thing(thingName=name, expectedVersion=4)
        self.assertApiError("ResourceNotFoundException", 404, iot.describe_thing, thingName=name)
        # a missing thing deletes successfully (documented AWS behaviour)
        iot.delete_thing(thingName=name)
        iot.delete_thing(thingName=self.name("never"))

    def test_create_thing_idempotent(self):
        iot = self.iot
        name = self.name("idem")
        attrs = {"attributes": {"a": "1"}}
        first = iot.create_thing(thingName=name, attributePayload=attrs)
        again = iot.create_thing(thingName=name, attributePayload=attrs)
        self.assertEqual((again["thingId"], again["thingArn"]),
                         (first["thingId"], first["thingArn"]))
        self.assertEqual(iot.describe_thing(thingName=name)["version"], 1)
        # another configuration: 409 naming the existing thing
        r = self.assertApiError("ResourceAlreadyExistsException", 409, iot.create_thing,
                                thingName=name, attributePayload={"attributes": {"a": "2"}})
        self.assertEqual(r.get("resourceId"), first["thingId"], r)
        self.assertEqual(r.get("resourceArn"), first["thingArn"], r)
        self.assertEqual(iot.describe_thing(thingName=name)["attributes"], {"a": "1"})
        # a plain thing again, but the existing one has attributes: also different
        self.assertApiError("ResourceAlreadyExistsException", 409, iot.create_thing,
                            thingName=name)

    def test_delete_thing_with_principal_refused(self):
        iot = self.iot
        name = self.name("held")
        iot.create_thing(thingName=name)
        cert = iot.create_keys_and_certificate(setAsActive=False)
        iot.attach_thing_principal(thingName=name, principal=cert["certificateArn"])
        self.assertEqual(iot.list_thing_principals(thingName=name)["principals"],
                         [cert["certificateArn"]])
        self.assertEqual([t for t in iot.list_principal_things(
            principal=cert["certificateArn"])["things"]], [name])
        r = self.assertApiError("InvalidRequestException", 400, iot.delete_thing, thingName=name)
        self.assertIn("principal", r["Error"]["Message"])
        iot.describe_thing(thingName=name)  # still there
        iot.detach_thing_principal(thingName=name, principal=cert["certificateArn"])
        iot.delete_thing(thingName=name)
        self.assertApiError("ResourceNotFoundException", 404, iot.describe_thing, thingName=name)

    def test_list_things_refuses_a_token_it_did_not_make(self):
        self.assertApiError("InvalidRequestException", 400, self.iot.list_things,
                            nextToken="!!bad")

    def test_list_things_filters_and_paginator(self):
        iot = self.iot
        batch = "b" + self._uid
        ttype = self.name("type")
        iot.create_thing_type(thingTypeName=ttype)
        names = []
        for i in range(6):
            n = self.name("page")
            names.append(n)
            kw = {"attributePayload": {"attributes": {"batch": batch, "idx": "v%d" % i}}}
            if i % 2 == 0:
                kw["thingTypeName"] = ttype
            iot.create_thing(thingName=n, **kw)
        # boto3's paginator with two per page over the six: three full pages
        pages = list(iot.get_paginator("list_things").paginate(
            attributeName="batch", attributeValue=batch, PaginationConfig={"PageSize": 2}))
        sizes = [len(p["things"]) for p in pages]
        self.assertEqual(sizes, [2, 2, 2], sizes)
        self.assertNotIn("nextToken", pages[-1])
        for p in pages[:-1]:
            self.assertIsInstance(p.get("nextToken"), str)
        got = [t["thingName"] for p in pages for t in p["things"]]
        self.assertEqual(sorted(got), sorted(names))
        self.assertEqual(len(set(got)), len(got), "a thing on two pages")
        for t in (t for p in pages for t in p["things"]):
            self.assertEqual(t["attributes"]["batch"], batch)
            self.assertIsInstance(t["version"], int)
            self.assertRegex(t["thingArn"], ARN_RE % ("thing", t["thingName"]))
        # the whole listing, two a page, has every one of ours once
        everything = [t["thingName"] for p in iot.get_paginator("list_things").paginate(
            PaginationConfig={"PageSize": 2}) for t in p["things"]]
        self.assertEqual(len(set(everything)), len(everything))
        self.assertTrue(set(names) <= set(everything))
        # type filter
        typed = [t["thingName"] for t in iot.list_things(thingTypeName=ttype,
                                                        maxResults=250)["things"]]
        self.assertEqual(sorted(typed), sorted(names[0::2]))
        typed_pages = list(iot.get_paginator("list_things").paginate(
            thingTypeName=ttype, PaginationConfig={"PageSize": 2}))
        self.assertEqual(sorted(t["thingName"] for p in typed_pages for t in p["things"]),
                         sorted(names[0::2]))
        for t in (t for p in typed_pages for t in p["things"]):
            self.assertEqual(t["thingTypeName"], ttype)
        # exact and prefix attribute values
        exact = iot.list_things(attributeName="idx", attributeValue="v3")["things"]
        self.assertEqual([t["thingName"] for t in exact], [names[3]])
        prefix = iot.list_things(attributeName="batch", attributeValue=batch[:-2],
                                 usePrefixAttributeValue=True, maxResults=250)["things"]
        self.assertTrue(set(names) <= {t["thingName"] for t in prefix})
        none = iot.list_things(attributeName="batch", attributeValue=batch[:-2])["things"]
        self.assertFalse({t["thingName"] for t in none} & set(names))
        # type and attribute together: AND
        both = iot.list_things(thingTypeName=ttype, attributeName="idx",
                               attributeValue="v2")["things"]
        self.assertEqual([t["thingName"] for t in both], [names[2]])

    def test_list_things_cli_max_items(self):
        iot = self.iot
        batch = "c" + self._uid
        names = [self.name("cli") for _ in range(5)]
        for n in names:
            iot.create_thing(thingName=n, attributePayload={"attributes": {"batch": batch}})
        seen, token, calls = [], None, 0
        while True:
            args = ["iot", "list-things", "--attribute-name", "batch", "--attribute-value",
                    batch, "--max-items", "2"]
            if token:
                args += ["--starting-token", token]
            out = self.cli(*args)
            calls += 1
            self.assertLessEqual(len(out["things"]), 2, out)
            seen += [t["thingName"] for t in out["things"]]
            token = out.get("NextToken")
            if not token:
                break
            self.assertLess(calls, 5, "the CLI keeps paging")
        self.assertEqual(calls, 3)
        self.assertEqual(sorted(seen), sorted(names))
        # --page-size: the CLI pages internally (maxResults=2) and prints all
        out = self.cli("iot", "list-things", "--attribute-name", "batch",
                       "--attribute-value", batch, "--page-size", "2")
        self.assertEqual(sorted(t["thingName"] for t in out["things"]), sorted(names))

    def test_thing_cli_flow(self):
        name = self.name("clithing")
        out = self.cli("iot", "create-thing", "--thing-name", name, "--attribute-payload",
                       json.dumps({"attributes": {"k": "v"}}))
        self.assertEqual(out["thingName"], name)
        self.assertRegex(out["thingId"], UUID_RE)
        self.cli("iot", "update-thing", "--thing-name", name, "--attribute-payload",
                 json.dumps({"attributes": {"k2": "v2"}, "merge": True}),
                 "--expected-version", "1")
        d = self.cli("iot", "describe-thing", "--thing-name", name)
        self.assertEqual((d["version"], d["attributes"]), (2, {"k": "v", "k2": "v2"}))
        err = self.cli_error("VersionConflictException", "iot", "update-thing", "--thing-name",
                             name, "--expected-version", "1", "--attribute-payload",
                             json.dumps({"attributes": {"k": "x"}}))
        self.assertIn("UpdateThing", err)
        self.cli("iot", "delete-thing", "--thing-name", name)
        self.cli_error("ResourceNotFoundException", "iot", "describe-thing", "--thing-name", name)

    def test_describe_endpoint(self):
        iot = self.iot
        for t in ("iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs"):
            with self.subTest(type=t):
                addr = iot.describe_endpoint(endpointType=t)["endpointAddress"]
                self.assertTrue(addr)
        addr = iot.describe_endpoint()["endpointAddress"]
        self.assertIn(str(self.server.port("https")), addr)
        self.assertApiError("InvalidRequestException", 400, iot.describe_endpoint,
                            endpointType="iot:Nonsense")
        out = self.cli("iot", "describe-endpoint", "--endpoint-type", "iot:Data-ATS")
        self.assertEqual(out["endpointAddress"], addr)


class ThingTypesTest(RegistryCase):

    def test_thing_type_lifecycle(self):
        iot = self.iot
        tname = self.name("ttype")
        props = {"thingTypeDescription": "sensors", "searchableAttributes": ["room"]}
        created = iot.create_thing_type(thingTypeName=tname, thingTypeProperties=props)
        self.assertEqual(created["thingTypeName"], tname)
        self.assertRegex(created["thingTypeArn"], ARN_RE % ("thingtype", tname))
        self.assertTrue(created["thingTypeId"])
        again = iot.create_thing_type(thingTypeName=tname, thingTypeProperties=props)
        self.assertEqual(again["thingTypeId"], created["thingTypeId"])
        r = self.assertApiError("ResourceAlreadyExistsException", 409, iot.create_thing_type,
                                thingTypeName=tname,
                                thingTypeProperties={"thingTypeDescription": "other"})
        self.assertEqual((r.get("resourceId"), r.get("resourceArn")),
                         (created["thingTypeId"], created["thingTypeArn"]), r)

        d = iot.describe_thing_type(thingTypeName=tname)
        self.assertEqual(d["thingTypeProperties"]["thingTypeDescription"], "sensors")
        self.assertEqual(d["thingTypeProperties"]["searchableAttributes"], ["room"])
        self.assertIs(d["thingTypeMetadata"]["deprecated"], False)
        self.assertIsInstance(d["thingTypeMetadata"]["creationDate"], datetime.datetime)
        listed = iot.list_thing_types(thingTypeName=tname)["thingTypes"]
        self.assertEqual([t["thingTypeName"] for t in listed], [tname])

        # a typed thing may have more than three attributes
        thing = self.name("typed")
        many = {"attributes": {"a%d" % i: "v" for i in range(5)}}
        iot.create_thing(thingName=thing, thingTypeName=tname, attributePayload=many)
        self.assertApiError("InvalidRequestException", 400, iot.create_thing,
                            thingName=self.name("untyped"), attributePayload=many)
        self.assertEqual(iot.describe_thing(thingName=thing)["thingTypeName"], tname)

        # deprecated: no new things of the type, cannot delete while used
        iot.deprecate_thing_type(thingTypeName=tname)
        md = iot.describe_thing_type(thingTypeName=tname)["thingTypeMetadata"]
        self.assertIs(md["deprecated"], True)
        self.assertIsInstance(md["deprecationDate"], datetime.datetime)
        self.assertApiError("InvalidRequestException", 400, iot.create_thing,
                            thingName=self.name("late"), thingTypeName=tname)
        self.assertApiError("InvalidRequestException", 400, iot.delete_thing_type,
                            thingTypeName=tname)
        # undo, then deprecate again after the thing lost its type
        iot.deprecate_thing_type(thingTypeName=tname, undoDeprecate=True)
        self.assertIs(iot.describe_thing_type(thingTypeName=tname)
                      ["thingTypeMetadata"]["deprecated"], False)
        self.assertApiError("InvalidRequestException", 400, iot.delete_thing_type,
                            thingTypeName=tname)  # not deprecated
        iot.update_thing(thingName=thing, removeThingType=True,
                         attributePayload={"attributes": {"a0": "v"}})
        self.assertNotIn("thingTypeName", iot.describe_thing(thingName=thing))
        iot.deprecate_thing_type(thingTypeName=tname)
        iot.delete_thing_type(thingTypeName=tname)
        self.assertApiError("ResourceNotFoundException", 404, iot.describe_thing_type,
                            thingTypeName=tname)
        self.assertApiError("ResourceNotFoundException", 404, iot.create_thing,
                            thingName=self.name("orphan"), thingTypeName=tname)

    def test_thing_type_cli(self):
        tname = self.name("clitype")
        out = self.cli("iot", "create-thing-type", "--thing-type-name", tname,
                       "--thing-type-properties", "thingTypeDescription=cli made")
        self.assertEqual(out["thingTypeName"], tname)
        d = self.cli("iot", "describe-thing-type", "--thing-type-name", tname)
        self.assertEqual(d["thingTypeProperties"]["thingTypeDescription"], "cli made")
        # the wire carries creationDate as epoch seconds: the CLI prints an ISO time
        self.assertRegex(d["thingTypeMetadata"]["creationDate"], r"^\d{4}-\d\d-\d\dT")
        self.cli("iot", "deprecate-thing-type", "--thing-type-name", tname)
        self.cli("iot", "delete-thing-type", "--thing-type-name", tname)
        self.assertApiError("ResourceNotFoundException", 404, self.iot.describe_thing_type,
                            thingTypeName=tname)


class ThingGroupsTest(RegistryCase):

    def test_nested_groups_recursive(self):
        iot = self.iot
        top, mid, leaf = self.name("top"), self.name("mid"), self.name("leaf")
        g_top = iot.create_thing_group(thingGroupName=top, thingGroupProperties={
            "thingGroupDescription": "root", "attributePayload": {"attributes": {"k": "v"}}})
        self.assertRegex(g_top["thingGroupArn"], ARN_RE % ("thinggroup", top))
        g_mid = iot.create_thing_group(thingGroupName=mid, parentGroupName=top)
        iot.create_thing_group(thingGroupName=leaf, parentGroupName=mid)
        again = iot.create_thing_group(thingGroupName=mid, parentGroupName=top)
        self.assertEqual(again["thingGroupId"], g_mid["thingGroupId"])
        r = self.assertApiError("ResourceAlreadyExistsException", 409, iot.create_thing_group,
                                thingGroupName=mid, parentGroupName=leaf)
        self.assertEqual((r.get("resourceId"), r.get("resourceArn")),
                         (g_mid["thingGroupId"], g_mid["thingGroupArn"]), r)

        d = iot.describe_thing_group(thingGroupName=leaf)
        self.assertEqual(d["thingGroupMetadata"]["parentGroupName"], mid)
        self.assertEqual([g["groupName"] for g in d["thingGroupMetadata"]
                          ["rootToParentThingGroups"]], [top, mid])
        self.assertIsInstance(d["thingGroupMetadata"]["creationDate"], datetime.datetime)
        d = iot.describe_thing_group(thingGroupName=top)
        self.assertEqual(d["thingGroupProperties"]["thingGroupDescription"], "root")
        self.assertEqual(d["thingGroupProperties"]["attributePayload"]["attributes"], {"k": "v"})

        t_top, t_mid, t_leaf = self.name("ttop"), self.name("tmid"), self.name("tleaf")
        for t in (t_top, t_mid, t_leaf):
            iot.create_thing(thingName=t)
        iot.add_thing_to_thing_group(thingGroupName=top, thingName=t_top)
        iot.add_thing_to_thing_group(thingGroupArn=g_mid["thingGroupArn"], thingName=t_mid)
        iot.add_thing_to_thing_group(thingGroupName=leaf,
                                     thingArn=iot.describe_thing(thingName=t_leaf)["thingArn"])
        iot.add_thing_to_thing_group(thingGroupName=leaf, thingName=t_leaf)  # again: fine

        def members(group, recursive):
            pages = iot.get_paginator("list_things_in_thing_group").paginate(
                thingGroupName=group, recursive=recursive, PaginationConfig={"PageSize": 1})
            got = [t for p in pages for t in p["things"]]
            self.assertEqual(len(got), len(set(got)), got)
            return sorted(got)

        self.assertEqual(members(top, False), [t_top])
        self.assertEqual(members(top, True), sorted([t_top, t_mid, t_leaf]))
        self.assertEqual(members(mid, True), sorted([t_mid, t_leaf]))
        self.assertEqual(members(leaf, True), [t_leaf])
        self.assertEqual([g["groupName"] for g in
                          iot.list_thing_groups_for_thing(thingName=t_leaf)["thingGroups"]],
                         [leaf])
        # ListThingGroups: the tree below top, and top's direct children only
        below = [g["groupName"] for g in iot.list_thing_groups(parentGroup=top,
                                                               recursive=True)["thingGroups"]]
        self.assertEqual(sorted(below), sorted([mid, leaf]))
        direct = [g["groupName"] for g in iot.list_thing_groups(parentGroup=top,
                                                                recursive=False)["thingGroups"]]
        self.assertEqual(direct, [mid])

        # UpdateThingGroupsForThing: into top and leaf, out of nothing else
        iot.update_thing_groups_for_thing(thingName=t_mid, thingGroupsToAdd=[leaf],
                                          thingGroupsToRemove=[mid])
        self.assertEqual(sorted(g["groupName"] for g in iot.list_thing_groups_for_thing(
            thingName=t_mid)["thingGroups"]), [leaf])
        self.assertEqual(members(mid, False), [])
        iot.remove_thing_from_thing_group(thingGroupName=leaf, thingName=t_mid)
        self.assertEqual(members(leaf, False), [t_leaf])

        # versions
        v = iot.describe_thing_group(thingGroupName=mid)["version"]
        nv = iot.update_thing_group(thingGroupName=mid, expectedVersion=v, thingGroupProperties={
            "thingGroupDescription": "middle"})["version"]
        self.assertEqual(nv, v + 1)
        self.assertApiError("VersionConflictException", 409, iot.update_thing_group,
                            thingGroupName=mid, expectedVersion=v,
                            thingGroupProperties={"thingGroupDescription": "stale"})
        self.assertEqual(iot.describe_thing_group(thingGroupName=mid)
                         ["thingGroupProperties"]["thingGroupDescription"], "middle")

        # deleting: not while a child exists; bottom up works; missing is fine
        self.assertApiError("InvalidRequestException", 400, iot.delete_thing_group,
                            thingGroupName=mid)
        iot.delete_thing_group(thingGroupName=leaf)
        self.assertEqual(iot.list_thing_groups_for_thing(thingName=t_leaf)["thingGroups"], [])
        iot.delete_thing_group(thingGroupName=mid)
        iot.delete_thing_group(thingGroupName=top)
        iot.delete_thing_group(thingGroupName=top)
        self.assertApiError("ResourceNotFoundException", 404, iot.describe_thing_group,
                            thingGroupName=top)
        self.assertApiError("ResourceNotFoundException", 404, iot.list_things_in_thing_group,
                            thingGroupName=top)
        self.assertApiError("ResourceNotFoundException", 404, iot.add_thing_to_thing_group,
                            thingGroupName=top, thingName=t_top)

    def test_thing_groups_cli(self):
        parent, child = self.name("clip"), self.name("clic")
        thing = self.name("clit")
        self.iot.create_thing(thingName=thing)
        self.cli("iot", "create-thing-group", "--thing-group-name", parent)
        out = self.cli("iot", "create-thing-group", "--thing-group-name", child,
                       "--parent-group-name", parent)
        self.assertEqual(out["thingGroupName"], child)
        self.cli("iot", "add-thing-to-thing-group", "--thing-group-name", child,
                 "--thing-name", thing)
        deep = self.cli("iot", "list-things-in-thing-group", "--thing-group-name", parent,
                        "--recursive")
        self.assertEqual(deep["things"], [thing])
        self.assertEqual(self.iot.list_things_in_thing_group(thingGroupName=parent)["things"],
                         [])


class BillingGroupsTest(RegistryCase):

    def test_billing_group_move(self):
        iot = self.iot
        b1, b2 = self.name("bill1"), self.name("bill2")
        c1 = iot.create_billing_group(billingGroupName=b1, billingGroupProperties={
            "billingGroupDescription": "first"})
        self.assertRegex(c1["billingGroupArn"], ARN_RE % ("billinggroup", b1))
        iot.create_billing_group(billingGroupName=b2)
        again = iot.create_billing_group(billingGroupName=b1, billingGroupProperties={
            "billingGroupDescription": "first"})
        self.assertEqual(again["billingGroupId"], c1["billingGroupId"])
        r = self.assertApiError("ResourceAlreadyExistsException", 409, iot.create_billing_group,
                                billingGroupName=b1, billingGroupProperties={
                                    "billingGroupDescription": "changed"})
        self.assertEqual((r.get("resourceId"), r.get("resourceArn")),
                         (c1["billingGroupId"], c1["billingGroupArn"]), r)
        d = iot.describe_billing_group(billingGroupName=b1)
        self.assertEqual(d["billingGroupProperties"]["billingGroupDescription"], "first")
        self.assertIsInstance(d["billingGroupMetadata"]["creationDate"], datetime.datetime)
        self.assertEqual(d["version"], 1)

        thing = self.name("billed")
        iot.create_thing(thingName=thing, billingGroupName=b1)
        self.assertEqual(iot.describe_thing(thingName=thing)["billingGroupName"], b1)
        self.assertEqual(iot.list_things_in_billing_group(billingGroupName=b1)["things"], [thing])
        # moving: AddThingToBillingGroup takes it out of b1
        iot.add_thing_to_billing_group(billingGroupName=b2, thingName=thing)
        self.assertEqual(iot.describe_thing(thingName=thing)["billingGroupName"], b2)
        self.assertEqual(iot.list_things_in_billing_group(billingGroupName=b1)["things"], [])
        self.assertEqual(iot.list_things_in_billing_group(billingGroupName=b2)["things"], [thing])
        # idempotent CreateThing compares the billing group too
        iot.create_thing(thingName=thing, billingGroupName=b2)
        self.assertApiError("ResourceAlreadyExistsException", 409, iot.create_thing,
                            thingName=thing, billingGroupName=b1)
        iot.remove_thing_from_billing_group(billingGroupName=b2, thingName=thing)
        self.assertNotIn("billingGroupName", iot.describe_thing(thingName=thing))

        v = iot.update_billing_group(billingGroupName=b1, expectedVersion=1,
                                     billingGroupProperties={
                                         "billingGroupDescription": "renamed"})["version"]
        self.assertEqual(v, 2)
        self.assertApiError("VersionConflictException", 409, iot.update_billing_group,
                            billingGroupName=b1, expectedVersion=1,
                            billingGroupProperties={"billingGroupDescription": "x"})
        listed = [g["groupName"] for p in iot.get_paginator("list_billing_groups").paginate(
            PaginationConfig={"PageSize": 1}) for g in p["billingGroups"]]
        self.assertTrue({b1, b2} <= set(listed), listed)

        # a deleted thing leaves its billing group; made again, it is in none
        gone = self.name("gone")
        iot.create_thing(thingName=gone, billingGroupName=b2)
        iot.delete_thing(thingName=gone)
        self.assertEqual(iot.list_things_in_billing_group(billingGroupName=b2)["things"], [])
        iot.create_thing(thingName=gone)
        self.assertNotIn("billingGroupName", iot.describe_thing(thingName=gone))

        iot.add_thing_to_billing_group(billingGroupName=b1, thingName=thing)
        iot.delete_billing_group(billingGroupName=b1)  # its membership goes with it
        self.assertNotIn("billingGroupName", iot.describe_thing(thingName=thing))
        iot.delete_billing_group(billingGroupName=b1)  # missing: success
        self.assertApiError("ResourceNotFoundException", 404, iot.describe_billing_group,
                            billingGroupName=b1)
        self.assertApiError("ResourceNotFoundException", 404, iot.add_thing_to_billing_group,
                            billingGroupName=b1, thingName=thing)
        self.assertApiError("ResourceNotFoundException", 404, iot.create_thing,
                            thingName=self.name("nobill"), billingGroupName=b1)

    def test_billing_group_cli(self):
        b1, b2, thing = self.name("clib1"), self.name("clib2"), self.name("clibt")
        self.iot.create_billing_group(billingGroupName=b1)
        out = self.cli("iot", "create-billing-group", "--billing-group-name", b2)
        self.assertEqual(out["billingGroupName"], b2)
        self.cli("iot", "create-thing", "--thing-name", thing, "--billing-group-name", b1)
        self.cli("iot", "add-thing-to-billing-group", "--billing-group-name", b2,
                 "--thing-name", thing)
        self.assertEqual(self.cli("iot", "describe-thing", "--thing-name", thing)
                         ["billingGroupName"], b2)
        self.assertEqual(self.iot.list_things_in_billing_group(billingGroupName=b1)["things"],
                         [])


class ErrorShapesTest(RegistryCase):
    """What clients see when a request is wrong, checked both through
    botocore (code + status) and on the wire (raw SigV4-signed requests)."""

    def test_missing_resources_404(self):
        iot = self.iot
        missing = self.name("missing")
        existing = self.name("exists")
        iot.create_thing(thingName=existing)
        cert = iot.create_keys_and_certificate()
        cases = [
            (iot.describe_thing, {"thingName": missing}),
            (iot.update_thing, {"thingName": missing, "attributePayload": {"attributes": {}}}),
            (iot.describe_thing_type, {"thingTypeName": missing}),
            (iot.deprecate_thing_type, {"thingTypeName": missing}),
            (iot.describe_thing_group, {"thingGroupName": missing}),
            (iot.update_thing_group, {"thingGroupName": missing, "thingGroupProperties": {}}),
            (iot.describe_billing_group, {"billingGroupName": missing}),
            (iot.list_thing_principals, {"thingName": missing}),
            (iot.list_thing_groups_for_thing, {"thingName": missing}),
            (iot.create_thing, {"thingName": missing, "thingTypeName": missing}),
            (iot.update_thing, {"thingName": existing, "thingTypeName": missing}),
            (iot.attach_thing_principal, {"thingName": missing,
                                          "principal": cert["certificateArn"]}),
            (iot.attach_thing_principal, {"thingName": existing,
                                          "principal": cert["certificateArn"][:-64] + "0" * 64}),
        ]
        for fn, kw in cases:
            with self.subTest(op=fn.__name__):
                self.assertApiError("ResourceNotFoundException", 404, fn, **kw)
        r = api.request(self.server, "GET", "/things/" + missing)
        self.assertRawError(r, "ResourceNotFoundException", 404)

    def test_conflict_409_members_on_the_wire(self):
        name = self.name("dup")
        created = self.iot.create_thing(thingName=name)
        r = api.request(self.server, "POST", "/things/" + name,
                        body=b'{"attributePayload": {"attributes": {"z": "1"}}}')
        body = self.assertRawError(r, "ResourceAlreadyExistsException", 409)
        self.assertEqual(body.get("resourceId"), created["thingId"], body)
        self.assertEqual(body.get("resourceArn"), created["thingArn"], body)

    def test_wire_types(self):
        """What strict SDKs (the JS v3 deserializer) insist on: integers are
        JSON integers, booleans JSON booleans, timestamps epoch numbers."""
        iot = self.iot
        thing, ttype, group = self.name("wt"), self.name("wtt"), self.name("wtg")
        iot.create_thing_type(thingTypeName=ttype)
        iot.create_thing(thingName=thing, thingTypeName=ttype)
        iot.create_thing_group(thingGroupName=group)

        def is_int(v):
            return isinstance(v, int) and not isinstance(v, bool)

        def is_time(v):
            return isinstance(v, (int, float)) and not isinstance(v, bool)

        t = api.request(self.server, "GET", "/things/" + thing).json()
        self.assertTrue(is_int(t["version"]), t)
        self.assertIsInstance(t["attributes"], dict)
        listed = api.request(self.server, "GET", "/things?thingTypeName=" + ttype).json()
        self.assertTrue(is_int(listed["things"][0]["version"]), listed)
        tt = api.request(self.server, "GET", "/thing-types/" + ttype).json()
        self.assertIs(tt["thingTypeMetadata"]["deprecated"], False, tt)
        self.assertTrue(is_time(tt["thingTypeMetadata"]["creationDate"]), tt)
        g = api.request(self.server, "GET", "/thing-groups/" + group).json()
        self.assertTrue(is_int(g["version"]), g)
        self.assertTrue(is_time(g["thingGroupMetadata"]["creationDate"]), g)

    def test_names_with_colons(self):
        """':' is allowed in names; botocore sends it percent-encoded."""
        iot = self.iot
        thing, group = self.name("a:b"), self.name("g:h")
        created = iot.create_thing(thingName=thing)
        self.assertRegex(created["thingArn"], ARN_RE % ("thing", re.escape(thing)))
        self.assertEqual(iot.describe_thing(thingName=thing)["thingName"], thing)
        iot.create_thing_group(thingGroupName=group)
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)
        self.assertEqual(iot.list_things_in_thing_group(thingGroupName=group)["things"], [thing])
        r = api.request(self.server, "GET", "/things/" + thing)  # and sent raw
        self.assertEqual(r.json()["thingName"], thing)
        iot.delete_thing(thingName=thing)
        iot.delete_thing_group(thingGroupName=group)
        self.assertApiError("ResourceNotFoundException", 404, iot.describe_thing, thingName=thing)

    def test_malformed_json_400(self):
        thing, group = self.name("mj"), self.name("mjg")
        self.iot.create_thing(thingName=thing)
        cases = [
            ("POST", "/things/" + self.name("mjnew"), b'{"attributePayload": {'),
            ("PATCH", "/things/" + thing, b'{"attributePayload": [1, 2'),
            ("POST", "/thing-groups/" + group, b"not json"),
            ("POST", "/billing-groups/" + group, b"[1, 2]"),
            ("POST", "/thing-types/" + group, b'"just a string"'),
            ("PUT", "/thing-groups/addThingToThingGroup", b"{,}"),
        ]
        for method, path, body in cases:
            with self.subTest(path=path, body=body):
                r = api.request(self.server, method, path, body=body)
                self.assertRawError(r, "InvalidRequestException", 400)
        # nothing half-made, and the thing is unchanged
        self.assertApiError("ResourceNotFoundException", 404, self.iot.describe_thing_group,
                            thingGroupName=group)
        self.assertEqual(self.iot.describe_thing(thingName=thing)["version"], 1)
        # well-formed JSON with members of the wrong type
        r = api.request(self.server, "POST", "/things/" + self.name("mjtype"),
                        body=b'{"attributePayload": {"attributes": {"a": 5}}}')
        self.assertRawError(r, "InvalidRequestException", 400)
        r = api.request(self.server, "PATCH", "/things/" + thing,
                        body=b'{"expectedVersion": "one"}')
        self.assertRawError(r, "InvalidRequestException", 400)

    def test_bad_names_400(self):
        # botocore checks some minimums itself: let everything reach the server
        iot = api.iot_client(self.server, parameter_validation=False)
        self.addCleanup(iot.close)
        cases = [
            (iot.create_thing, {"thingName": "has space"}),
            (iot.create_thing, {"thingName": "x" * 129}),
            (iot.create_thing, {"thingName": "semi;colon"}),
            (iot.describe_thing, {"thingName": "has space"}),
            (iot.create_thing_type, {"thingTypeName": "bad/name"}),
            (iot.create_thing_group, {"thingGroupName": "bad name"}),
            (iot.create_billing_group, {"billingGroupName": "bad*name"}),
            (iot.create_thing, {"thingName": self.name("attr"),
                                "attributePayload": {"attributes": {"bad name": "v"}}}),
            (iot.create_thing, {"thingName": self.name("val"),
                                "attributePayload": {"attributes": {"k": "bad value"}}}),
            (iot.create_thing, {"thingName": self.name("four"), "attributePayload": {
                "attributes": {"a": "1", "b": "2", "c": "3", "d": "4"}}}),
            (iot.list_things, {"maxResults": 251}),
            (iot.list_things, {"maxResults": 0}),
            (iot.add_thing_to_thing_group, {"thingName": self.name("nogroup")}),
        ]
        for fn, kw in cases:
            with self.subTest(op=fn.__name__, kw=str(kw)[:60]):
                self.assertApiError("InvalidRequestException", 400, fn, **kw)
        # on the wire: a percent-encoded space in the path label
        r = api.request(self.server, "POST", "/things/" + urllib.parse.quote("a b"), body=b"{}")
        body = self.assertRawError(r, "InvalidRequestException", 400)
        self.assertIn("thingName", body["message"])
        # and through the CLI
        self.cli_error("InvalidRequestException", "iot", "create-thing", "--thing-name", "a b")


if __name__ == "__main__":
    unittest.main()
