/*
 * fuzz_template_parse.c - libFuzzer target for the provisioning template
 * engine (src/template/template*.c). The input is a template body, then
 * optionally a NUL byte and the request's parameters as JSON. The body is
 * parsed as each template type and, when it parses, applied. Beyond "never
 * crash, never leak", it checks the contract of template.h:
 *  - a failure leaves the out pointer NULL and says why in `err`;
 *  - a plan holds what it promises: names that obey AWS's rules, a
 *    certificate value, policies with a name and a document that is a JSON
 *    object (or none), a flat DeviceConfiguration of strings;
 *  - evaluation is deterministic: applying twice gives the same plan.
 */
#include "template/template.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_template_parse: %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static bool name_ok(const char *s, const char *extra, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char ch = s[n];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || strchr(extra, ch);
        if (!ok)
            return false;
    }
    return n >= 1 && n <= max;
}

static bool strings_only(const json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) if (!json_is_string(v)) return false;
    return true;
}

/* The plan as one JSON text, to compare two evaluations. */
static char *plan_text(const struct roost_template_plan *p)
{
    json_t *o = json_object();
    if (p->thing) {
        const struct roost_template_thing *t = p->thing;
        json_object_set_new(o, "thing",
                            json_pack("{s:s, s:s?, s:s?, s:O?, s:O?, s:i, s:i, s:i}", "name",
                                      t->name, "type", t->type_name, "billing", t->billing_group,
                                      "attrs", t->attributes, "groups", t->groups, "ao",
                                      (int)t->attributes_override, "to", (int)t->type_override,
                                      "go", (int)t->groups_override));
    }
    if (p->cert)
        json_object_set_new(o, "cert",
                            json_pack("{s:i, s:s, s:s?, s:b, s:i}", "source", (int)p->cert->source,
                                      "value", p->cert->value, "ca", p->cert->ca_pem, "active",
                                      p->cert->active, "so", (int)p->cert->status_override));
    json_t *pols = json_array();
    for (size_t i = 0; i < p->n_policies; i++)
        json_array_append_new(pols, json_pack("{s:s, s:s?}", "name", p->policies[i].name, "doc",
                                              p->policies[i].document));
    json_object_set_new(o, "policies", pols);
    json_object_set(o, "dc", p->device_configuration);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    FUZZ_ASSERT(s);
    return s;
}

static void check_plan(const struct roost_template_plan *p)
{
    if (p->thing) {
        const struct roost_template_thing *t = p->thing;
        FUZZ_ASSERT(t->logical_name && t->name && name_ok(t->name, ":_-", 128));
        FUZZ_ASSERT(!t->type_name || name_ok(t->type_name, ":_-", 128));
        FUZZ_ASSERT(!t->billing_group || name_ok(t->billing_group, ":_-", 128));
        FUZZ_ASSERT(!t->attributes ||
                    (json_is_object(t->attributes) && strings_only(t->attributes)));
        if (t->groups) {
            FUZZ_ASSERT(json_is_array(t->groups));
            for (size_t i = 0; i < json_array_size(t->groups); i++)
                FUZZ_ASSERT(name_ok(json_string_value(json_array_get(t->groups, i)), ":_-", 128));
        }
        FUZZ_ASSERT(t->type_override != ROOST_OVERRIDE_MERGE);
    }
    if (p->cert) {
        FUZZ_ASSERT(p->cert->logical_name && p->cert->value);
        FUZZ_ASSERT(p->cert->source >= ROOST_TEMPLATE_CERT_ID &&
                    p->cert->source <= ROOST_TEMPLATE_CERT_PEM);
        FUZZ_ASSERT(!p->cert->ca_pem || p->cert->source == ROOST_TEMPLATE_CERT_PEM);
        FUZZ_ASSERT(p->cert->status_override != ROOST_OVERRIDE_MERGE);
    }
    FUZZ_ASSERT(p->n_policies <= ROOST_TEMPLATE_MAX_POLICIES);
    for (size_t i = 0; i < p->n_policies; i++) {
        const struct roost_template_policy *pol = &p->policies[i];
        FUZZ_ASSERT(pol->logical_name && pol->name && name_ok(pol->name, "_+=,.@-", 128));
        FUZZ_ASSERT(!pol->name_generated || (pol->document && strlen(pol->name) == 64));
        if (pol->document) {
            json_t *doc = json_loads(pol->document, 0, NULL);
            FUZZ_ASSERT(json_is_object(doc));
            json_decref(doc);
        }
    }
    FUZZ_ASSERT(json_is_object(p->device_configuration) && strings_only(p->device_configuration));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t body_len = nul ? (size_t)(nul - data) : size;
    json_t *params = nul ? json_loadb((const char *)nul + 1, size - body_len - 1, 0, NULL) : NULL;
    for (int type = ROOST_TEMPLATE_REGISTER; type <= ROOST_TEMPLATE_JITP; type++) {
        char err[512];
        struct roost_template *t = NULL;
        err[0] = 'x';
        int rc = roost_template_parse((const char *)data, body_len, (enum roost_template_type)type,
                                      &t, err, sizeof(err));
        if (rc) {
            FUZZ_ASSERT(rc < 0 && t == NULL && err[0] != '\0' && memchr(err, 0, sizeof(err)));
            continue;
        }
        FUZZ_ASSERT(t && roost_template_get_type(t) == (enum roost_template_type)type);
        struct roost_template_plan *p1 = NULL, *p2 = NULL;
        int rc1 = roost_template_apply(t, params, &p1, err, sizeof(err));
        if (rc1) {
            FUZZ_ASSERT(rc1 < 0 && p1 == NULL && err[0] != '\0');
        } else {
            FUZZ_ASSERT(p1);
            check_plan(p1);
        }
        int rc2 = roost_template_apply(t, params, &p2, err, sizeof(err));
        FUZZ_ASSERT(rc1 == rc2);
        if (rc1 == 0) {
            char *s1 = plan_text(p1), *s2 = plan_text(p2);
            FUZZ_ASSERT(strcmp(s1, s2) == 0);
            json_free_t jfree = NULL;
            json_get_alloc_funcs(NULL, &jfree);
            jfree(s1);
            jfree(s2);
        }
        roost_template_plan_free(p1);
        roost_template_plan_free(p2);
        roost_template_destroy(t);
    }
    json_decref(params);
    return 0;
}
