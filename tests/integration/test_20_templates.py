"""test_20_templates - the provisioning template control plane and
RegisterThing through boto3 and the aws CLI against a real roostd:
Create/Describe/List/Update/DeleteProvisioningTemplate, template versions
(default version rules, AWS's limit of five), bodies the template engine
refuses answered with InvalidRequestException naming the problem, Roost's
pre-provisioning hook targets (webhook or local command, not Lambda), a
CA's registrationConfig checked against the engine and the stored JITP
templates (RegisterCACertificate, UpdateCACertificate, DeleteConflict while
a CA names a template), and RegisterThing making a thing, a certificate from
a CSR (`openssl req`) and an inline policy, all attached.
"""

import datetime
import json
import os
import unittest

from registry_util import (RegistryCase, cert_id, make_csr, make_verification_cert, new_ca,
                           read, write)

ROLE = "arn:aws:iam::123456789012:role/Provisioning"

FLEET_BODY = json.dumps({
    "Parameters": {"SerialNumber": {"Type": "String"},
                   "AWS::IoT::Certificate::Id": {"Type": "String"}},
    "Resources": {
        "thing": {"Type": "AWS::IoT::Thing",
                  "Properties": {"ThingName": {"Fn::Join": ["", ["dev-", {"Ref": "SerialNumber"}]]}}},
        "certificate": {"Type": "AWS::IoT::Certificate",
                        "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"},
                                       "Status": "Active"}}},
    "DeviceConfiguration": {"serial": {"Ref": "SerialNumber"}}})

JITP_BODY = json.dumps({
    "Parameters": {"AWS::IoT::Certificate::CommonName": {"Type": "String"},
                   "AWS::IoT::Certificate::Id": {"Type": "String"}},
    "Resources": {
        "thing": {"Type": "AWS::IoT::Thing",
                  "Properties": {"ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"}}},
        "certificate": {"Type": "AWS::IoT::Certificate",
                        "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}}}}})

EMPTY_BODY = json.dumps({"Resources": {}})


class TemplatesTest(RegistryCase):

    def test_lifecycle_boto3(self):
        iot = self.iot
        name = self.name("tpl")
        r = iot.create_provisioning_template(
            templateName=name, description="claim devices", templateBody=FLEET_BODY,
            enabled=True, provisioningRoleArn=ROLE,
            preProvisioningHook={"targetArn": "https://hooks.example.test/check"})
        self.assertEqual(r["templateName"], name)
        self.assertEqual(r["defaultVersionId"], 1)
        self.assertRegex(r["templateArn"],
                         r"^arn:aws:iot:us-east-1:\d{12}:provisioningtemplate/%s$" % name)
        d = iot.describe_provisioning_template(templateName=name)
        self.assertEqual(d["templateBody"], FLEET_BODY)
        self.assertEqual(d["type"], "FLEET_PROVISIONING")
        self.assertIs(d["enabled"], True)
        self.assertEqual(d["description"], "claim devices")
        self.assertEqual(d["provisioningRoleArn"], ROLE)
        self.assertEqual(d["preProvisioningHook"],
                         {"targetArn": "https://hooks.example.test/check",
                          "payloadVersion": "2020-04-01"})
        self.assertIsInstance(d["creationDate"], datetime.datetime)
        self.assertIsInstance(d["lastModifiedDate"], datetime.datetime)

        self.assertApiError("ResourceAlreadyExistsException", 409,
                            iot.create_provisioning_template, templateName=name,
                            templateBody=FLEET_BODY, provisioningRoleArn=ROLE)

        iot.update_provisioning_template(templateName=name, enabled=False,
                                         description="paused", removePreProvisioningHook=True)
        d = iot.describe_provisioning_template(templateName=name)
        self.assertIs(d["enabled"], False)
        self.assertEqual(d["description"], "paused")
        self.assertNotIn("preProvisioningHook", d)

        v = iot.create_provisioning_template_version(templateName=name, templateBody=EMPTY_BODY,
                                                     setAsDefault=True)
        self.assertEqual((v["versionId"], v["isDefaultVersion"]), (2, True))
        self.assertEqual(iot.describe_provisioning_template(templateName=name)["templateBody"],
                         EMPTY_BODY)
        dv = iot.describe_provisioning_template_version(templateName=name, versionId=1)
        self.assertEqual(dv["templateBody"], FLEET_BODY)
        self.assertIs(dv["isDefaultVersion"], False)
        self.assertIsInstance(dv["creationDate"], datetime.datetime)
        vs = iot.list_provisioning_template_versions(templateName=name)["versions"]
        self.assertEqual([(x["versionId"], x["isDefaultVersion"]) for x in vs],
                         [(1, False), (2, True)])
        e = self.assertApiError("DeleteConflictException", 409,
                                iot.delete_provisioning_template_version, templateName=name,
                                versionId=2)
        self.assertIn("default version", e["Error"]["Message"])
        iot.update_provisioning_template(templateName=name, defaultVersionId=1)
        iot.delete_provisioning_template_version(templateName=name, versionId=2)
        self.assertApiError("ResourceNotFoundException", 404,
                            iot.describe_provisioning_template_version, templateName=name,
                            versionId=2)
        for _ in range(4):
            iot.create_provisioning_template_version(templateName=name, templateBody=EMPTY_BODY)
        self.assertApiError("VersionsLimitExceededException", 409,
                            iot.create_provisioning_template_version, templateName=name,
                            templateBody=EMPTY_BODY)

        iot.delete_provisioning_template(templateName=name)
        self.assertApiError("ResourceNotFoundException", 404,
                            iot.describe_provisioning_template, templateName=name)
        self.assertApiError("ResourceNotFoundException", 404,
                            iot.delete_provisioning_template, templateName=name)

    def test_list_pages(self):
        iot = self.iot
        names = sorted(self.name("lst") for _ in range(3))
        for n in names:
            iot.create_provisioning_template(templateName=n, templateBody=EMPTY_BODY,
                                             provisioningRoleArn=ROLE)
        seen, token = [], None
        for _ in range(20):
            kw = {"maxResults": 1}
            if token:
                kw["nextToken"] = token
            page = iot.list_provisioning_templates(**kw)
            self.assertLessEqual(len(page["templates"]), 1)
            seen += [t["templateName"] for t in page["templates"]]
            token = page.get("nextToken")
            if not token:
                break
        self.assertEqual([n for n in seen if n in names], names)
        item = [t for t in iot.list_provisioning_templates()["templates"]
                if t["templateName"] == names[0]][0]
        self.assertEqual(item["type"], "FLEET_PROVISIONING")
        self.assertIs(item["enabled"], False)
        self.assertIsInstance(item["creationDate"], datetime.datetime)

    def test_bad_templates_refused(self):
        iot = self.iot
        undeclared = json.dumps({"Resources": {"thing": {
            "Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "Location"}}}}})
        e = self.assertApiError("InvalidRequestException", 400,
                                iot.create_provisioning_template, templateName=self.name("bad"),
                                templateBody=undeclared, provisioningRoleArn=ROLE)
        msg = e["Error"]["Message"]
        self.assertIn("Resources.thing.Properties.ThingName", msg)
        self.assertIn("Location", msg)
        e = self.assertApiError("InvalidRequestException", 400,
                                iot.create_provisioning_template, templateName=self.name("bad"),
                                templateBody='{"Resources": {}, "Mapping": {}}',
                                provisioningRoleArn=ROLE)
        self.assertIn("Mapping", e["Error"]["Message"])
        self.assertApiError("InvalidRequestException", 400, iot.create_provisioning_template,
                            templateName=self.name("bad"), templateBody="not json",
                            provisioningRoleArn=ROLE)
        e = self.assertApiError("InvalidRequestException", 400,
                                iot.create_provisioning_template, templateName=self.name("bad"),
                                templateBody=FLEET_BODY, provisioningRoleArn=ROLE,
                                preProvisioningHook={
                                    "targetArn": "arn:aws:lambda:us-east-1:123456789012:"
                                                 "function:check"})
        self.assertIn("exec:/absolute/path", e["Error"]["Message"])
        ok = self.name("hook")
        iot.create_provisioning_template(templateName=ok, templateBody=FLEET_BODY,
                                         provisioningRoleArn=ROLE,
                                         preProvisioningHook={"targetArn": "exec:/bin/true"})
        self.assertApiError("InvalidRequestException", 400, iot.update_provisioning_template,
                            templateName=ok, preProvisioningHook={"targetArn": "lambda"})
        # A JITP template may name only the certificate being provisioned.
        csr_body = json.dumps({"Parameters": {"Csr": {"Type": "String"}}, "Resources": {"c": {
            "Type": "AWS::IoT::Certificate",
            "Properties": {"CertificateSigningRequest": {"Ref": "Csr"}}}}})
        e = self.assertApiError("InvalidRequestException", 400,
                                iot.create_provisioning_template, templateName=self.name("bad"),
                                templateBody=csr_body, provisioningRoleArn=ROLE, type="JITP")
        self.assertIn("Resources.c", e["Error"]["Message"])
        # the new version of a template is checked the same way
        self.assertApiError("InvalidRequestException", 400,
                            iot.create_provisioning_template_version, templateName=ok,
                            templateBody=undeclared)
        self.assertApiError("ResourceNotFoundException", 404,
                            iot.create_provisioning_template_version,
                            templateName=self.name("none"), templateBody=EMPTY_BODY)

    def test_cli(self):
        name = self.name("cli")
        out = self.cli("iot", "create-provisioning-template", "--template-name", name,
                       "--template-body", JITP_BODY, "--provisioning-role-arn", ROLE,
                       "--type", "JITP")
        self.assertEqual(out["defaultVersionId"], 1)
        d = self.cli("iot", "describe-provisioning-template", "--template-name", name)
        self.assertEqual(d["type"], "JITP")
        self.assertEqual(d["templateBody"], JITP_BODY)
        self.assertIn(name, [t["templateName"] for t in
                             self.cli_all("templates", "iot", "list-provisioning-templates")])
        v = self.cli("iot", "create-provisioning-template-version", "--template-name", name,
                     "--template-body", EMPTY_BODY, "--set-as-default")
        self.assertEqual(v["versionId"], 2)
        vs = self.cli("iot", "list-provisioning-template-versions", "--template-name", name)
        self.assertEqual([x["versionId"] for x in vs["versions"]], [1, 2])
        err = self.cli_error("DeleteConflictException", "iot",
                             "delete-provisioning-template-version", "--template-name", name,
                             "--version-id", "2")
        self.assertIn("default version", err)
        self.cli("iot", "update-provisioning-template", "--template-name", name,
                 "--default-version-id", "1", "--enabled")
        self.cli("iot", "delete-provisioning-template-version", "--template-name", name,
                 "--version-id", "2")
        d = self.cli("iot", "describe-provisioning-template", "--template-name", name)
        self.assertEqual((d["defaultVersionId"], d["enabled"]), (1, True))
        err = self.cli_error("InvalidRequestException", "iot", "create-provisioning-template",
                             "--template-name", self.name("cli"), "--template-body",
                             '{"Resources": {"t": {"Type": "AWS::IoT::Widget"}}}',
                             "--provisioning-role-arn", ROLE)
        self.assertIn("Resources.t", err)
        self.cli("iot", "delete-provisioning-template", "--template-name", name)
        self.cli_error("ResourceNotFoundException", "iot", "describe-provisioning-template",
                       "--template-name", name)


class CaRegistrationConfigTest(RegistryCase):
    """RegisterCACertificate / UpdateCACertificate check a registrationConfig
    against the template engine and the stored templates."""

    def test_registration_config_checked(self):
        iot = self.iot
        name = self.name("jca")
        ca, ca_key = new_ca(os.path.join(self.tmp, name), name)
        code = iot.get_registration_code()["registrationCode"]
        verif = make_verification_cert(self.tmp, name + "-verif", ca, ca_key, code)
        fleet = self.name("fleet")
        iot.create_provisioning_template(templateName=fleet, templateBody=FLEET_BODY,
                                         provisioningRoleArn=ROLE)
        jitp = self.name("jitp")
        iot.create_provisioning_template(templateName=jitp, templateBody=JITP_BODY,
                                         provisioningRoleArn=ROLE, type="JITP")

        def register(config):
            return iot.register_ca_certificate(caCertificate=read(ca),
                                               verificationCertificate=read(verif),
                                               setAsActive=True, allowAutoRegistration=True,
                                               registrationConfig=config)

        e = self.assertApiError("InvalidRequestException", 400, register,
                                {"templateBody": '{"Resources": {}, "Mapping": {}}',
                                 "roleArn": "arn:aws:iam::123456789012:role/JITPRole"})
        self.assertIn("Invalid registration template", e["Error"]["Message"])
        self.assertIn("Mapping", e["Error"]["Message"])
        e = self.assertApiError("InvalidRequestException", 400, register,
                                {"templateName": fleet})
        self.assertIn("not a JITP template", e["Error"]["Message"])
        self.assertApiError("ResourceNotFoundException", 404, register,
                            {"templateName": self.name("none")})
        ca_id = register({"templateName": jitp})["certificateId"]
        d = iot.describe_ca_certificate(certificateId=ca_id)
        self.assertEqual(d["registrationConfig"], {"templateName": jitp})
        self.assertApiError("DeleteConflictException", 409, iot.delete_provisioning_template,
                            templateName=jitp)
        # An inline JITP body through UpdateCACertificate, then the template can go.
        iot.update_ca_certificate(certificateId=ca_id,
                                  registrationConfig={"templateBody": JITP_BODY,
                                                      "roleArn": "arn:aws:iam::123456789012:"
                                                                 "role/JITPRole"})
        iot.delete_provisioning_template(templateName=jitp)
        self.assertApiError("InvalidRequestException", 400, iot.update_ca_certificate,
                            certificateId=ca_id,
                            registrationConfig={"templateBody": json.dumps({
                                "Resources": {"thing": {
                                    "Type": "AWS::IoT::Thing",
                                    "Properties": {"ThingName": {"Ref": "Location"}}}}})})


class RegisterThingTest(RegistryCase):

    BODY = json.dumps({
        "Parameters": {"ThingName": {"Type": "String"}, "Csr": {"Type": "String"}},
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing",
                      "Properties": {"ThingName": {"Ref": "ThingName"},
                                     "AttributePayload": {"model": "m1"}}},
            "certificate": {"Type": "AWS::IoT::Certificate",
                            "Properties": {"CertificateSigningRequest": {"Ref": "Csr"},
                                           "Status": "ACTIVE"}},
            "policy": {"Type": "AWS::IoT::Policy",
                       "Properties": {"PolicyDocument": json.dumps({
                           "Version": "2012-10-17",
                           "Statement": [{"Effect": "Allow", "Action": "iot:Connect",
                                          "Resource": "*"}]})}}}})

    def test_register_thing_boto3(self):
        iot = self.iot
        thing = self.name("bulk")
        csr, _key = make_csr(self.tmp, thing, cn=thing)
        r = iot.register_thing(templateBody=self.BODY,
                               parameters={"ThingName": thing, "Csr": read(csr)})
        pem = r["certificatePem"]
        cid = cert_id(pem)
        arns = r["resourceArns"]
        self.assertRegex(arns["thing"], r"^arn:aws:iot:us-east-1:\d{12}:thing/%s$" % thing)
        self.assertTrue(arns["certificate"].endswith("cert/" + cid), arns)
        self.assertRegex(arns["policy"], r":policy/[0-9a-f]{64}$")
        self.assertEqual(self.status_of(cid), "ACTIVE")
        self.assertEqual(iot.describe_thing(thingName=thing)["attributes"], {"model": "m1"})
        self.assertEqual(iot.list_thing_principals(thingName=thing)["principals"],
                         [arns["certificate"]])
        pols = iot.list_attached_policies(target=arns["certificate"])["policies"]
        self.assertEqual([p["policyArn"] for p in pols], [arns["policy"]])

        # A missing parameter: the engine's message, nothing created.
        other = self.name("bulk")
        e = self.assertApiError("InvalidRequestException", 400, iot.register_thing,
                                templateBody=self.BODY, parameters={"ThingName": other})
        self.assertIn("Csr", e["Error"]["Message"])
        self.assertApiError("ResourceNotFoundException", 404, iot.describe_thing,
                            thingName=other)
        # A thing group the template names must exist.
        grouped = json.dumps({"Resources": {"thing": {
            "Type": "AWS::IoT::Thing",
            "Properties": {"ThingName": other, "ThingGroups": ["no-such-group"]}}}})
        e = self.assertApiError("ResourceNotFoundException", 404, iot.register_thing,
                                templateBody=grouped)
        self.assertIn("no-such-group", e["Error"]["Message"])

    def test_register_thing_cli(self):
        thing = self.name("clibulk")
        csr, _key = make_csr(self.tmp, thing, cn=thing)
        params = write(os.path.join(self.tmp, thing + ".json"),
                       json.dumps({"ThingName": thing, "Csr": read(csr)}))
        out = self.cli("iot", "register-thing", "--template-body", self.BODY,
                       "--parameters", "file://" + params)
        self.assertIn("BEGIN CERTIFICATE", out["certificatePem"])
        d = self.cli("iot", "describe-thing", "--thing-name", thing)
        self.assertEqual(d["thingName"], thing)


if __name__ == "__main__":
    unittest.main()
