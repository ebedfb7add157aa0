/*
 * test_certs.c - unit tests for src/registry/ops_certs.c: every certificate,
 * CA certificate, registration code and endpoint operation and its error
 * paths, run the way the HTTPS API runs them (roost_registry_route, then
 * roost_registry_call inside a ROOST_STORE_TXN on a real store), with
 * certificates minted by src/pki and, for CA registration, by the openssl
 * CLI as an independent issuer.
 */
#define REGISTRY_ENV_API
#include "registry_env.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* ==== Harness: a store, a registry, one API call at a time ================= */

static const json_t *rget(const char *path)
{
    /* "a.b" */
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    const json_t *v = last_result;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    return v;
}

/* CreateKeysAndCertificate; copies the new id into out. */
static void new_cert(bool active, char out[65])
{
    REQUIRE_EQ(api("POST", "/keys-and-certificate", active ? "setAsActive=true" : NULL, NULL),
               200);
    snprintf(out, 65, "%s", rs("certificateId"));
}

static void path_for(char *out, size_t cap, const char *prefix, const char *id)
{
    snprintf(out, cap, "%s%s", prefix, id);
}

/* ==== CreateKeysAndCertificate, DescribeCertificate ======================== */

ROOST_TEST(create_keys_and_certificate)
{
    env_open();
    REQUIRE_EQ(api("POST", "/keys-and-certificate", NULL, NULL), 200);
    char id[65];
    snprintf(id, sizeof(id), "%s", rs("certificateId"));
    CHECK_EQ(strlen(id), 64);
    char want_id[65];
    REQUIRE_OK(roost_pki_cert_id_from_pem(rs("certificatePem"), strlen(rs("certificatePem")),
                                          want_id));
    CHECK_STR(id, want_id);
    char arn[200];
    snprintf(arn, sizeof(arn), "arn:aws:iot:us-east-1:123456789012:cert/%s", id);
    CHECK_STR(rs("certificateArn"), arn);
    const char *priv = json_string_value(rget("keyPair.PrivateKey"));
    const char *pub = json_string_value(rget("keyPair.PublicKey"));
    REQUIRE(priv && pub);
    CHECK(strstr(priv, "PRIVATE KEY-----") != NULL);
    CHECK(strstr(pub, "BEGIN PUBLIC KEY") != NULL);
    CHECK_EQ(last_n_certs, 1);
    /* The key never reaches the store. */
    char *stored = get_doc("cert", id);
    REQUIRE(stored);
    CHECK(strstr(stored, "PRIVATE") == NULL);
    roost_free(stored);
    CHECK_EQ(roost_registry_cert_status(reg, id), ROOST_CERT_INACTIVE);

    char path[200];
    path_for(path, sizeof(path), "/certificates/", id);
    REQUIRE_EQ(api("GET", path, NULL, NULL), 200);
    const json_t *d = json_object_get(last_result, "certificateDescription");
    REQUIRE(json_is_object(d));
    CHECK_STR(json_string_value(json_object_get(d, "certificateId")), id);
    CHECK_STR(json_string_value(json_object_get(d, "certificateArn")), arn);
    CHECK_STR(json_string_value(json_object_get(d, "status")), "INACTIVE");
    CHECK_STR(json_string_value(json_object_get(d, "ownedBy")), "123456789012");
    CHECK_STR(json_string_value(json_object_get(d, "certificateMode")), "DEFAULT");
    CHECK(json_object_get(d, "caCertificateId") == NULL);
    CHECK(json_is_number(json_object_get(d, "creationDate")));
    CHECK(json_is_number(json_object_get(d, "lastModifiedDate")));
    CHECK(json_is_integer(json_object_get(d, "customerVersion")));
    CHECK(json_is_string(json_object_get(d, "generationId")));
    CHECK(json_is_string(json_object_get(d, "certificatePem")));
    const json_t *val = json_object_get(d, "validity");
    CHECK(json_is_number(json_object_get(val, "notBefore")));
    CHECK(json_is_number(json_object_get(val, "notAfter")));
    double created = json_number_value(json_object_get(d, "creationDate"));
    CHECK(created > 1.6e9 && created < 1e10); /* seconds, not ms */

    /* setAsActive=true. */
    REQUIRE_EQ(api("POST", "/keys-and-certificate", "setAsActive=true", NULL), 200);
    snprintf(id, sizeof(id), "%s", rs("certificateId"));
    CHECK_EQ(roost_registry_cert_status(reg, id), ROOST_CERT_ACTIVE);
    CHECK_EQ(api("POST", "/keys-and-certificate", "setAsActive=maybe", NULL), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    env_close();
}

ROOST_TEST(describe_certificate_errors)
{
    env_open();
    CHECK_EQ(api("GET", "/certificates/xyz", NULL, NULL), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    char path[200];
    path_for(path, sizeof(path), "/certificates/",
             "00000000000000000000000000000000000000000000000000000000000000zz");
    CHECK_EQ(api("GET", path, NULL, NULL), 400);
    path_for(path, sizeof(path), "/certificates/",
             "0000000000000000000000000000000000000000000000000000000000000000");
    CHECK_EQ(api("GET", path, NULL, NULL), 404);
    CHECK_STR(last_code, "ResourceNotFoundException");
    /* Upper-case hex names the same certificate. */
    char id[65], upper[65];
    new_cert(false, id);
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(id[i] >= 'a' && id[i] <= 'f' ? id[i] - 32 : id[i]);
    path_for(path, sizeof(path), "/certificates/", upper);
    CHECK_EQ(api("GET", path, NULL, NULL), 200);
    env_close();
}

/* ==== CreateCertificateFromCsr ============================================ */

ROOST_TEST(create_certificate_from_csr)
{
    env_open();
    REQUIRE_OK(sh("openssl ecparam -name prime256v1 -genkey -noout -out d.key && "
                  "openssl req -new -key d.key -subj /CN=csr-device/O=Acme -out d.csr"));
    char *csr = file_in_dir("d.csr");
    REQUIRE(csr);
    json_t *body = json_pack("{s:s}", "certificateSigningRequest", csr);
    char *text = json_dumps(body, 0);
    REQUIRE_EQ(api("POST", "/certificates", "setAsActive=true", text), 200);
    CHECK(rs("certificateArn") && rs("certificateId") && rs("certificatePem"));
    CHECK(json_object_get(last_result, "keyPair") == NULL);
    struct roost_pki_cert_info info = {0};
    REQUIRE_OK(roost_pki_cert_info(rs("certificatePem"), strlen(rs("certificatePem")), &info));
    CHECK_STR(info.subject.attr[ROOST_PKI_ATTR_COMMON_NAME].v[0], "csr-device");
    CHECK_STR(info.id, rs("certificateId"));
    CHECK_EQ(roost_registry_cert_status(reg, info.id), ROOST_CERT_ACTIVE);
    roost_pki_cert_info_cleanup(&info);
    /* The same CSR again makes a distinct certificate. */
    char first[65];
    snprintf(first, sizeof(first), "%s", rs("certificateId"));
    REQUIRE_EQ(api("POST", "/certificates", NULL, text), 200);
    CHECK(strcmp(first, rs("certificateId")) != 0);
    free(text);
    json_decref(body);
    roost_free(csr);

    CHECK_EQ(api("POST", "/certificates", NULL, "{}"), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK_EQ(api("POST", "/certificates", NULL, NULL), 400);
    CHECK_EQ(api("POST", "/certificates", NULL, "{\"certificateSigningRequest\":5}"), 400);
    CHECK_EQ(api("POST", "/certificates", NULL, "{\"certificateSigningRequest\":\"junk\"}"), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    char big[6000];
    memset(big, 'A', sizeof(big));
    memcpy(big, "{\"certificateSigningRequest\":\"", 30);
    memcpy(big + sizeof(big) - 3, "\"}", 3);
    CHECK_EQ(api("POST", "/certificates", NULL, big), 400);
    env_close();
}

/* ==== UpdateCertificate ==================================================== */

ROOST_TEST(update_certificate_transitions)
{
    env_open();
    char id[65], path[200];
    new_cert(false, id);
    path_for(path, sizeof(path), "/certificates/", id);
    CHECK_EQ(api("PUT", path, NULL, NULL), 400); /* newStatus is required */
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK_EQ(api("PUT", path, "newStatus=BOGUS", NULL), 400);
    CHECK_EQ(api("PUT", path, "newStatus=PENDING_ACTIVATION", NULL), 400);
    CHECK_EQ(api("PUT", path, "newStatus=PENDING_TRANSFER", NULL), 400);

    CHECK_EQ(api("PUT", path, "newStatus=ACTIVE", NULL), 200);
    CHECK_EQ(last_n_certs, 1);
    CHECK_EQ(roost_registry_cert_status(reg, id), ROOST_CERT_ACTIVE);
    REQUIRE_EQ(api("GET", path, NULL, NULL), 200);
    CHECK_STR(json_string_value(rget("certificateDescription.status")), "ACTIVE");
    CHECK_EQ(json_integer_value(rget("certificateDescription.customerVersion")), 2);
    /* Idempotent: the same status again changes nothing. */
    CHECK_EQ(api("PUT", path, "newStatus=ACTIVE", NULL), 200);
    CHECK_EQ(last_n_certs, 0);
    REQUIRE_EQ(api("GET", path, NULL, NULL), 200);
    CHECK_EQ(json_integer_value(rget("certificateDescription.customerVersion")), 2);

    CHECK_EQ(api("PUT", path, "newStatus=INACTIVE", NULL), 200);
    CHECK_EQ(roost_registry_cert_status(reg, id), ROOST_CERT_INACTIVE);
    CHECK_EQ(api("PUT", path, "newStatus=REVOKED", NULL), 200);
    CHECK_EQ(roost_registry_cert_status(reg, id), ROOST_CERT_REVOKED);
    CHECK_EQ(api("PUT", path, "newStatus=ACTIVE", NULL), 406);
    CHECK_STR(last_code, "CertificateStateException");
    CHECK_EQ(api("PUT", path, "newStatus=INACTIVE", NULL), 406);
    CHECK_EQ(roost_registry_cert_status(reg, id), ROOST_CERT_REVOKED);

    path_for(path, sizeof(path), "/certificates/",
             "1111111111111111111111111111111111111111111111111111111111111111");
    CHECK_EQ(api("PUT", path, "newStatus=ACTIVE", NULL), 404);
    CHECK_EQ(api("PUT", "/certificates/short", "newStatus=ACTIVE", NULL), 400);
    env_close();
}

/* ==== DeleteCertificate ==================================================== */

ROOST_TEST(delete_certificate_rules)
{
    env_open();
    char id[65], path[200], arn[200];
    new_cert(true, id);
    snprintf(arn, sizeof(arn), "arn:aws:iot:us-east-1:123456789012:cert/%s", id);
    path_for(path, sizeof(path), "/certificates/", id);
    CHECK_EQ(api("DELETE", path, NULL, NULL), 406);
    CHECK_STR(last_code, "CertificateStateException");
    CHECK_STR(last_msg, "Certificate must be deactivated (not ACTIVE) before deletion.");
    CHECK_EQ(api("PUT", path, "newStatus=INACTIVE", NULL), 200);

    /* Attached to a thing: refused even with forceDelete. */
    put_doc("thing", "t1", "{\"thingName\":\"t1\"}");
    put_link("principal", "thing", "t1", "cert", id);
    CHECK_EQ(api("DELETE", path, "forceDelete=true", NULL), 409);
    CHECK_STR(last_code, "DeleteConflictException");
    CHECK(strstr(last_msg, "Things must be detached") != NULL);
    CHECK(strstr(last_msg, arn) != NULL);

    /* A fresh certificate with a policy attached. */
    char id2[65], path2[200];
    new_cert(false, id2);
    path_for(path2, sizeof(path2), "/certificates/", id2);
    put_doc("policy", "p1", "{\"policyName\":\"p1\"}");
    put_link("policy", "cert", id2, "policy", "p1");
    CHECK_EQ(api("DELETE", path2, NULL, NULL), 409);
    CHECK_STR(last_code, "DeleteConflictException");
    CHECK(strstr(last_msg, "Certificate policies must be detached") != NULL);
    CHECK_EQ(api("DELETE", path2, "forceDelete=yes", NULL), 400);
    CHECK_EQ(api("DELETE", path2, "forceDelete=true", NULL), 200);
    CHECK(last_policies_changed);
    CHECK_EQ(last_n_certs, 1);
    CHECK_EQ(roost_registry_cert_status(reg, id2), ROOST_CERT_UNKNOWN);
    CHECK_EQ(api("GET", path2, NULL, NULL), 404);
    CHECK_EQ(api("DELETE", path2, NULL, NULL), 404);
    /* The policy link went with it. */
    REQUIRE_EQ(api("POST", "/policy-targets/p1", NULL, NULL), 200);
    CHECK_EQ(json_array_size(json_object_get(last_result, "targets")), 0);

    /* An inactive certificate with nothing attached goes. */
    char id3[65], path3[200];
    new_cert(false, id3);
    path_for(path3, sizeof(path3), "/certificates/", id3);
    CHECK_EQ(api("DELETE", path3, NULL, NULL), 200);
    char *gone = get_doc("cert", id3);
    CHECK(gone == NULL);
    roost_free(gone);
    env_close();
}

/* ==== ListCertificates ===================================================== */

/* Walks every page with pageSize and checks order; returns how many. */
static size_t walk_pages(const char *path, const char *extra, size_t page, char ids[][65],
                         size_t cap)
{
    char q[2048];
    char marker[1100] = "";
    size_t n = 0, pages = 0;
    for (;;) {
        snprintf(q, sizeof(q), "pageSize=%zu%s%s%s%s", page, marker[0] ? "&marker=" : "", marker,
                 extra ? "&" : "", extra ? extra : "");
        if (api("GET", path, q, NULL) != 200)
            return (size_t)-1;
        const json_t *list = json_object_get(last_result, "certificates");
        CHECK(json_array_size(list) <= page);
        size_t i;
        const json_t *it;
        json_array_foreach(list, i, it) {
            if (n < cap)
                snprintf(ids[n], 65, "%s",
                         json_string_value(json_object_get(it, "certificateId")));
            n++;
            CHECK(json_is_string(json_object_get(it, "certificateArn")));
            CHECK(json_is_string(json_object_get(it, "status")));
            CHECK(json_is_number(json_object_get(it, "creationDate")));
            CHECK(json_object_get(it, "certificatePem") == NULL);
        }
        const json_t *next = json_object_get(last_result, "nextMarker");
        pages++;
        if (!next)
            break;
        REQUIRE(json_is_string(next) && json_string_length(next) > 0);
        snprintf(marker, sizeof(marker), "%s", json_string_value(next));
        REQUIRE(pages < 100);
    }
    return n;
}

ROOST_TEST(list_certificates_pages)
{
    env_open();
    char made[5][65];
    for (int i = 0; i < 5; i++) {
        next_ms();
        new_cert(i % 2 == 0, made[i]);
    }
    REQUIRE_EQ(api("GET", "/certificates", NULL, NULL), 200);
    CHECK_EQ(json_array_size(json_object_get(last_result, "certificates")), 5);
    CHECK(json_object_get(last_result, "nextMarker") == NULL);
    /* Newest first by default. */
    CHECK_STR(json_string_value(json_object_get(
                  json_array_get(json_object_get(last_result, "certificates"), 0),
                  "certificateId")),
              made[4]);

    char got[10][65];
    CHECK_EQ(walk_pages("/certificates", NULL, 2, got, 10), 5);
    for (int i = 0; i < 5; i++)
        CHECK_STR(got[i], made[4 - i]);
    CHECK_EQ(walk_pages("/certificates", "isAscendingOrder=true", 2, got, 10), 5);
    for (int i = 0; i < 5; i++)
        CHECK_STR(got[i], made[i]);
    CHECK_EQ(walk_pages("/certificates", NULL, 5, got, 10), 5);
    CHECK_EQ(walk_pages("/certificates", NULL, 1, got, 10), 5);

    CHECK_EQ(api("GET", "/certificates", "pageSize=0", NULL), 400);
    CHECK_EQ(api("GET", "/certificates", "pageSize=251", NULL), 400);
    CHECK_EQ(api("GET", "/certificates", "pageSize=x", NULL), 400);
    CHECK_EQ(api("GET", "/certificates", "marker=zz", NULL), 400);
    CHECK_EQ(api("GET", "/certificates", "marker=616263", NULL), 400); /* "abc": no slash */
    CHECK_EQ(api("GET", "/certificates", "isAscendingOrder=up", NULL), 400);
    env_close();
}

/* ==== Registration code, CA certificates, RegisterCertificate ============== */

ROOST_TEST(registration_code_is_stable)
{
    env_open();
    REQUIRE_EQ(api("GET", "/registrationcode", NULL, NULL), 200);
    char code[65];
    snprintf(code, sizeof(code), "%s", rs("registrationCode"));
    CHECK_EQ(strlen(code), 64);
    for (int i = 0; i < 64; i++)
        CHECK((code[i] >= '0' && code[i] <= '9') || (code[i] >= 'a' && code[i] <= 'f'));
    REQUIRE_EQ(api("GET", "/registrationcode", NULL, NULL), 200);
    CHECK_STR(rs("registrationCode"), code);
    env_close();
}

/* Makes, in dir, CA key+cert `name`.{key,pem} with subject CN=<cn>. */
static int make_ca(const char *name, const char *cn)
{
    return sh("openssl ecparam -name prime256v1 -genkey -noout -out %s.key && "
              "openssl req -x509 -new -key %s.key -subj '/CN=%s/O=Test' -days 30 -out %s.pem "
              "-addext basicConstraints=critical,CA:TRUE "
              "-addext keyUsage=critical,keyCertSign,cRLSign",
              name, name, cn, name);
}

/* Makes leaf `name`.{key,pem} with CN=<cn>, signed by CA `ca_name`. */
static int make_leaf(const char *name, const char *cn, const char *ca_name)
{
    return sh("openssl ecparam -name prime256v1 -genkey -noout -out %s.key && "
              "openssl req -new -key %s.key -subj '/CN=%s' -out %s.csr && "
              "printf 'basicConstraints=CA:FALSE\\n' > %s.ext && "
              "openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -CAcreateserial -days 10 "
              "-extfile %s.ext -out %s.pem",
              name, name, cn, name, name, name, ca_name, ca_name, name, name);
}

static char *json_body2(const char *k1, const char *v1, const char *k2, const char *v2)
{
    json_t *o = json_object();
    if (k1 && v1)
        json_object_set_new(o, k1, json_string(v1));
    if (k2 && v2)
        json_object_set_new(o, k2, json_string(v2));
    char *s = json_dumps(o, 0);
    json_decref(o);
    return s;
}

ROOST_TEST(register_ca_certificate_and_devices)
{
    env_open();
    REQUIRE_EQ(api("GET", "/registrationcode", NULL, NULL), 200);
    char code[65];
    snprintf(code, sizeof(code), "%s", rs("registrationCode"));
    REQUIRE_OK(make_ca("ca", "Fleet CA"));
    REQUIRE_OK(make_leaf("ver", code, "ca"));
    REQUIRE_OK(make_leaf("badcn", "not-the-code", "ca"));
    REQUIRE_OK(make_ca("other", "Fleet CA")); /* same subject, other key */
    REQUIRE_OK(make_leaf("forged", code, "other"));
    REQUIRE_OK(make_leaf("dev", "device-1", "ca"));
    REQUIRE_OK(make_leaf("stranger", "device-2", "other"));
    char *ca_pem = file_in_dir("ca.pem"), *ver = file_in_dir("ver.pem");
    char *badcn = file_in_dir("badcn.pem"), *forged = file_in_dir("forged.pem");
    char *dev = file_in_dir("dev.pem"), *stranger = file_in_dir("stranger.pem");
    char *other_pem = file_in_dir("other.pem");
    REQUIRE(ca_pem && ver && badcn && forged && dev && stranger && other_pem);
    char ca_id[65];
    REQUIRE_OK(roost_pki_cert_id_from_pem(ca_pem, strlen(ca_pem), ca_id));

    /* DEFAULT mode needs the verification certificate. */
    char *b = json_body2("caCertificate", ca_pem, NULL, NULL);
    CHECK_EQ(api("POST", "/cacertificate", NULL, b), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    free(b);
    CHECK_EQ(api("POST", "/cacertificate", NULL, "{}"), 400);
    b = json_body2("caCertificate", ca_pem, "verificationCertificate", badcn);
    CHECK_EQ(api("POST", "/cacertificate", NULL, b), 400);
    CHECK_STR(last_code, "RegistrationCodeValidationException");
    free(b);
    b = json_body2("caCertificate", ca_pem, "verificationCertificate", forged);
    CHECK_EQ(api("POST", "/cacertificate", NULL, b), 400);
    CHECK_STR(last_code, "CertificateValidationException");
    free(b);
    b = json_body2("caCertificate", dev, "verificationCertificate", ver);
    CHECK_EQ(api("POST", "/cacertificate", NULL, b), 400); /* not a CA */
    CHECK_STR(last_code, "CertificateValidationException");
    free(b);
    b = json_body2("caCertificate", "garbage", "verificationCertificate", ver);
    CHECK_EQ(api("POST", "/cacertificate", NULL, b), 400);
    CHECK_STR(last_code, "CertificateValidationException");
    free(b);
    b = json_body2("caCertificate", ca_pem, "certificateMode", "WEIRD");
    CHECK_EQ(api("POST", "/cacertificate", NULL, b), 400);
    free(b);

    /* Registered, with a JITP configuration. */
    json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s}}", "caCertificate", ca_pem,
                          "verificationCertificate", ver, "registrationConfig", "templateBody",
                          "{\"Resources\":{}}", "roleArn",
                          "arn:aws:iam::123456789012:role/JITPRole");
    char *reg_body = json_dumps(o, 0);
    json_decref(o);
    uint64_t gen_before = roost_registry_trusted_cas(reg, NULL);
    REQUIRE_EQ(api("POST", "/cacertificate", "setAsActive=true&allowAutoRegistration=true",
                   reg_body),
               200);
    CHECK_STR(rs("certificateId"), ca_id);
    char ca_arn[200];
    snprintf(ca_arn, sizeof(ca_arn), "arn:aws:iot:us-east-1:123456789012:cacert/%s", ca_id);
    CHECK_STR(rs("certificateArn"), ca_arn);
    CHECK(last_cas_changed);
    char *trusted = NULL;
    CHECK(roost_registry_trusted_cas(reg, &trusted) != gen_before);
    /* The PEM is stored canonically; compare the first base64 line. */
    CHECK(trusted && strstr(trusted, ca_pem + 28) != NULL);
    roost_free(trusted);
    CHECK_EQ(api("POST", "/cacertificate", "setAsActive=true", reg_body), 409);
    CHECK_STR(last_code, "ResourceAlreadyExistsException");
    CHECK_STR(json_string_value(json_object_get(last_extra, "resourceId")), ca_id);
    CHECK_STR(json_string_value(json_object_get(last_extra, "resourceArn")), ca_arn);
    free(reg_body);

    char path[200];
    path_for(path, sizeof(path), "/cacertificate/", ca_id);
    REQUIRE_EQ(api("GET", path, NULL, NULL), 200);
    CHECK_STR(json_string_value(rget("certificateDescription.status")), "ACTIVE");
    CHECK_STR(json_string_value(rget("certificateDescription.autoRegistrationStatus")), "ENABLE");
    CHECK_STR(json_string_value(rget("certificateDescription.certificateMode")), "DEFAULT");
    CHECK_STR(json_string_value(rget("certificateDescription.ownedBy")), "123456789012");
    CHECK(json_is_integer(rget("certificateDescription.customerVersion")));
    CHECK(json_is_number(rget("certificateDescription.creationDate")));
    CHECK(json_is_number(rget("certificateDescription.validity.notAfter")));
    CHECK_STR(json_string_value(rget("registrationConfig.roleArn")),
              "arn:aws:iam::123456789012:role/JITPRole");
    CHECK(json_object_get(rget("certificateDescription"), "registrationConfig") == NULL);

    /* Device certificates: found by issuer, or named by caCertificatePem. */
    b = json_body2("certificatePem", dev, "status", "ACTIVE");
    REQUIRE_EQ(api("POST", "/certificate/register", NULL, b), 200);
    char dev_id[65];
    snprintf(dev_id, sizeof(dev_id), "%s", rs("certificateId"));
    CHECK_EQ(roost_registry_cert_status(reg, dev_id), ROOST_CERT_ACTIVE);
    CHECK_EQ(api("POST", "/certificate/register", NULL, b), 409);
    CHECK_STR(last_code, "ResourceAlreadyExistsException");
    CHECK_STR(json_string_value(json_object_get(last_extra, "resourceId")), dev_id);
    free(b);
    char dpath[200];
    path_for(dpath, sizeof(dpath), "/certificates/", dev_id);
    REQUIRE_EQ(api("GET", dpath, NULL, NULL), 200);
    CHECK_STR(json_string_value(rget("certificateDescription.caCertificateId")), ca_id);
    CHECK_STR(json_string_value(rget("certificateDescription.certificateMode")), "DEFAULT");

    /* Signed by a CA that is not registered (same subject, other key). */
    b = json_body2("certificatePem", stranger, NULL, NULL);
    CHECK_EQ(api("POST", "/certificate/register", NULL, b), 400);
    CHECK_STR(last_code, "CertificateValidationException");
    free(b);
    b = json_body2("certificatePem", stranger, "caCertificatePem", other_pem);
    CHECK_EQ(api("POST", "/certificate/register", NULL, b), 400);
    CHECK_STR(last_code, "CertificateValidationException");
    free(b);
    b = json_body2("certificatePem", stranger, "caCertificatePem", ca_pem);
    CHECK_EQ(api("POST", "/certificate/register", NULL, b), 400); /* wrong signer */
    CHECK_STR(last_code, "CertificateValidationException");
    free(b);
    b = json_body2("certificatePem", "junk", NULL, NULL);
    CHECK_EQ(api("POST", "/certificate/register", NULL, b), 400);
    CHECK_STR(last_code, "CertificateValidationException");
    free(b);
    CHECK_EQ(api("POST", "/certificate/register", NULL, "{}"), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    b = json_body2("certificatePem", dev, "status", "SLEEPY");
    CHECK_EQ(api("POST", "/certificate/register", NULL, b), 400);
    free(b);

    /* A second device, with the CA named explicitly, set active by the
     * deprecated query flag. */
    REQUIRE_OK(make_leaf("dev2", "device-3", "ca"));
    next_ms();
    char *dev2 = file_in_dir("dev2.pem");
    b = json_body2("certificatePem", dev2, "caCertificatePem", ca_pem);
    REQUIRE_EQ(api("POST", "/certificate/register", "setAsActive=true", b), 200);
    char dev2_id[65];
    snprintf(dev2_id, sizeof(dev2_id), "%s", rs("certificateId"));
    CHECK_EQ(roost_registry_cert_status(reg, dev2_id), ROOST_CERT_ACTIVE);
    free(b);

    /* ListCertificatesByCA. */
    char lpath[200];
    path_for(lpath, sizeof(lpath), "/certificates-by-ca/", ca_id);
    REQUIRE_EQ(api("GET", lpath, "isAscendingOrder=true", NULL), 200);
    const json_t *list = json_object_get(last_result, "certificates");
    REQUIRE_EQ(json_array_size(list), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "certificateId")), dev_id);
    REQUIRE_EQ(api("GET", lpath, "pageSize=1", NULL), 200);
    CHECK_EQ(json_array_size(json_object_get(last_result, "certificates")), 1);
    CHECK(json_is_string(json_object_get(last_result, "nextMarker")));
    path_for(lpath, sizeof(lpath), "/certificates-by-ca/",
             "2222222222222222222222222222222222222222222222222222222222222222");
    REQUIRE_EQ(api("GET", lpath, NULL, NULL), 200);
    CHECK_EQ(json_array_size(json_object_get(last_result, "certificates")), 0);
    CHECK_EQ(api("GET", "/certificates-by-ca/nothex", NULL, NULL), 400);

    /* ListCACertificates, by template name too. */
    REQUIRE_EQ(api("GET", "/cacertificates", NULL, NULL), 200);
    list = json_object_get(last_result, "certificates");
    REQUIRE_EQ(json_array_size(list), 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "status")), "ACTIVE");
    CHECK(json_object_get(json_array_get(list, 0), "certificatePem") == NULL);
    REQUIRE_EQ(api("GET", "/cacertificates", "templateName=none", NULL), 200);
    CHECK_EQ(json_array_size(json_object_get(last_result, "certificates")), 0);
    CHECK_EQ(api("GET", "/cacertificates", "templateName=bad!name", NULL), 400);

    /* UpdateCACertificate. */
    CHECK_EQ(api("PUT", path, "newStatus=MAYBE", NULL), 400);
    CHECK_EQ(api("PUT", path, "newAutoRegistrationStatus=SOMETIMES", NULL), 400);
    CHECK_EQ(api("PUT", path, NULL,
                 "{\"removeAutoRegistration\":true,\"registrationConfig\":{\"templateName\":\"t\"}}"),
             400);
    CHECK_EQ(api("PUT", path, NULL, "{\"registrationConfig\":{\"templateName\":\"bad name\"}}"),
             400);
    CHECK_EQ(api("PUT", path, NULL, "{\"registrationConfig\":{\"roleArn\":\"short\"}}"), 400);
    /* templateName must name an existing JITP template (ops_templates.c). */
    CHECK_EQ(api("PUT", path, NULL, "{\"registrationConfig\":{\"templateName\":\"jitp-1\"}}"),
             404);
    REQUIRE_EQ(api("POST", "/provisioning-templates", NULL,
                   "{\"templateName\":\"jitp-1\",\"type\":\"JITP\","
                   "\"templateBody\":\"{\\\"Resources\\\":{}}\","
                   "\"provisioningRoleArn\":\"arn:aws:iam::123456789012:role/JITPRole\"}"),
               200);
    CHECK_EQ(api("PUT", path, NULL, "{\"registrationConfig\":{\"templateName\":\"jitp-1\"}}"),
             200);
    CHECK(last_cas_changed);
    REQUIRE_EQ(api("GET", "/cacertificates", "templateName=jitp-1", NULL), 200);
    CHECK_EQ(json_array_size(json_object_get(last_result, "certificates")), 1);
    CHECK_EQ(api("PUT", path, "newAutoRegistrationStatus=DISABLE", "{\"removeAutoRegistration\":true}"),
             200);
    REQUIRE_EQ(api("GET", path, NULL, NULL), 200);
    CHECK(json_object_get(last_result, "registrationConfig") == NULL);
    CHECK_STR(json_string_value(rget("certificateDescription.autoRegistrationStatus")),
              "DISABLE");
    CHECK_EQ(json_integer_value(rget("certificateDescription.customerVersion")), 3);

    /* Registration under an inactive CA is refused. */
    CHECK_EQ(api("DELETE", path, NULL, NULL), 406);
    CHECK_STR(last_code, "CertificateStateException");
    CHECK_EQ(api("PUT", path, "newStatus=INACTIVE", NULL), 200);
    trusted = NULL;
    roost_registry_trusted_cas(reg, &trusted);
    CHECK(trusted && strstr(trusted, ca_pem + 28) == NULL);
    roost_free(trusted);
    REQUIRE_OK(make_leaf("dev3", "device-4", "ca"));
    char *dev3 = file_in_dir("dev3.pem");
    b = json_body2("certificatePem", dev3, NULL, NULL);
    CHECK_EQ(api("POST", "/certificate/register", NULL, b), 406);
    CHECK_STR(last_code, "CertificateStateException");
    free(b);

    /* DeleteCACertificate once inactive; its devices stay. */
    CHECK_EQ(api("DELETE", path, NULL, NULL), 200);
    CHECK(last_cas_changed);
    CHECK_EQ(api("GET", path, NULL, NULL), 404);
    CHECK_EQ(api("DELETE", path, NULL, NULL), 404);
    CHECK_EQ(api("PUT", path, "newStatus=ACTIVE", NULL), 404);
    CHECK_EQ(api("GET", dpath, NULL, NULL), 200);

    roost_free(dev3);
    roost_free(dev2);
    roost_free(ca_pem);
    roost_free(ver);
    roost_free(badcn);
    roost_free(forged);
    roost_free(dev);
    roost_free(stranger);
    roost_free(other_pem);
    env_close();
}

ROOST_TEST(register_ca_sni_only_and_limits)
{
    env_open();
    REQUIRE_OK(make_ca("ca", "SNI CA"));
    REQUIRE_OK(make_leaf("dev", "sni-device", "ca"));
    char *ca_pem = file_in_dir("ca.pem"), *dev = file_in_dir("dev.pem");
    REQUIRE(ca_pem && dev);
    /* SNI_ONLY refuses a verification certificate, needs none. */
    json_t *o = json_pack("{s:s,s:s,s:s}", "caCertificate", ca_pem, "certificateMode", "SNI_ONLY",
                          "verificationCertificate", dev);
    char *b = json_dumps(o, 0);
    json_decref(o);
    CHECK_EQ(api("POST", "/cacertificate", NULL, b), 400);
    free(b);
    /* Without a registration code the DEFAULT mode cannot verify. */
    b = json_body2("caCertificate", ca_pem, "verificationCertificate", dev);
    CHECK_EQ(api("POST", "/cacertificate", NULL, b), 400);
    CHECK_STR(last_code, "RegistrationCodeValidationException");
    free(b);
    b = json_body2("caCertificate", ca_pem, "certificateMode", "SNI_ONLY");
    REQUIRE_EQ(api("POST", "/cacertificate", NULL, b), 200); /* INACTIVE by default */
    free(b);
    char ca_id[65], path[200];
    snprintf(ca_id, sizeof(ca_id), "%s", rs("certificateId"));
    path_for(path, sizeof(path), "/cacertificate/", ca_id);
    REQUIRE_EQ(api("GET", path, NULL, NULL), 200);
    CHECK_STR(json_string_value(rget("certificateDescription.status")), "INACTIVE");
    CHECK_STR(json_string_value(rget("certificateDescription.certificateMode")), "SNI_ONLY");
    CHECK_STR(json_string_value(rget("certificateDescription.autoRegistrationStatus")), "DISABLE");
    CHECK_EQ(api("PUT", path, "newStatus=ACTIVE", NULL), 200);
    /* Devices inherit the CA's mode. */
    b = json_body2("certificatePem", dev, NULL, NULL);
    REQUIRE_EQ(api("POST", "/certificate/register", NULL, b), 200);
    free(b);
    char dpath[200];
    path_for(dpath, sizeof(dpath), "/certificates/", rs("certificateId"));
    REQUIRE_EQ(api("GET", dpath, NULL, NULL), 200);
    CHECK_STR(json_string_value(rget("certificateDescription.certificateMode")), "SNI_ONLY");
    CHECK_STR(json_string_value(rget("certificateDescription.status")), "INACTIVE");

    /* Ten CAs may share a subject; the eleventh is refused. */
    for (int i = 1; i <= 10; i++) {
        char name[32];
        snprintf(name, sizeof(name), "ca%d", i);
        REQUIRE_OK(make_ca(name, "SNI CA"));
        snprintf(name, sizeof(name), "ca%d.pem", i);
        char *pem = file_in_dir(name);
        b = json_body2("caCertificate", pem, "certificateMode", "SNI_ONLY");
        int want = i < 10 ? 200 : 410;
        CHECK_EQ(api("POST", "/cacertificate", NULL, b), want);
        if (want == 410)
            CHECK_STR(last_code, "LimitExceededException");
        free(b);
        roost_free(pem);
    }
    REQUIRE_EQ(api("GET", "/cacertificates", "pageSize=4", NULL), 200);
    CHECK_EQ(json_array_size(json_object_get(last_result, "certificates")), 4);
    CHECK(json_object_get(last_result, "nextMarker") != NULL);
    roost_free(ca_pem);
    roost_free(dev);
    env_close();
}

ROOST_TEST(register_certificate_without_ca)
{
    env_open();
    REQUIRE_OK(make_ca("ca", "Unregistered CA"));
    REQUIRE_OK(make_leaf("dev", "free-device", "ca"));
    char *dev = file_in_dir("dev.pem");
    char *b = json_body2("certificatePem", dev, "status", "ACTIVE");
    REQUIRE_EQ(api("POST", "/certificate/register-no-ca", NULL, b), 200);
    char id[65], path[200];
    snprintf(id, sizeof(id), "%s", rs("certificateId"));
    CHECK_EQ(roost_registry_cert_status(reg, id), ROOST_CERT_ACTIVE);
    path_for(path, sizeof(path), "/certificates/", id);
    REQUIRE_EQ(api("GET", path, NULL, NULL), 200);
    CHECK_STR(json_string_value(rget("certificateDescription.certificateMode")), "SNI_ONLY");
    CHECK(rget("certificateDescription.caCertificateId") == NULL);
    CHECK_EQ(api("POST", "/certificate/register-no-ca", NULL, b), 409);
    CHECK_STR(last_code, "ResourceAlreadyExistsException");
    free(b);
    b = json_body2("certificatePem", dev, "status", "PENDING_TRANSFER");
    CHECK_EQ(api("POST", "/certificate/register-no-ca", NULL, b), 400);
    free(b);
    CHECK_EQ(api("POST", "/certificate/register-no-ca", NULL, "{\"certificatePem\":\"x\"}"), 400);
    CHECK_STR(last_code, "CertificateValidationException");
    CHECK_EQ(api("POST", "/certificate/register-no-ca", NULL, "{\"certificatePem\":[]}"), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK_EQ(api("POST", "/certificate/register-no-ca", NULL, NULL), 400);
    /* Default status is INACTIVE. */
    REQUIRE_OK(make_leaf("dev2", "free-device-2", "ca"));
    char *dev2 = file_in_dir("dev2.pem");
    b = json_body2("certificatePem", dev2, NULL, NULL);
    REQUIRE_EQ(api("POST", "/certificate/register-no-ca", NULL, b), 200);
    CHECK_EQ(roost_registry_cert_status(reg, rs("certificateId")), ROOST_CERT_INACTIVE);
    free(b);
    roost_free(dev2);
    roost_free(dev);
    env_close();
}

ROOST_TEST(register_roost_issued_certificate_again)
{
    env_open();
    /* A certificate Roost issued, deleted, then registered back (with the
     * CA appended, as a bundle): Roost's own CA counts as registered. */
    REQUIRE_EQ(api("POST", "/keys-and-certificate", NULL, NULL), 200);
    char id[65], path[200];
    snprintf(id, sizeof(id), "%s", rs("certificateId"));
    char *pem = roost_xstrdup(rs("certificatePem"));
    path_for(path, sizeof(path), "/certificates/", id);
    REQUIRE_EQ(api("DELETE", path, NULL, NULL), 200);
    size_t n = strlen(pem) + strlen(roost_pki_ca_pem(ca)) + 1;
    char *bundle = roost_xmalloc(n);
    snprintf(bundle, n, "%s%s", pem, roost_pki_ca_pem(ca));
    char *b = json_body2("certificatePem", bundle, NULL, NULL);
    REQUIRE_EQ(api("POST", "/certificate/register", NULL, b), 200);
    CHECK_STR(rs("certificateId"), id);
    free(b);
    b = json_body2("certificatePem", pem, NULL, NULL);
    CHECK_EQ(api("POST", "/certificate/register", NULL, b), 409);
    REQUIRE_EQ(api("DELETE", path, NULL, NULL), 200);
    REQUIRE_EQ(api("POST", "/certificate/register", NULL, b), 200); /* found by issuer */
    REQUIRE_EQ(api("GET", path, NULL, NULL), 200);
    CHECK(rget("certificateDescription.caCertificateId") == NULL);
    free(b);
    roost_free(bundle);
    roost_free(pem);
    env_close();
}

/* ==== DescribeEndpoint ===================================================== */

ROOST_TEST(describe_endpoint)
{
    env_open();
    REQUIRE_EQ(api("GET", "/endpoint", NULL, NULL), 200);
    CHECK_STR(rs("endpointAddress"), "iot.example.test");
    const char *types[] = {"iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs"};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(types); i++) {
        char q[64];
        snprintf(q, sizeof(q), "endpointType=%s", types[i]);
        CHECK_EQ(api("GET", "/endpoint", q, NULL), 200);
        CHECK_STR(rs("endpointAddress"), "iot.example.test");
    }
    CHECK_EQ(api("GET", "/endpoint", "endpointType=iot:Other", NULL), 400);
    CHECK_STR(last_code, "InvalidRequestException");
    CHECK_EQ(api("GET", "/endpoint", "endpointType=", NULL), 400);
    env_close();
}

/* The marker helpers round-trip any name and refuse junk. */
ROOST_TEST(marker_round_trip)
{
    struct roost_api_call call = {0};
    char *m = registry__marker_for("a.b=c,d@e-f+g_h");
    for (const char *p = m; *p; p++)
        CHECK((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
    call.query = json_pack("{s:s,s:s}", "marker", m, "pageSize", "7");
    size_t page = 0;
    char *after = NULL;
    CHECK_OK(registry__marker_params(&call, &page, &after));
    CHECK_EQ(page, 7);
    CHECK_STR(after, "a.b=c,d@e-f+g_h");
    roost_free(after);
    roost_free(m);
    json_object_set_new(call.query, "marker", json_string("0a0"));
    CHECK(registry__marker_params(&call, &page, &after) != 0);
    CHECK_EQ(call.status, 400);
    json_object_set_new(call.query, "marker", json_string("0000"));
    CHECK(registry__marker_params(&call, &page, &after) != 0);
    json_decref(call.query);
    roost_api_call_cleanup(&call);
}
