/*
 * ops_table.c - the operation table: every AWS IoT control-plane operation
 * Roost serves, with its HTTP method and path pattern exactly as the AWS REST
 * API (botocore's iot 2015-05-28 model) has them, and the function that
 * carries it out. roost_registry_route matches requests against it; a
 * pattern label ending in '+' takes the rest of the path, '/' included.
 *
 * ListAttachedPolicies' {target} is an ARN: botocore percent-encodes its
 * '/' (%2F), but other clients may not, so the pattern takes it greedily.
 */
#include "registry/registry_int.h"

#define OP(name, method, path, fn, ro) {name, method, path, fn, ro}

const struct roost_registry_op registry__ops[] = {
    /* ---- things (ops_things.c) ---- */
    OP("CreateThing", "POST", "/things/{thingName}", registry__op_create_thing, false),
    OP("DescribeThing", "GET", "/things/{thingName}", registry__op_describe_thing, true),
    OP("ListThings", "GET", "/things", registry__op_list_things, true),
    OP("UpdateThing", "PATCH", "/things/{thingName}", registry__op_update_thing, false),
    OP("DeleteThing", "DELETE", "/things/{thingName}", registry__op_delete_thing, false),
    /* ---- thing types ---- */
    OP("CreateThingType", "POST", "/thing-types/{thingTypeName}", registry__op_create_thing_type,
       false),
    OP("DescribeThingType", "GET", "/thing-types/{thingTypeName}",
       registry__op_describe_thing_type, true),
    OP("ListThingTypes", "GET", "/thing-types", registry__op_list_thing_types, true),
    OP("DeprecateThingType", "POST", "/thing-types/{thingTypeName}/deprecate",
       registry__op_deprecate_thing_type, false),
    OP("DeleteThingType", "DELETE", "/thing-types/{thingTypeName}", registry__op_delete_thing_type,
       false),
    /* ---- thing groups ---- */
    OP("CreateThingGroup", "POST", "/thing-groups/{thingGroupName}",
       registry__op_create_thing_group, false),
    OP("DescribeThingGroup", "GET", "/thing-groups/{thingGroupName}",
       registry__op_describe_thing_group, true),
    OP("ListThingGroups", "GET", "/thing-groups", registry__op_list_thing_groups, true),
    OP("UpdateThingGroup", "PATCH", "/thing-groups/{thingGroupName}",
       registry__op_update_thing_group, false),
    OP("DeleteThingGroup", "DELETE", "/thing-groups/{thingGroupName}",
       registry__op_delete_thing_group, false),
    OP("AddThingToThingGroup", "PUT", "/thing-groups/addThingToThingGroup",
       registry__op_add_thing_to_thing_group, false),
    OP("RemoveThingFromThingGroup", "PUT", "/thing-groups/removeThingFromThingGroup",
       registry__op_remove_thing_from_thing_group, false),
    OP("UpdateThingGroupsForThing", "PUT", "/thing-groups/updateThingGroupsForThing",
       registry__op_update_thing_groups_for_thing, false),
    OP("ListThingsInThingGroup", "GET", "/thing-groups/{thingGroupName}/things",
       registry__op_list_things_in_thing_group, true),
    OP("ListThingGroupsForThing", "GET", "/things/{thingName}/thing-groups",
       registry__op_list_thing_groups_for_thing, true),
    /* ---- billing groups ---- */
    OP("CreateBillingGroup", "POST", "/billing-groups/{billingGroupName}",
       registry__op_create_billing_group, false),
    OP("DescribeBillingGroup", "GET", "/billing-groups/{billingGroupName}",
       registry__op_describe_billing_group, true),
    OP("ListBillingGroups", "GET", "/billing-groups", registry__op_list_billing_groups, true),
    OP("UpdateBillingGroup", "PATCH", "/billing-groups/{billingGroupName}",
       registry__op_update_billing_group, false),
    OP("DeleteBillingGroup", "DELETE", "/billing-groups/{billingGroupName}",
       registry__op_delete_billing_group, false),
    OP("AddThingToBillingGroup", "PUT", "/billing-groups/addThingToBillingGroup",
       registry__op_add_thing_to_billing_group, false),
    OP("RemoveThingFromBillingGroup", "PUT", "/billing-groups/removeThingFromBillingGroup",
       registry__op_remove_thing_from_billing_group, false),
    OP("ListThingsInBillingGroup", "GET", "/billing-groups/{billingGroupName}/things",
       registry__op_list_things_in_billing_group, true),
    /* ---- thing principals (principal in the x-amzn-principal header) ---- */
    OP("AttachThingPrincipal", "PUT", "/things/{thingName}/principals",
       registry__op_attach_thing_principal, false),
    OP("DetachThingPrincipal", "DELETE", "/things/{thingName}/principals",
       registry__op_detach_thing_principal, false),
    OP("ListThingPrincipals", "GET", "/things/{thingName}/principals",
       registry__op_list_thing_principals, true),
    OP("ListPrincipalThings", "GET", "/principals/things", registry__op_list_principal_things,
       true),

    /* ---- certificates (ops_certs.c) ---- */
    OP("CreateKeysAndCertificate", "POST", "/keys-and-certificate",
       registry__op_create_keys_and_certificate, false),
    OP("CreateCertificateFromCsr", "POST", "/certificates",
       registry__op_create_certificate_from_csr, false),
    OP("RegisterCertificate", "POST", "/certificate/register", registry__op_register_certificate,
       false),
    OP("RegisterCertificateWithoutCA", "POST", "/certificate/register-no-ca",
       registry__op_register_certificate_without_ca, false),
    OP("DescribeCertificate", "GET", "/certificates/{certificateId}",
       registry__op_describe_certificate, true),
    OP("ListCertificates", "GET", "/certificates", registry__op_list_certificates, true),
    OP("ListCertificatesByCA", "GET", "/certificates-by-ca/{caCertificateId}",
       registry__op_list_certificates_by_ca, true),
    OP("UpdateCertificate", "PUT", "/certificates/{certificateId}",
       registry__op_update_certificate, false),
    OP("DeleteCertificate", "DELETE", "/certificates/{certificateId}",
       registry__op_delete_certificate, false),
    /* Not read-only: the first call creates the code and stores it. */
    OP("GetRegistrationCode", "GET", "/registrationcode", registry__op_get_registration_code,
       false),
    /* ---- CA certificates ---- */
    OP("RegisterCACertificate", "POST", "/cacertificate", registry__op_register_ca_certificate,
       false),
    OP("DescribeCACertificate", "GET", "/cacertificate/{caCertificateId}",
       registry__op_describe_ca_certificate, true),
    OP("ListCACertificates", "GET", "/cacertificates", registry__op_list_ca_certificates, true),
    OP("UpdateCACertificate", "PUT", "/cacertificate/{caCertificateId}",
       registry__op_update_ca_certificate, false),
    OP("DeleteCACertificate", "DELETE", "/cacertificate/{caCertificateId}",
       registry__op_delete_ca_certificate, false),
    OP("DescribeEndpoint", "GET", "/endpoint", registry__op_describe_endpoint, true),

    /* ---- policies (ops_policies.c) ---- */
    OP("CreatePolicy", "POST", "/policies/{policyName}", registry__op_create_policy, false),
    OP("GetPolicy", "GET", "/policies/{policyName}", registry__op_get_policy, true),
    OP("ListPolicies", "GET", "/policies", registry__op_list_policies, true),
    OP("DeletePolicy", "DELETE", "/policies/{policyName}", registry__op_delete_policy, false),
    OP("CreatePolicyVersion", "POST", "/policies/{policyName}/version",
       registry__op_create_policy_version, false),
    OP("ListPolicyVersions", "GET", "/policies/{policyName}/version",
       registry__op_list_policy_versions, true),
    OP("GetPolicyVersion", "GET", "/policies/{policyName}/version/{policyVersionId}",
       registry__op_get_policy_version, true),
    OP("SetDefaultPolicyVersion", "PATCH", "/policies/{policyName}/version/{policyVersionId}",
       registry__op_set_default_policy_version, false),
    OP("DeletePolicyVersion", "DELETE", "/policies/{policyName}/version/{policyVersionId}",
       registry__op_delete_policy_version, false),
    OP("AttachPolicy", "PUT", "/target-policies/{policyName}", registry__op_attach_policy, false),
    OP("DetachPolicy", "POST", "/target-policies/{policyName}", registry__op_detach_policy, false),
    OP("ListAttachedPolicies", "POST", "/attached-policies/{target+}",
       registry__op_list_attached_policies, true),
    OP("ListTargetsForPolicy", "POST", "/policy-targets/{policyName}",
       registry__op_list_targets_for_policy, true),

    /* ---- provisioning templates, RegisterThing (ops_templates.c) ---- */
    OP("CreateProvisioningTemplate", "POST", "/provisioning-templates",
       registry__op_create_provisioning_template, false),
    OP("DescribeProvisioningTemplate", "GET", "/provisioning-templates/{templateName}",
       registry__op_describe_provisioning_template, true),
    OP("ListProvisioningTemplates", "GET", "/provisioning-templates",
       registry__op_list_provisioning_templates, true),
    OP("UpdateProvisioningTemplate", "PATCH", "/provisioning-templates/{templateName}",
       registry__op_update_provisioning_template, false),
    OP("DeleteProvisioningTemplate", "DELETE", "/provisioning-templates/{templateName}",
       registry__op_delete_provisioning_template, false),
    OP("CreateProvisioningTemplateVersion", "POST",
       "/provisioning-templates/{templateName}/versions",
       registry__op_create_provisioning_template_version, false),
    OP("DescribeProvisioningTemplateVersion", "GET",
       "/provisioning-templates/{templateName}/versions/{versionId}",
       registry__op_describe_provisioning_template_version, true),
    OP("ListProvisioningTemplateVersions", "GET", "/provisioning-templates/{templateName}/versions",
       registry__op_list_provisioning_template_versions, true),
    OP("DeleteProvisioningTemplateVersion", "DELETE",
       "/provisioning-templates/{templateName}/versions/{versionId}",
       registry__op_delete_provisioning_template_version, false),
    OP("RegisterThing", "POST", "/things", registry__op_register_thing, false),

    /* ---- registry events (ops_events.c) ---- */
    OP("UpdateEventConfigurations", "PATCH", "/event-configurations",
       registry__op_update_event_configurations, false),
    OP("DescribeEventConfigurations", "GET", "/event-configurations",
       registry__op_describe_event_configurations, true),
};

const size_t registry__n_ops = ROOST_ARRAY_LEN(registry__ops);
