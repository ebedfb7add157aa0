/*
 * ops_things.c - AWS IoT's thing registry as operations over the store:
 * things, thing types, thing groups, billing groups and the attachment of
 * principals (certificates) to things. Each function is one entry of the
 * operation table and runs inside one store transaction (registry_int.h).
 *
 * Storage (docs/internals/REGISTRY.md): one document per resource, kinds
 * "thing", "thingtype", "thinggroup", "billinggroup", whose body is what the
 * Describe operation returns minus computed members; the store's document
 * version is the AWS `version`. Relations are links: "principal"
 * thing -> cert, "exclusive" thing -> cert (the attachment was
 * EXCLUSIVE_THING), "type" thing -> thingtype, "member" thing -> thinggroup,
 * "billing" thing -> billinggroup, "parent" thinggroup -> thinggroup.
 *
 * List operations page by name: the nextToken is the last name (or
 * certificate id) of the page and is left out of the last page.
 */
#include "registry/registry_int.h"

#include <stdio.h>
#include <stdlib.h>

#define ATTR_NAME_MAX 128
#define ATTR_VALUE_MAX 800
#define ATTRS_UNTYPED_MAX 3        /* a thing without a thing type */
#define ATTRS_TYPED_MAX 50         /* a thing with one */
#define SEARCHABLE_ATTRS_MAX 3
#define DESCRIPTION_MAX 2028
#define GROUPS_PER_THING_MAX 10
#define GROUP_DEPTH_MAX 7          /* a hierarchy at most 7 groups deep */
#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 256
#define PAGE_STOP 1                /* list callback: the page is full */

#define CERT_ID_LEN 64

/* ==== Small helpers ======================================================== */

static void make_arn(const struct roost_registry *reg, const char *type, const char *name,
                     char out[REGISTRY_ARN_MAX])
{
    /* Names are at most 128 characters, so only an absurd configuration
     * could overflow; the ARN is then cut, never unterminated. */
    roost_registry_arn(reg, type, name, out, REGISTRY_ARN_MAX);
}

static json_t *arn_json(const struct roost_registry *reg, const char *type, const char *name)
{
    char arn[REGISTRY_ARN_MAX];
    make_arn(reg, type, name, arn);
    return json_string(arn);
}

static bool attr_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > ATTR_NAME_MAX)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,@/:#-") == n;
}

static bool attr_value_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > ATTR_VALUE_MAX)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,@/:#=[]-") ==
           n;
}

/* [\p{Graph}\x20]*: no control characters. */
static int check_description(struct roost_api_call *call, const char *member, const char *s)
{
    size_t n = strlen(s);
    if (n > DESCRIPTION_MAX)
        return ROOST_API_INVALID(call,
                                 "1 validation error detected: Value at '%s' failed to satisfy "
                                 "constraint: Member must have length less than or equal to %d",
                                 member, DESCRIPTION_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return ROOST_API_INVALID(call,
                                     "1 validation error detected: Value at '%s' failed to "
                                     "satisfy constraint: Member must satisfy regular expression "
                                     "pattern: [\\p{Graph}\\x20]*",
                                     member);
    }
    return 0;
}

/* An attributes map: names and values by the AWS patterns, values strings. */
static int check_attributes(struct roost_api_call *call, const json_t *attrs)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)attrs, k, v) {
        if (!attr_name_ok(k))
            return ROOST_API_INVALID(call,
                                     "1 validation error detected: Value '%.128s' at "
                                     "'attributePayload.attributes' failed to satisfy constraint: "
                                     "Map keys must satisfy constraint: [Member must satisfy "
                                     "regular expression pattern: [a-zA-Z0-9_.,@/:#-]+]",
                                     k);
        if (!json_is_string(v))
            return ROOST_API_INVALID(call, "Invalid type for attribute %.128s: expected a string",
                                     k);
        if (!attr_value_ok(json_string_value(v)))
            return ROOST_API_INVALID(call,
                                     "1 validation error detected: Value at "
                                     "'attributePayload.attributes.%.128s' failed to satisfy "
                                     "constraint: Member must satisfy regular expression pattern: "
                                     "[a-zA-Z0-9_.,@/:#=\\[\\]-]*",
                                     k);
    }
    return 0;
}

/* attributePayload {attributes, merge}: *out_attrs is borrowed from `obj`
 * (NULL when absent), checked. */
static int parse_attribute_payload(struct roost_api_call *call, const json_t *obj,
                                   json_t **out_attrs, bool *out_merge)
{
    json_t *payload = NULL;
    *out_attrs = NULL;
    *out_merge = false;
    int rc = registry__member_object(call, obj, "attributePayload", &payload);
    if (!rc)
        rc = registry__member_object(call, payload, "attributes", out_attrs);
    if (!rc)
        rc = registry__member_bool(call, payload, "merge", false, out_merge);
    if (!rc && *out_attrs)
        rc = check_attributes(call, *out_attrs);
    return rc;
}

/* A copy of `attrs` without empty values (an empty value removes). */
static json_t *attrs_clean(const json_t *attrs)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)attrs, k, v)
        if (json_string_length(v) > 0)
            json_object_set(out, k, v);
    return out;
}

/* Applies an attributePayload to `cur` (owned; returned updated): merge
 * sets or (empty value) removes each given attribute; otherwise the map is
 * replaced. */
static json_t *attrs_apply(json_t *cur, const json_t *given, bool merge)
{
    if (!merge) {
        json_decref(cur);
        return attrs_clean(given);
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)given, k, v) {
        if (json_string_length(v) == 0)
            json_object_del(cur, k);
        else
            json_object_set(cur, k, v);
    }
    return cur;
}

static int check_attr_count(struct roost_api_call *call, const json_t *attrs, bool typed)
{
    size_t max = typed ? ATTRS_TYPED_MAX : ATTRS_UNTYPED_MAX;
    if (json_object_size(attrs) > max)
        return ROOST_API_INVALID(call,
                                 "A thing %s a thing type can have at most %zu attributes",
                                 typed ? "with" : "without", max);
    return 0;
}

/* tags: a list of {Key, Value}; returns a clean copy in *out (NULL if absent). */
static int parse_tags(struct roost_api_call *call, const json_t *body, json_t **out)
{
    json_t *tags = NULL;
    *out = NULL;
    int rc = registry__member_array(call, body, "tags", &tags);
    if (rc || !tags)
        return rc;
    json_t *copy = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        const char *key = NULL, *value = NULL;
        if (!json_is_object(t)) {
            rc = ROOST_API_INVALID(call, "Invalid type for tags: expected a list of {Key, Value}");
            break;
        }
        rc = registry__member_string(call, t, "Key", &key);
        if (!rc)
            rc = registry__member_string(call, t, "Value", &value);
        if (rc)
            break;
        if (!key || !*key || strlen(key) > TAG_KEY_MAX || (value && strlen(value) > TAG_VALUE_MAX)) {
            rc = ROOST_API_INVALID(call, "Invalid tag: a Key of 1 to %d characters and a Value of "
                                         "at most %d are required", TAG_KEY_MAX, TAG_VALUE_MAX);
            break;
        }
        json_t *tag = json_object();
        json_object_set_new(tag, "Key", json_string(key));
        if (value)
            json_object_set_new(tag, "Value", json_string(value));
        json_array_append_new(copy, tag);
    }
    if (rc)
        json_decref(copy);
    else
        *out = copy;
    return rc;
}

/* The expectedVersion query parameter: -1 when absent. */
static int query_expected_version(struct roost_api_call *call, int64_t *out)
{
    return registry__query_int(call, "expectedVersion", 0, INT64_MAX, -1, out);
}

static int store_del(struct roost_api_call *call, struct roost_store_txn *txn, const char *kind,
                     const char *name)
{
    int rc = roost_store_doc_del(txn, kind, name);
    if (rc == ROOST_ENOTFOUND)
        return 0;
    return rc ? registry__store_fail(call, rc, kind) : 0;
}

static int link_add(struct roost_api_call *call, struct roost_store_txn *txn, const char *rel,
                    const char *from_kind, const char *from_name, const char *to_kind,
                    const char *to_name)
{
    struct roost_store_link l = {rel, from_kind, from_name, to_kind, to_name};
    int rc = roost_store_link_add(txn, &l);
    return rc ? registry__store_fail(call, rc, rel) : 0;
}

/* Deletes a link; a missing one is fine. */
static int link_del(struct roost_api_call *call, struct roost_store_txn *txn, const char *rel,
                    const char *from_kind, const char *from_name, const char *to_kind,
                    const char *to_name)
{
    struct roost_store_link l = {rel, from_kind, from_name, to_kind, to_name};
    int rc = roost_store_link_del(txn, &l);
    if (rc == ROOST_ENOTFOUND)
        return 0;
    return rc ? registry__store_fail(call, rc, rel) : 0;
}

/* ---- first link of a relation ---- */

struct first_link {
    bool found;
    char name[REGISTRY_NAME_MAX + 1]; /* the other end's name */
    bool outgoing;
};

static int first_link_cb(void *ud, const struct roost_store_link *l)
{
    struct first_link *f = ud;
    f->found = true;
    snprintf(f->name, sizeof(f->name), "%s", f->outgoing ? l->to_name : l->from_name);
    return PAGE_STOP;
}

/* The first link `rel` from (kind, name) (outgoing) or to it: *out found or not. */
static int first_link(struct roost_api_call *call, struct roost_store_txn *txn, const char *rel,
                      bool outgoing, const char *kind, const char *name, const char *other_kind,
                      struct first_link *out)
{
    memset(out, 0, sizeof(*out));
    out->outgoing = outgoing;
    int rc = outgoing ? roost_store_link_list(txn, rel, kind, name, other_kind, NULL, NULL, 1,
                                              first_link_cb, out)
                      : roost_store_link_list(txn, rel, other_kind, NULL, kind, name, NULL, 1,
                                              first_link_cb, out);
    if (rc == PAGE_STOP)
        rc = 0;
    return rc ? registry__store_fail(call, rc, rel) : 0;
}

/* ---- name lists (group trees, memberships) ---- */

struct names {
    char **v;
    size_t n, cap;
};

static void names_add(struct names *ns, const char *s)
{
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 16;
        ns->v = roost_xrealloc(ns->v, ns->cap * sizeof(*ns->v));
    }
    ns->v[ns->n++] = roost_xstrdup(s);
}

static void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        roost_free(ns->v[i]);
    roost_free(ns->v);
    memset(ns, 0, sizeof(*ns));
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and removes duplicates. */
static void names_sort_unique(struct names *ns)
{
    if (ns->n == 0)
        return;
    qsort(ns->v, ns->n, sizeof(*ns->v), cmp_names);
    size_t o = 1;
    for (size_t i = 1; i < ns->n; i++) {
        if (strcmp(ns->v[i], ns->v[o - 1]) == 0)
            roost_free(ns->v[i]);
        else
            ns->v[o++] = ns->v[i];
    }
    ns->n = o;
}

static int collect_from_name(void *ud, const struct roost_store_link *l)
{
    names_add(ud, l->from_name);
    return 0;
}

static int collect_to_name(void *ud, const struct roost_store_link *l)
{
    names_add(ud, l->to_name);
    return 0;
}

/* Appends the names of every group below `group` (children first level
 * first), not `group` itself. */
static int group_descendants(struct roost_api_call *call, struct roost_store_txn *txn,
                             const char *group, struct names *out)
{
    size_t start = out->n;
    int rc = roost_store_link_list(txn, "parent", "thinggroup", NULL, "thinggroup", group, NULL,
                                   0, collect_from_name, out);
    /* Breadth first over what was appended; the tree is at most 7 deep and
     * a group has one parent, so every group is visited once. */
    for (size_t i = start; !rc && i < out->n; i++) {
        char *g = roost_xstrdup(out->v[i]);
        rc = roost_store_link_list(txn, "parent", "thinggroup", NULL, "thinggroup", g, NULL, 0,
                                   collect_from_name, out);
        roost_free(g);
    }
    return rc ? registry__store_fail(call, rc, "parent") : 0;
}

/* ==== Pages ================================================================ */

struct page {
    json_t *items;                 /* the page's array (owned until finish) */
    size_t max;                    /* page size */
    size_t n;
    bool more;                     /* something matches after the page */
    char last[REGISTRY_ARN_MAX];   /* key of the last item: the next token */
};

static int page_begin(struct roost_api_call *call, struct page *pg, const char **out_token)
{
    memset(pg, 0, sizeof(*pg));
    int rc = registry__max_results(call, &pg->max);
    if (rc)
        return rc;
    const char *tok = registry__query(call, "nextToken");
    if (tok) {
        size_t n = strlen(tok);
        bool ok = n > 0 && n < sizeof(pg->last);
        /* Tokens are the last name (or certificate id) of the previous
         * page: anything outside the names' alphabet was not made by us. */
        for (size_t i = 0; ok && i < n; i++)
            ok = (tok[i] >= 'a' && tok[i] <= 'z') || (tok[i] >= 'A' && tok[i] <= 'Z') ||
                 (tok[i] >= '0' && tok[i] <= '9') || tok[i] == ':' || tok[i] == '_' ||
                 tok[i] == '-';
        if (!ok)
            return ROOST_API_INVALID(call, "The nextToken is not valid");
    }
    *out_token = tok;
    pg->items = json_array();
    return 0;
}

/* True when the page is full: the item that did not fit means "more". */
static bool page_full(struct page *pg)
{
    if (pg->n < pg->max)
        return false;
    pg->more = true;
    return true;
}

static void page_add(struct page *pg, json_t *item, const char *key)
{
    json_array_append_new(pg->items, item);
    pg->n++;
    snprintf(pg->last, sizeof(pg->last), "%s", key);
}

/* Moves the items into call->result[member], with nextToken when more follow. */
static void page_finish(struct roost_api_call *call, struct page *pg, const char *member)
{
    if (!call->result)
        call->result = json_object();
    json_object_set_new(call->result, member, pg->items);
    pg->items = NULL;
    if (pg->more)
        json_object_set_new(call->result, "nextToken", json_string(pg->last));
}

static void page_cleanup(struct page *pg)
{
    json_decref(pg->items);
    pg->items = NULL;
}

/* Pages a sorted list of names after `token`; each item made by make(). */
static void page_names(struct page *pg, const struct names *ns, const char *token,
                       json_t *(*make)(const struct roost_registry *, const char *),
                       const struct roost_registry *reg)
{
    for (size_t i = 0; i < ns->n; i++) {
        if (token && strcmp(ns->v[i], token) <= 0)
            continue;
        if (page_full(pg))
            break;
        page_add(pg, make(reg, ns->v[i]), ns->v[i]);
    }
}

static json_t *make_name_item(const struct roost_registry *reg, const char *name)
{
    ROOST_UNUSED(reg);
    return json_string(name);
}

static json_t *make_group_item(const struct roost_registry *reg, const char *name)
{
    json_t *o = json_object();
    json_object_set_new(o, "groupName", json_string(name));
    json_object_set_new(o, "groupArn", arn_json(reg, "thinggroup", name));
    return o;
}

static json_t *make_billing_item(const struct roost_registry *reg, const char *name)
{
    json_t *o = json_object();
    json_object_set_new(o, "groupName", json_string(name));
    json_object_set_new(o, "groupArn", arn_json(reg, "billinggroup", name));
    return o;
}

/* ==== Lookups ============================================================== */

static int load_thing(struct roost_api_call *call, struct roost_store_txn *txn, const char *name,
                      json_t **out, int64_t *out_version)
{
    int rc = registry__doc_load(call, txn, "thing", name, out, out_version);
    if (rc == ROOST_ENOTFOUND)
        rc = ROOST_API_NOT_FOUND(call, "Thing %s cannot be found.", name);
    return rc;
}

static int load_group(struct roost_api_call *call, struct roost_store_txn *txn, const char *name,
                      json_t **out, int64_t *out_version)
{
    int rc = registry__doc_load(call, txn, "thinggroup", name, out, out_version);
    if (rc == ROOST_ENOTFOUND)
        rc = ROOST_API_NOT_FOUND(call, "Thing Group %s does not exist", name);
    return rc;
}

static int load_billing(struct roost_api_call *call, struct roost_store_txn *txn,
                        const char *name, json_t **out, int64_t *out_version)
{
    int rc = registry__doc_load(call, txn, "billinggroup", name, out, out_version);
    if (rc == ROOST_ENOTFOUND)
        rc = ROOST_API_NOT_FOUND(call, "Billing Group %s does not exist", name);
    return rc;
}

static int load_type(struct roost_api_call *call, struct roost_store_txn *txn, const char *name,
                     json_t **out, int64_t *out_version)
{
    int rc = registry__doc_load(call, txn, "thingtype", name, out, out_version);
    if (rc == ROOST_ENOTFOUND)
        rc = ROOST_API_NOT_FOUND(call, "Thing Type %s does not exist", name);
    return rc;
}

static int exists(struct roost_api_call *call, struct roost_store_txn *txn, const char *kind,
                  const char *name, bool *out)
{
    struct roost_store_doc doc;
    int rc = roost_store_doc_get(txn, kind, name, &doc);
    *out = rc == 0;
    if (rc == ROOST_ENOTFOUND)
        return 0;
    return rc ? registry__store_fail(call, rc, kind) : 0;
}

static bool type_deprecated(const json_t *type_doc)
{
    return json_is_true(json_object_get(json_object_get(type_doc, "thingTypeMetadata"),
                                        "deprecated"));
}

/* A usable thing type for a thing: exists (RNF) and is not deprecated (IR). */
static int check_type_usable(struct roost_api_call *call, struct roost_store_txn *txn,
                             const char *type)
{
    json_t *doc = NULL;
    int rc = load_type(call, txn, type, &doc, NULL);
    if (!rc && type_deprecated(doc))
        rc = ROOST_API_INVALID(call, "Can not create new thing with depreciated thing type: %s",
                               type);
    json_decref(doc);
    return rc;
}

/*
 * A thing or group named in a membership call by name or by ARN
 * ("arn:aws:iot:<region>:<account>:<arn_type>/<name>"). Both given: they
 * must agree. Neither: InvalidRequestException.
 */
static int resolve_ref(struct roost_api_call *call, const char *name_key, const char *arn_key,
                       const char *arn_type, char out[REGISTRY_NAME_MAX + 1])
{
    const char *name = NULL, *arn = NULL;
    int rc = registry__member_string(call, call->body, name_key, &name);
    if (!rc)
        rc = registry__member_string(call, call->body, arn_key, &arn);
    if (rc)
        return rc;
    if (!name && !arn)
        return ROOST_API_INVALID(call, "Either %s or %s must be specified", name_key, arn_key);
    const char *from_arn = NULL;
    if (arn) {
        const char *slash = strchr(arn, '/');
        size_t tlen = strlen(arn_type);
        if (strncmp(arn, "arn:", 4) != 0 || !slash || (size_t)(slash - arn) < tlen + 1 ||
            strncmp(slash - tlen, arn_type, tlen) != 0 || slash[-(long)tlen - 1] != ':')
            return ROOST_API_INVALID(call, "Invalid %s: %.200s", arn_key, arn);
        from_arn = slash + 1;
        rc = registry__check_name(call, arn_key, from_arn);
        if (rc)
            return rc;
    }
    if (name) {
        rc = registry__check_name(call, name_key, name);
        if (rc)
            return rc;
        if (from_arn && strcmp(from_arn, name) != 0)
            return ROOST_API_INVALID(call, "%s and %s name different resources", name_key,
                                     arn_key);
    }
    snprintf(out, REGISTRY_NAME_MAX + 1, "%s", name ? name : from_arn);
    return 0;
}

/* ==== Things =============================================================== */

/* The billing group a thing is in ("" if none). */
static int thing_billing(struct roost_api_call *call, struct roost_store_txn *txn,
                         const char *thing, char out[REGISTRY_NAME_MAX + 1])
{
    struct first_link f;
    int rc = first_link(call, txn, "billing", true, "thing", thing, "billinggroup", &f);
    snprintf(out, REGISTRY_NAME_MAX + 1, "%s", f.found ? f.name : "");
    return rc;
}

static void thing_ids_result(struct roost_api_call *call, const json_t *doc)
{
    json_t *r = json_object();
    json_object_set(r, "thingName", json_object_get(doc, "thingName"));
    json_object_set(r, "thingArn", json_object_get(doc, "thingArn"));
    json_object_set(r, "thingId", json_object_get(doc, "thingId"));
    json_decref(call->result);
    call->result = r;
}

/* POST /things/{thingName} */
int registry__op_create_thing(struct roost_registry *reg, struct roost_store_txn *txn,
                              struct roost_api_call *call)
{
    const char *name = call->labels[0];
    const char *type = NULL, *billing = NULL;
    json_t *attrs = NULL, *clean = NULL, *existing = NULL, *doc = NULL;
    bool merge = false;
    char id[37], arn[REGISTRY_ARN_MAX];
    int rc = registry__check_name(call, "thingName", name);
    if (!rc)
        rc = registry__member_string(call, call->body, "thingTypeName", &type);
    if (!rc && type)
        rc = registry__check_name(call, "thingTypeName", type);
    if (!rc)
        rc = registry__member_string(call, call->body, "billingGroupName", &billing);
    if (!rc && billing)
        rc = registry__check_name(call, "billingGroupName", billing);
    if (!rc)
        rc = parse_attribute_payload(call, call->body, &attrs, &merge);
    if (rc)
        goto out;
    clean = attrs ? attrs_clean(attrs) : json_object();
    rc = check_attr_count(call, clean, type != NULL);
    if (rc)
        goto out;

    rc = registry__doc_load(call, txn, "thing", name, &existing, NULL);
    if (rc == 0) {
        /* Idempotent: the same configuration answers with the same ids. */
        char cur_billing[REGISTRY_NAME_MAX + 1];
        const char *cur_type = json_string_value(json_object_get(existing, "thingTypeName"));
        const json_t *cur_attrs = json_object_get(existing, "attributes");
        rc = thing_billing(call, txn, name, cur_billing);
        if (rc)
            goto out;
        bool same = (type ? cur_type && strcmp(type, cur_type) == 0 : !cur_type) &&
                    json_equal(clean, cur_attrs ? cur_attrs : clean) &&
                    (cur_attrs || json_object_size(clean) == 0) &&
                    strcmp(billing ? billing : "", cur_billing) == 0;
        if (same) {
            thing_ids_result(call, existing);
        } else {
            rc = registry__fail_exists(
                call, json_string_value(json_object_get(existing, "thingId")),
                json_string_value(json_object_get(existing, "thingArn")),
                "Thing %s already exists in account with different attributes", name);
        }
        goto out;
    }
    if (rc != ROOST_ENOTFOUND)
        goto out;
    rc = 0;
    if (type)
        rc = check_type_usable(call, txn, type);
    if (!rc && billing) {
        bool found = false;
        rc = exists(call, txn, "billinggroup", billing, &found);
        if (!rc && !found)
            rc = ROOST_API_NOT_FOUND(call, "Billing Group %s does not exist", billing);
    }
    if (rc)
        goto out;

    registry__uuid(id);
    make_arn(reg, "thing", name, arn);
    doc = json_object();
    json_object_set_new(doc, "thingName", json_string(name));
    json_object_set_new(doc, "thingId", json_string(id));
    json_object_set_new(doc, "thingArn", json_string(arn));
    if (type)
        json_object_set_new(doc, "thingTypeName", json_string(type));
    json_object_set(doc, "attributes", clean);
    rc = registry__doc_store(call, txn, "thing", name, doc, 0, NULL);
    if (rc == ROOST_ECONFLICT)
        rc = registry__store_fail(call, rc, "thing"); /* checked absent above */
    if (!rc && type)
        rc = link_add(call, txn, "type", "thing", name, "thingtype", type);
    if (!rc && billing)
        rc = link_add(call, txn, "billing", "thing", name, "billinggroup", billing);
    if (!rc)
        rc = registry__event_thing(reg, txn, call, "CREATED", name);
    if (!rc && type)
        rc = registry__event_type_association(reg, txn, call, "CREATED", name, type);
    if (rc)
        goto out;
    thing_ids_result(call, doc);
    /* A new thing has no principal yet: no connection's policies change
     * (its events, if enabled, are in call->effects.events). */
out:
    json_decref(clean);
    json_decref(existing);
    json_decref(doc);
    return rc;
}

/* GET /things/{thingName} */
int registry__op_describe_thing(struct roost_registry *reg, struct roost_store_txn *txn,
                                struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *doc = NULL;
    int64_t version = 0;
    char billing[REGISTRY_NAME_MAX + 1];
    ROOST_UNUSED(reg);
    int rc = registry__check_name(call, "thingName", name);
    if (!rc)
        rc = load_thing(call, txn, name, &doc, &version);
    if (!rc)
        rc = thing_billing(call, txn, name, billing);
    if (rc)
        goto out;
    json_t *r = json_object();
    json_object_set_new(r, "defaultClientId", json_string(name));
    json_object_set(r, "thingName", json_object_get(doc, "thingName"));
    json_object_set(r, "thingId", json_object_get(doc, "thingId"));
    json_object_set(r, "thingArn", json_object_get(doc, "thingArn"));
    if (json_object_get(doc, "thingTypeName"))
        json_object_set(r, "thingTypeName", json_object_get(doc, "thingTypeName"));
    json_t *attrs = json_object_get(doc, "attributes");
    json_object_set_new(r, "attributes", attrs ? json_incref(attrs) : json_object());
    json_object_set_new(r, "version", json_integer(version));
    if (billing[0])
        json_object_set_new(r, "billingGroupName", json_string(billing));
    call->result = r;
out:
    json_decref(doc);
    return rc;
}

struct list_things {
    struct roost_api_call *call;
    struct roost_store_txn *txn;
    struct page *pg;
    const char *attr_name, *attr_value;
    bool prefix;
    int rc;                        /* a failure recorded on the call */
};

static bool thing_matches(const struct list_things *lt, const json_t *doc)
{
    if (!lt->attr_name)
        return true;
    const char *v =
        json_string_value(json_object_get(json_object_get(doc, "attributes"), lt->attr_name));
    if (!v)
        return false;
    if (!lt->attr_value)
        return true;
    if (lt->prefix)
        return strncmp(v, lt->attr_value, strlen(lt->attr_value)) == 0;
    return strcmp(v, lt->attr_value) == 0;
}

static int list_things_doc(struct list_things *lt, const char *name, const char *body,
                           int64_t version)
{
    json_t *doc = json_loads(body, 0, NULL);
    int rc = 0;
    if (json_is_object(doc) && thing_matches(lt, doc)) {
        if (page_full(lt->pg)) {
            rc = PAGE_STOP;
        } else {
            json_t *it = json_object();
            json_object_set_new(it, "thingName", json_string(name));
            if (json_object_get(doc, "thingTypeName"))
                json_object_set(it, "thingTypeName", json_object_get(doc, "thingTypeName"));
            json_object_set(it, "thingArn", json_object_get(doc, "thingArn"));
            json_t *attrs = json_object_get(doc, "attributes");
            json_object_set_new(it, "attributes", attrs ? json_incref(attrs) : json_object());
            json_object_set_new(it, "version", json_integer(version));
            page_add(lt->pg, it, name);
        }
    }
    json_decref(doc);
    return rc;
}

static int list_things_cb(void *ud, const struct roost_store_doc *d)
{
    return list_things_doc(ud, d->name, d->body, d->version);
}

/* Things of one type: walk the type's links, load each thing. */
static int list_things_typed_cb(void *ud, const struct roost_store_link *l)
{
    struct list_things *lt = ud;
    struct roost_store_doc d;
    int rc = roost_store_doc_get(lt->txn, "thing", l->from_name, &d);
    if (rc == ROOST_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    return list_things_doc(lt, d.name, d.body, d.version);
}

/* GET /things */
int registry__op_list_things(struct roost_registry *reg, struct roost_store_txn *txn,
                             struct roost_api_call *call)
{
    struct page pg;
    const char *token = NULL;
    ROOST_UNUSED(reg);
    int rc = page_begin(call, &pg, &token);
    if (rc)
        return rc;
    struct list_things lt = {.call = call, .txn = txn, .pg = &pg};
    const char *type = registry__query(call, "thingTypeName");
    lt.attr_name = registry__query(call, "attributeName");
    lt.attr_value = registry__query(call, "attributeValue");
    rc = registry__query_bool(call, "usePrefixAttributeValue", false, &lt.prefix);
    if (!rc && type)
        rc = registry__check_name(call, "thingTypeName", type);
    if (!rc && lt.attr_name && !attr_name_ok(lt.attr_name))
        rc = ROOST_API_INVALID(call, "Invalid attributeName: %.128s", lt.attr_name);
    if (!rc && lt.attr_value && !attr_value_ok(lt.attr_value))
        rc = ROOST_API_INVALID(call, "Invalid attributeValue");
    if (!rc && lt.attr_value && !lt.attr_name)
        rc = ROOST_API_INVALID(call, "attributeValue requires attributeName");
    if (rc)
        goto out;
    if (type)
        rc = roost_store_link_list(txn, "type", "thing", NULL, "thingtype", type, token, 0,
                                   list_things_typed_cb, &lt);
    else
        rc = roost_store_doc_list(txn, "thing", NULL, token, 0, list_things_cb, &lt);
    if (rc == PAGE_STOP)
        rc = 0;
    if (rc) {
        rc = registry__store_fail(call, rc, "list things");
        goto out;
    }
    page_finish(call, &pg, "things");
out:
    page_cleanup(&pg);
    return rc;
}

static int version_conflict(struct roost_api_call *call, const char *what, const char *name)
{
    return roost_api_fail(call, 409, "VersionConflictException",
                          "The version for %s %s does not match the expected version.", what,
                          name);
}

/* The common start of the DELETE operations: check the name and
 * ?expectedVersion=, load the document. *out_gone is set when it does not
 * exist: AWS answers deleting a missing resource with success. */
static int load_for_delete(struct roost_api_call *call, struct roost_store_txn *txn,
                           const char *label, const char *kind, const char *what,
                           const char *name, json_t **out_doc, bool *out_gone)
{
    int64_t expected = -1, version = 0;
    *out_gone = false;
    int rc = registry__check_name(call, label, name);
    if (!rc)
        rc = query_expected_version(call, &expected);
    if (rc)
        return rc;
    rc = registry__doc_load(call, txn, kind, name, out_doc, &version);
    if (rc == ROOST_ENOTFOUND) {
        *out_gone = true;
        return 0;
    }
    if (rc)
        return rc;
    if (expected >= 0 && expected != version)
        return version_conflict(call, what, name);
    return 0;
}

/* PATCH /things/{thingName} */
int registry__op_update_thing(struct roost_registry *reg, struct roost_store_txn *txn,
                              struct roost_api_call *call)
{
    const char *name = call->labels[0];
    const char *new_type = NULL;
    json_t *attrs = NULL, *doc = NULL;
    bool merge = false, remove_type = false, has_expected = false;
    int64_t expected = 0, version = 0;
    ROOST_UNUSED(reg);
    int rc = registry__check_name(call, "thingName", name);
    if (!rc)
        rc = registry__member_string(call, call->body, "thingTypeName", &new_type);
    if (!rc && new_type)
        rc = registry__check_name(call, "thingTypeName", new_type);
    if (!rc)
        rc = registry__member_bool(call, call->body, "removeThingType", false, &remove_type);
    if (!rc)
        rc = registry__member_int(call, call->body, "expectedVersion", &has_expected, &expected);
    if (!rc)
        rc = parse_attribute_payload(call, call->body, &attrs, &merge);
    if (!rc && new_type && remove_type)
        rc = ROOST_API_INVALID(call, "Cannot set thingTypeName and removeThingType together");
    if (!rc)
        rc = load_thing(call, txn, name, &doc, &version);
    if (rc)
        goto out;
    if (has_expected && expected != version) {
        rc = version_conflict(call, "thing", name);
        goto out;
    }
    const char *old_type = json_string_value(json_object_get(doc, "thingTypeName"));
    char old_type_copy[REGISTRY_NAME_MAX + 1] = "";
    if (old_type)
        snprintf(old_type_copy, sizeof(old_type_copy), "%s", old_type);
    bool change_type = new_type && strcmp(new_type, old_type_copy) != 0;
    if (change_type) {
        rc = check_type_usable(call, txn, new_type);
        if (rc)
            goto out;
        json_object_set_new(doc, "thingTypeName", json_string(new_type));
    } else if (remove_type) {
        json_object_del(doc, "thingTypeName");
    }
    if (attrs) {
        json_t *cur = json_object_get(doc, "attributes");
        cur = cur ? json_deep_copy(cur) : json_object();
        json_object_set_new(doc, "attributes", attrs_apply(cur, attrs, merge));
    }
    rc = check_attr_count(call, json_object_get(doc, "attributes"),
                          json_object_get(doc, "thingTypeName") != NULL);
    if (rc)
        goto out;
    rc = registry__doc_store(call, txn, "thing", name, doc, version, NULL);
    if (rc == ROOST_ECONFLICT || rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, "thing"); /* same transaction: cannot happen */
    if (!rc && old_type_copy[0] && (change_type || remove_type))
        rc = link_del(call, txn, "type", "thing", name, "thingtype", old_type_copy);
    if (!rc && change_type)
        rc = link_add(call, txn, "type", "thing", name, "thingtype", new_type);
    if (!rc)
        rc = registry__event_thing(reg, txn, call, "UPDATED", name);
    if (!rc && old_type_copy[0] && (change_type || remove_type))
        rc = registry__event_type_association(reg, txn, call, "DELETED", name, old_type_copy);
    if (!rc && change_type)
        rc = registry__event_type_association(reg, txn, call, "CREATED", name, new_type);
    if (rc)
        goto out;
    call->effects.things_changed = true;
out:
    json_decref(doc);
    return rc;
}

/* The thing's shadows go with it, as on AWS: the Device Shadow service's
 * documents of kind "shadow" named "<thing>/<shadow>" (src/shadow/service.c;
 * thing names hold no '/', so the prefix is exact). The service's cache of
 * parsed shadows needs no word from us: it checks the stored version on
 * every hit. No tombstone ("shadow-deleted") is written, so a shadow made
 * again starts at version 1; those of earlier DeleteThingShadow calls stay. */
static int collect_doc_name(void *ud, const struct roost_store_doc *doc)
{
    return json_array_append_new(ud, json_string(doc->name)) ? ROOST_ENOMEM : 0;
}

static int delete_thing_shadows(struct roost_api_call *call, struct roost_store_txn *txn,
                                const char *thing)
{
    char prefix[REGISTRY_NAME_MAX + 2];
    snprintf(prefix, sizeof(prefix), "%s/", thing);
    json_t *names = json_array(); /* collected first: no deleting under a cursor */
    int rc = roost_store_doc_list(txn, "shadow", prefix, NULL, 0, collect_doc_name, names);
    if (rc)
        rc = registry__store_fail(call, rc, "shadow");
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n) {
        if (rc)
            break;
        rc = store_del(call, txn, "shadow", json_string_value(n));
    }
    json_decref(names);
    return rc;
}

/* DELETE /things/{thingName}?expectedVersion= : a missing thing is success. */
int registry__op_delete_thing(struct roost_registry *reg, struct roost_store_txn *txn,
                              struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *doc = NULL;
    struct first_link f;
    bool gone = false;
    ROOST_UNUSED(reg);
    int rc = load_for_delete(call, txn, "thingName", "thing", "thing", name, &doc,
                             &gone);
    if (rc || gone)
        goto out;
    rc = first_link(call, txn, "principal", true, "thing", name, "cert", &f);
    if (!rc && f.found)
        rc = ROOST_API_INVALID(call,
                               "Cannot delete. Thing %s is still attached to one or more "
                               "principals",
                               name);
    if (!rc) /* before the delete: the event reports the thing's last state */
        rc = registry__event_thing(reg, txn, call, "DELETED", name);
    if (!rc)
        rc = store_del(call, txn, "thing", name);
    if (!rc)
        rc = delete_thing_shadows(call, txn, name);
    if (!rc)
        call->effects.things_changed = true;
out:
    json_decref(doc);
    return rc;
}

/* ==== Thing types ========================================================== */

/* thingTypeProperties, checked, as a clean object (always). */
static int parse_type_props(struct roost_api_call *call, json_t **out)
{
    json_t *props = NULL, *searchable = NULL, *mqtt5 = NULL;
    const char *desc = NULL;
    *out = NULL;
    int rc = registry__member_object(call, call->body, "thingTypeProperties", &props);
    if (!rc)
        rc = registry__member_string(call, props, "thingTypeDescription", &desc);
    if (!rc && desc)
        rc = check_description(call, "thingTypeProperties.thingTypeDescription", desc);
    if (!rc)
        rc = registry__member_array(call, props, "searchableAttributes", &searchable);
    if (!rc)
        rc = registry__member_object(call, props, "mqtt5Configuration", &mqtt5);
    if (rc)
        return rc;
    if (searchable) {
        size_t i;
        json_t *a;
        if (json_array_size(searchable) > SEARCHABLE_ATTRS_MAX)
            return ROOST_API_INVALID(call, "A thing type can have at most %d searchable "
                                           "attributes", SEARCHABLE_ATTRS_MAX);
        json_array_foreach(searchable, i, a) {
            if (!json_is_string(a) || !attr_name_ok(json_string_value(a)))
                return ROOST_API_INVALID(call, "Invalid searchable attribute name");
        }
    }
    if (mqtt5) {
        json_t *prop_list = NULL;
        rc = registry__member_array(call, mqtt5, "propagatingAttributes", &prop_list);
        if (rc)
            return rc;
        size_t i;
        json_t *pa;
        json_array_foreach(prop_list, i, pa) {
            const char *k = NULL, *ta = NULL, *ca = NULL;
            if (!json_is_object(pa))
                return ROOST_API_INVALID(call, "Invalid propagatingAttributes entry");
            rc = registry__member_string(call, pa, "userPropertyKey", &k);
            if (!rc)
                rc = registry__member_string(call, pa, "thingAttribute", &ta);
            if (!rc)
                rc = registry__member_string(call, pa, "connectionAttribute", &ca);
            if (rc)
                return rc;
            if (!k || (!ta && !ca))
                return ROOST_API_INVALID(call, "A propagating attribute needs userPropertyKey "
                                               "and thingAttribute or connectionAttribute");
        }
    }
    json_t *clean = json_object();
    if (desc)
        json_object_set_new(clean, "thingTypeDescription", json_string(desc));
    if (searchable)
        json_object_set(clean, "searchableAttributes", searchable);
    if (mqtt5)
        json_object_set(clean, "mqtt5Configuration", mqtt5);
    *out = clean;
    return 0;
}

static json_t *type_metadata(const json_t *doc)
{
    json_t *md = json_object_get(doc, "thingTypeMetadata");
    return md ? json_incref(md) : json_object();
}

/* POST /thing-types/{thingTypeName} */
int registry__op_create_thing_type(struct roost_registry *reg, struct roost_store_txn *txn,
                                   struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *props = NULL, *tags = NULL, *existing = NULL, *doc = NULL;
    char id[37], arn[REGISTRY_ARN_MAX];
    int rc = registry__check_name(call, "thingTypeName", name);
    if (!rc)
        rc = parse_type_props(call, &props);
    if (!rc)
        rc = parse_tags(call, call->body, &tags);
    if (rc)
        goto out;
    rc = registry__doc_load(call, txn, "thingtype", name, &existing, NULL);
    if (rc == 0) {
        doc = existing;
        existing = NULL;
        if (!json_equal(props, json_object_get(doc, "thingTypeProperties")))
            rc = registry__fail_exists(
                call, json_string_value(json_object_get(doc, "thingTypeId")),
                json_string_value(json_object_get(doc, "thingTypeArn")),
                "Thing Type %s already exists with different properties", name);
    } else if (rc == ROOST_ENOTFOUND) {
        registry__uuid(id);
        make_arn(reg, "thingtype", name, arn);
        doc = json_object();
        json_object_set_new(doc, "thingTypeName", json_string(name));
        json_object_set_new(doc, "thingTypeId", json_string(id));
        json_object_set_new(doc, "thingTypeArn", json_string(arn));
        json_object_set(doc, "thingTypeProperties", props);
        json_t *md = json_object();
        json_object_set_new(md, "deprecated", json_false());
        json_object_set_new(md, "creationDate", registry__timestamp(call->now_ms));
        json_object_set_new(doc, "thingTypeMetadata", md);
        if (tags)
            json_object_set(doc, "tags", tags);
        rc = registry__doc_store(call, txn, "thingtype", name, doc, 0, NULL);
        if (rc == ROOST_ECONFLICT)
            rc = registry__store_fail(call, rc, "thingtype");
        if (!rc)
            rc = registry__event_thing_type(reg, txn, call, "CREATED", name);
        if (!rc)
            call->effects.things_changed = true;
    }
    if (rc)
        goto out;
    json_t *r = json_object();
    json_object_set(r, "thingTypeName", json_object_get(doc, "thingTypeName"));
    json_object_set(r, "thingTypeArn", json_object_get(doc, "thingTypeArn"));
    json_object_set(r, "thingTypeId", json_object_get(doc, "thingTypeId"));
    call->result = r;
out:
    json_decref(props);
    json_decref(tags);
    json_decref(existing);
    json_decref(doc);
    return rc;
}

/* GET /thing-types/{thingTypeName} */
int registry__op_describe_thing_type(struct roost_registry *reg, struct roost_store_txn *txn,
                                     struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *doc = NULL;
    ROOST_UNUSED(reg);
    int rc = registry__check_name(call, "thingTypeName", name);
    if (!rc)
        rc = load_type(call, txn, name, &doc, NULL);
    if (rc)
        goto out;
    json_t *r = json_object();
    json_object_set(r, "thingTypeName", json_object_get(doc, "thingTypeName"));
    json_object_set(r, "thingTypeId", json_object_get(doc, "thingTypeId"));
    json_object_set(r, "thingTypeArn", json_object_get(doc, "thingTypeArn"));
    json_t *props = json_object_get(doc, "thingTypeProperties");
    json_object_set_new(r, "thingTypeProperties", props ? json_incref(props) : json_object());
    json_object_set_new(r, "thingTypeMetadata", type_metadata(doc));
    call->result = r;
out:
    json_decref(doc);
    return rc;
}

static json_t *type_list_item(const char *name, const json_t *doc)
{
    json_t *it = json_object();
    json_object_set_new(it, "thingTypeName", json_string(name));
    json_object_set(it, "thingTypeArn", json_object_get(doc, "thingTypeArn"));
    json_t *props = json_object_get(doc, "thingTypeProperties");
    json_object_set_new(it, "thingTypeProperties", props ? json_incref(props) : json_object());
    json_object_set_new(it, "thingTypeMetadata", type_metadata(doc));
    return it;
}

static int list_types_cb(void *ud, const struct roost_store_doc *d)
{
    struct page *pg = ud;
    if (page_full(pg))
        return PAGE_STOP;
    json_t *doc = json_loads(d->body, 0, NULL);
    if (json_is_object(doc))
        page_add(pg, type_list_item(d->name, doc), d->name);
    json_decref(doc);
    return 0;
}

/* GET /thing-types?thingTypeName= */
int registry__op_list_thing_types(struct roost_registry *reg, struct roost_store_txn *txn,
                                  struct roost_api_call *call)
{
    struct page pg;
    const char *token = NULL;
    json_t *doc = NULL;
    ROOST_UNUSED(reg);
    int rc = page_begin(call, &pg, &token);
    if (rc)
        return rc;
    const char *only = registry__query(call, "thingTypeName");
    if (only) {
        rc = registry__check_name(call, "thingTypeName", only);
        if (rc)
            goto out;
        rc = registry__doc_load(call, txn, "thingtype", only, &doc, NULL);
        if (rc == 0 && (!token || strcmp(only, token) > 0))
            page_add(&pg, type_list_item(only, doc), only);
        if (rc == ROOST_ENOTFOUND)
            rc = 0;
    } else {
        rc = roost_store_doc_list(txn, "thingtype", NULL, token, 0, list_types_cb, &pg);
        if (rc == PAGE_STOP)
            rc = 0;
        if (rc)
            rc = registry__store_fail(call, rc, "list thing types");
    }
    if (!rc)
        page_finish(call, &pg, "thingTypes");
out:
    json_decref(doc);
    page_cleanup(&pg);
    return rc;
}

/* POST /thing-types/{thingTypeName}/deprecate {undoDeprecate} */
int registry__op_deprecate_thing_type(struct roost_registry *reg, struct roost_store_txn *txn,
                                      struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *doc = NULL;
    int64_t version = 0;
    bool undo = false;
    ROOST_UNUSED(reg);
    int rc = registry__check_name(call, "thingTypeName", name);
    if (!rc)
        rc = registry__member_bool(call, call->body, "undoDeprecate", false, &undo);
    if (!rc)
        rc = load_type(call, txn, name, &doc, &version);
    if (rc)
        goto out;
    json_t *md = json_object_get(doc, "thingTypeMetadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(doc, "thingTypeMetadata", md);
    }
    json_object_set_new(md, "deprecated", json_boolean(!undo));
    if (undo)
        json_object_del(md, "deprecationDate");
    else
        json_object_set_new(md, "deprecationDate", registry__timestamp(call->now_ms));
    rc = registry__doc_store(call, txn, "thingtype", name, doc, version, NULL);
    if (rc == ROOST_ECONFLICT || rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, "thingtype");
    if (!rc) /* AWS reports (un)deprecation as an update */
        rc = registry__event_thing_type(reg, txn, call, "UPDATED", name);
    if (!rc)
        call->effects.things_changed = true;
out:
    json_decref(doc);
    return rc;
}

/*
 * DELETE /thing-types/{thingTypeName}: only a deprecated type that no thing
 * uses. AWS also wants five minutes between deprecation and deletion;
 * Roost does not make the caller wait (docs/internals/REGISTRY.md).
 */
int registry__op_delete_thing_type(struct roost_registry *reg, struct roost_store_txn *txn,
                                   struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *doc = NULL;
    struct first_link f;
    ROOST_UNUSED(reg);
    int rc = registry__check_name(call, "thingTypeName", name);
    if (!rc)
        rc = load_type(call, txn, name, &doc, NULL);
    if (rc)
        goto out;
    if (!type_deprecated(doc)) {
        rc = ROOST_API_INVALID(call,
                               "Can not delete thing type %s. Please deprecate the thing type "
                               "before deleting it.",
                               name);
        goto out;
    }
    rc = first_link(call, txn, "type", false, "thingtype", name, "thing", &f);
    if (!rc && f.found)
        rc = ROOST_API_INVALID(call,
                               "Can not delete thing type %s: things are still associated with "
                               "it (e.g. %s)",
                               name, f.name);
    if (!rc) /* before the delete: the event reports the type's last state */
        rc = registry__event_thing_type(reg, txn, call, "DELETED", name);
    if (!rc)
        rc = store_del(call, txn, "thingtype", name);
    if (!rc)
        call->effects.things_changed = true;
out:
    json_decref(doc);
    return rc;
}

/* ==== Thing groups ========================================================= */

/* thingGroupProperties {thingGroupDescription, attributePayload} as a clean
 * object; `merge` tells how attributes combine with existing ones. */
static int parse_group_props(struct roost_api_call *call, bool required, json_t **out_props,
                             bool *out_has_desc, json_t **out_attrs, bool *out_merge)
{
    json_t *props = NULL;
    const char *desc = NULL;
    *out_props = NULL;
    *out_attrs = NULL;
    *out_has_desc = false;
    int rc = registry__member_object(call, call->body, "thingGroupProperties", &props);
    if (!rc && required && !props)
        rc = ROOST_API_INVALID(call, "thingGroupProperties is required");
    if (!rc)
        rc = registry__member_string(call, props, "thingGroupDescription", &desc);
    if (!rc && desc)
        rc = check_description(call, "thingGroupProperties.thingGroupDescription", desc);
    if (!rc)
        rc = parse_attribute_payload(call, props, out_attrs, out_merge);
    if (rc)
        return rc;
    json_t *clean = json_object();
    if (desc)
        json_object_set_new(clean, "thingGroupDescription", json_string(desc));
    json_t *payload = json_object();
    json_object_set_new(payload, "attributes",
                        *out_attrs ? attrs_clean(*out_attrs) : json_object());
    json_object_set_new(clean, "attributePayload", payload);
    *out_props = clean;
    *out_has_desc = desc != NULL;
    return 0;
}

/* Ancestors of a group, root first: the names along "parentGroupName". */
static int group_ancestors(struct roost_api_call *call, struct roost_store_txn *txn,
                           const char *parent, struct names *out)
{
    char cur[REGISTRY_NAME_MAX + 1];
    int rc = 0;
    snprintf(cur, sizeof(cur), "%s", parent ? parent : "");
    /* A corrupt store could hold a cycle: stop after a bound. */
    for (int depth = 0; cur[0] && depth < 64 && !rc; depth++) {
        json_t *doc = NULL;
        names_add(out, cur);
        rc = registry__doc_load(call, txn, "thinggroup", cur, &doc, NULL);
        if (rc == ROOST_ENOTFOUND) {
            rc = 0;
            break;
        }
        const char *p = json_string_value(
            json_object_get(json_object_get(doc, "thingGroupMetadata"), "parentGroupName"));
        snprintf(cur, sizeof(cur), "%s", p ? p : "");
        json_decref(doc);
    }
    for (size_t i = 0; i < out->n / 2; i++) { /* root first */
        char *t = out->v[i];
        out->v[i] = out->v[out->n - 1 - i];
        out->v[out->n - 1 - i] = t;
    }
    return rc;
}

static void group_ids_result(struct roost_api_call *call, const json_t *doc)
{
    json_t *r = json_object();
    json_object_set(r, "thingGroupName", json_object_get(doc, "thingGroupName"));
    json_object_set(r, "thingGroupArn", json_object_get(doc, "thingGroupArn"));
    json_object_set(r, "thingGroupId", json_object_get(doc, "thingGroupId"));
    call->result = r;
}

/* POST /thing-groups/{thingGroupName} */
int registry__op_create_thing_group(struct roost_registry *reg, struct roost_store_txn *txn,
                                    struct roost_api_call *call)
{
    const char *name = call->labels[0];
    const char *parent = NULL;
    json_t *props = NULL, *attrs = NULL, *tags = NULL, *doc = NULL, *parent_doc = NULL;
    bool has_desc = false, merge = false;
    struct names chain = {0};
    char id[37], arn[REGISTRY_ARN_MAX];
    int rc = registry__check_name(call, "thingGroupName", name);
    if (!rc)
        rc = registry__member_string(call, call->body, "parentGroupName", &parent);
    if (!rc && parent)
        rc = registry__check_name(call, "parentGroupName", parent);
    if (!rc)
        rc = parse_group_props(call, false, &props, &has_desc, &attrs, &merge);
    if (!rc)
        rc = parse_tags(call, call->body, &tags);
    if (rc)
        goto out;
    rc = registry__doc_load(call, txn, "thinggroup", name, &doc, NULL);
    if (rc == 0) {
        const char *cur_parent = json_string_value(
            json_object_get(json_object_get(doc, "thingGroupMetadata"), "parentGroupName"));
        bool same = (parent ? cur_parent && strcmp(parent, cur_parent) == 0 : !cur_parent) &&
                    json_equal(props, json_object_get(doc, "thingGroupProperties"));
        if (same)
            group_ids_result(call, doc);
        else
            rc = registry__fail_exists(
                call, json_string_value(json_object_get(doc, "thingGroupId")),
                json_string_value(json_object_get(doc, "thingGroupArn")),
                "Thing Group %s already exists with different properties", name);
        goto out;
    }
    if (rc != ROOST_ENOTFOUND)
        goto out;
    rc = 0;
    if (parent) {
        rc = load_group(call, txn, parent, &parent_doc, NULL);
        if (!rc)
            rc = group_ancestors(call, txn, parent, &chain);
        if (!rc && chain.n + 1 > GROUP_DEPTH_MAX)
            rc = ROOST_API_INVALID(call, "Thing group hierarchy can be at most %d levels deep",
                                   GROUP_DEPTH_MAX);
        if (rc)
            goto out;
    }
    registry__uuid(id);
    make_arn(reg, "thinggroup", name, arn);
    doc = json_object();
    json_object_set_new(doc, "thingGroupName", json_string(name));
    json_object_set_new(doc, "thingGroupId", json_string(id));
    json_object_set_new(doc, "thingGroupArn", json_string(arn));
    json_object_set(doc, "thingGroupProperties", props);
    json_t *md = json_object();
    if (parent)
        json_object_set_new(md, "parentGroupName", json_string(parent));
    json_object_set_new(md, "creationDate", registry__timestamp(call->now_ms));
    json_object_set_new(doc, "thingGroupMetadata", md);
    if (tags)
        json_object_set(doc, "tags", tags);
    rc = registry__doc_store(call, txn, "thinggroup", name, doc, 0, NULL);
    if (rc == ROOST_ECONFLICT)
        rc = registry__store_fail(call, rc, "thinggroup");
    if (!rc && parent)
        rc = link_add(call, txn, "parent", "thinggroup", name, "thinggroup", parent);
    if (!rc)
        rc = registry__event_thing_group(reg, txn, call, "CREATED", name);
    if (!rc && parent)
        rc = registry__event_hierarchy(reg, txn, call, "ADDED", parent, name);
    if (rc)
        goto out;
    group_ids_result(call, doc);
    call->effects.things_changed = true;
out:
    names_free(&chain);
    json_decref(props);
    json_decref(tags);
    json_decref(doc);
    json_decref(parent_doc);
    return rc;
}

/* GET /thing-groups/{thingGroupName} */
int registry__op_describe_thing_group(struct roost_registry *reg, struct roost_store_txn *txn,
                                      struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *doc = NULL;
    int64_t version = 0;
    struct names chain = {0};
    int rc = registry__check_name(call, "thingGroupName", name);
    if (!rc)
        rc = load_group(call, txn, name, &doc, &version);
    if (rc)
        goto out;
    json_t *md_in = json_object_get(doc, "thingGroupMetadata");
    const char *parent = json_string_value(json_object_get(md_in, "parentGroupName"));
    if (parent) {
        rc = group_ancestors(call, txn, parent, &chain);
        if (rc)
            goto out;
    }
    json_t *r = json_object();
    json_object_set(r, "thingGroupName", json_object_get(doc, "thingGroupName"));
    json_object_set(r, "thingGroupId", json_object_get(doc, "thingGroupId"));
    json_object_set(r, "thingGroupArn", json_object_get(doc, "thingGroupArn"));
    json_object_set_new(r, "version", json_integer(version));
    json_t *props = json_object_get(doc, "thingGroupProperties");
    json_object_set_new(r, "thingGroupProperties", props ? json_incref(props) : json_object());
    json_t *md = json_object();
    if (parent) {
        json_object_set_new(md, "parentGroupName", json_string(parent));
        json_t *roots = json_array();
        for (size_t i = 0; i < chain.n; i++)
            json_array_append_new(roots, make_group_item(reg, chain.v[i]));
        json_object_set_new(md, "rootToParentThingGroups", roots);
    }
    if (json_object_get(md_in, "creationDate"))
        json_object_set(md, "creationDate", json_object_get(md_in, "creationDate"));
    json_object_set_new(r, "thingGroupMetadata", md);
    json_object_set_new(r, "status", json_string("ACTIVE"));
    call->result = r;
out:
    names_free(&chain);
    json_decref(doc);
    return rc;
}

struct list_groups {
    struct page *pg;
    const struct roost_registry *reg;
    bool roots_only;               /* only groups without a parent */
};

static bool has_parent(const char *body)
{
    json_t *doc = json_loads(body, 0, NULL);
    bool parent = json_object_get(json_object_get(doc, "thingGroupMetadata"),
                                  "parentGroupName") != NULL;
    json_decref(doc);
    return parent;
}

static int list_groups_cb(void *ud, const struct roost_store_doc *d)
{
    struct list_groups *lg = ud;
    if (lg->roots_only && has_parent(d->body))
        return 0;
    if (page_full(lg->pg))
        return PAGE_STOP;
    page_add(lg->pg, make_group_item(lg->reg, d->name), d->name);
    return 0;
}

/* GET /thing-groups?parentGroup=&namePrefixFilter=&recursive= : recursive
 * (the default) lists the whole tree below parentGroup (or every group);
 * recursive=false only its direct children (or the root groups). */
int registry__op_list_thing_groups(struct roost_registry *reg, struct roost_store_txn *txn,
                                   struct roost_api_call *call)
{
    struct page pg;
    const char *token = NULL;
    struct names ns = {0};
    bool recursive = true;
    int rc = page_begin(call, &pg, &token);
    if (rc)
        return rc;
    const char *parent = registry__query(call, "parentGroup");
    const char *prefix = registry__query(call, "namePrefixFilter");
    rc = registry__query_bool(call, "recursive", true, &recursive);
    if (!rc && parent)
        rc = registry__check_name(call, "parentGroup", parent);
    if (!rc && prefix)
        rc = registry__check_name(call, "namePrefixFilter", prefix);
    if (rc)
        goto out;
    if (!parent) {
        /* Straight from the store, one page at a time. */
        struct list_groups lg = {&pg, reg, !recursive};
        rc = roost_store_doc_list(txn, "thinggroup", prefix, token, 0, list_groups_cb, &lg);
        if (rc == PAGE_STOP)
            rc = 0;
        if (rc)
            rc = registry__store_fail(call, rc, "list thing groups");
    } else {
        bool found = false;
        rc = exists(call, txn, "thinggroup", parent, &found);
        if (!rc && !found)
            rc = ROOST_API_NOT_FOUND(call, "Thing Group %s does not exist", parent);
        if (!rc && recursive)
            rc = group_descendants(call, txn, parent, &ns);
        else if (!rc)
            rc = roost_store_link_list(txn, "parent", "thinggroup", NULL, "thinggroup", parent,
                                       NULL, 0, collect_from_name, &ns);
        if (rc < 0 && !call->error_code)
            rc = registry__store_fail(call, rc, "parent");
    }
    if (rc)
        goto out;
    if (parent) {
        if (prefix) {
            size_t o = 0, plen = strlen(prefix);
            for (size_t i = 0; i < ns.n; i++) {
                if (strncmp(ns.v[i], prefix, plen) == 0)
                    ns.v[o++] = ns.v[i];
                else
                    roost_free(ns.v[i]);
            }
            ns.n = o;
        }
        names_sort_unique(&ns);
        page_names(&pg, &ns, token, make_group_item, reg);
    }
    page_finish(call, &pg, "thingGroups");
out:
    names_free(&ns);
    page_cleanup(&pg);
    return rc;
}

/* The end of UpdateThingGroup and UpdateBillingGroup: store the changed
 * document over `version` and answer with the new version. */
static int store_group_update(struct roost_api_call *call, struct roost_store_txn *txn,
                              const char *kind, const char *name, json_t *doc, int64_t version)
{
    int64_t new_version = 0;
    int rc = registry__doc_store(call, txn, kind, name, doc, version, &new_version);
    if (rc == ROOST_ECONFLICT || rc == ROOST_ENOTFOUND)
        rc = registry__store_fail(call, rc, kind);
    if (rc)
        return rc;
    call->result = json_object();
    json_object_set_new(call->result, "version", json_integer(new_version));
    call->effects.things_changed = true;
    return 0;
}

/* PATCH /thing-groups/{thingGroupName} */
int registry__op_update_thing_group(struct roost_registry *reg, struct roost_store_txn *txn,
                                    struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *props = NULL, *attrs = NULL, *doc = NULL;
    bool has_desc = false, merge = false, has_expected = false;
    int64_t expected = 0, version = 0;
    ROOST_UNUSED(reg);
    int rc = registry__check_name(call, "thingGroupName", name);
    if (!rc)
        rc = parse_group_props(call, true, &props, &has_desc, &attrs, &merge);
    if (!rc)
        rc = registry__member_int(call, call->body, "expectedVersion", &has_expected, &expected);
    if (!rc)
        rc = load_group(call, txn, name, &doc, &version);
    if (rc)
        goto out;
    if (has_expected && expected != version) {
        rc = version_conflict(call, "thing group", name);
        goto out;
    }
    json_t *cur = json_object_get(doc, "thingGroupProperties");
    if (!json_is_object(cur)) {
        cur = json_object();
        json_object_set_new(doc, "thingGroupProperties", cur);
    }
    if (has_desc) {
        const json_t *d = json_object_get(props, "thingGroupDescription");
        if (json_string_length(d) == 0)
            json_object_del(cur, "thingGroupDescription");
        else
            json_object_set(cur, "thingGroupDescription", (json_t *)d);
    }
    if (attrs) {
        json_t *payload = json_object_get(cur, "attributePayload");
        json_t *old = json_object_get(payload, "attributes");
        old = old ? json_deep_copy(old) : json_object();
        json_t *np = json_object();
        json_object_set_new(np, "attributes", attrs_apply(old, attrs, merge));
        json_object_set_new(cur, "attributePayload", np);
    }
    rc = store_group_update(call, txn, "thinggroup", name, doc, version);
    if (!rc)
        rc = registry__event_thing_group(reg, txn, call, "UPDATED", name);
out:
    json_decref(props);
    json_decref(doc);
    return rc;
}

/* DELETE /thing-groups/{thingGroupName}?expectedVersion= : a missing group
 * is success; a group with child groups is refused (as AWS does); its
 * memberships and policy attachments go with it. */
int registry__op_delete_thing_group(struct roost_registry *reg, struct roost_store_txn *txn,
                                    struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *doc = NULL;
    struct first_link f;
    bool gone = false;
    ROOST_UNUSED(reg);
    int rc = load_for_delete(call, txn, "thingGroupName", "thinggroup", "thing group", name, &doc,
                             &gone);
    if (rc || gone)
        goto out;
    rc = first_link(call, txn, "parent", false, "thinggroup", name, "thinggroup", &f);
    if (!rc && f.found)
        rc = ROOST_API_INVALID(call,
                               "Cannot delete thing group : %s when there are still child groups "
                               "attached to it",
                               name);
    const char *parent = json_string_value(
        json_object_get(json_object_get(doc, "thingGroupMetadata"), "parentGroupName"));
    if (!rc && parent) /* before the delete: both groups still exist */
        rc = registry__event_hierarchy(reg, txn, call, "REMOVED", parent, name);
    if (!rc)
        rc = registry__event_thing_group(reg, txn, call, "DELETED", name);
    if (!rc)
        rc = store_del(call, txn, "thinggroup", name);
    if (!rc) {
        call->effects.things_changed = true;
        call->effects.policies_changed = true;
    }
out:
    json_decref(doc);
    return rc;
}

/* A thing's group count, for the 10-group limit. */
struct count_links {
    size_t n;
    const char *skip;              /* a group not to count (already a member) */
    bool skipped;                  /* the thing is in `skip` already */
};

static int count_links_cb(void *ud, const struct roost_store_link *l)
{
    struct count_links *c = ud;
    if (!c->skip || strcmp(c->skip, l->to_name) != 0)
        c->n++;
    else
        c->skipped = true;
    return 0;
}

/* Adds thing to group (both exist), within the 10-group limit. */
static int add_member(struct roost_registry *reg, struct roost_api_call *call,
                      struct roost_store_txn *txn, const char *thing, const char *group)
{
    struct count_links c = {0, group, false};
    int rc = roost_store_link_list(txn, "member", "thing", thing, "thinggroup", NULL, NULL, 0,
                                   count_links_cb, &c);
    if (rc)
        return registry__store_fail(call, rc, "member");
    if (c.n >= GROUPS_PER_THING_MAX)
        return ROOST_API_INVALID(call, "Thing %s cannot be added to more than %d thing groups",
                                 thing, GROUPS_PER_THING_MAX);
    rc = link_add(call, txn, "member", "thing", thing, "thinggroup", group);
    if (!rc && !c.skipped) /* re-adding a member changes nothing: no event */
        rc = registry__event_membership(reg, txn, call, "ADDED", thing, group);
    if (!rc) {
        call->effects.things_changed = true;
        call->effects.policies_changed = true; /* group policies now apply */
    }
    return rc;
}

/* Removes thing from group; only a real removal is reported (event). */
static int remove_member(struct roost_registry *reg, struct roost_api_call *call,
                         struct roost_store_txn *txn, const char *thing, const char *group)
{
    struct roost_store_link l = {"member", "thing", thing, "thinggroup", group};
    int rc = roost_store_link_del(txn, &l);
    if (rc == ROOST_ENOTFOUND)
        return 0;
    if (rc)
        return registry__store_fail(call, rc, "member");
    return registry__event_membership(reg, txn, call, "REMOVED", thing, group);
}

static int require_doc(struct roost_api_call *call, struct roost_store_txn *txn,
                       const char *kind, const char *name)
{
    bool found = false;
    int rc = exists(call, txn, kind, name, &found);
    if (rc || found)
        return rc;
    if (strcmp(kind, "thing") == 0)
        return ROOST_API_NOT_FOUND(call, "Thing %s cannot be found.", name);
    if (strcmp(kind, "thinggroup") == 0)
        return ROOST_API_NOT_FOUND(call, "Thing Group %s does not exist", name);
    return ROOST_API_NOT_FOUND(call, "Billing Group %s does not exist", name);
}

/* PUT /thing-groups/addThingToThingGroup */
int registry__op_add_thing_to_thing_group(struct roost_registry *reg, struct roost_store_txn *txn,
                                          struct roost_api_call *call)
{
    char group[REGISTRY_NAME_MAX + 1], thing[REGISTRY_NAME_MAX + 1];
    bool override_dynamic = false;
    ROOST_UNUSED(reg);
    int rc = resolve_ref(call, "thingGroupName", "thingGroupArn", "thinggroup", group);
    if (!rc)
        rc = resolve_ref(call, "thingName", "thingArn", "thing", thing);
    if (!rc)
        rc = registry__member_bool(call, call->body, "overrideDynamicGroups", false,
                                   &override_dynamic);
    if (!rc)
        rc = require_doc(call, txn, "thinggroup", group);
    if (!rc)
        rc = require_doc(call, txn, "thing", thing);
    if (!rc)
        rc = add_member(reg, call, txn, thing, group);
    return rc;
}

/* PUT /thing-groups/removeThingFromThingGroup */
int registry__op_remove_thing_from_thing_group(struct roost_registry *reg,
                                               struct roost_store_txn *txn,
                                               struct roost_api_call *call)
{
    char group[REGISTRY_NAME_MAX + 1], thing[REGISTRY_NAME_MAX + 1];
    ROOST_UNUSED(reg);
    int rc = resolve_ref(call, "thingGroupName", "thingGroupArn", "thinggroup", group);
    if (!rc)
        rc = resolve_ref(call, "thingName", "thingArn", "thing", thing);
    if (!rc)
        rc = require_doc(call, txn, "thinggroup", group);
    if (!rc)
        rc = require_doc(call, txn, "thing", thing);
    if (!rc)
        rc = remove_member(reg, call, txn, thing, group);
    if (!rc) {
        call->effects.things_changed = true;
        call->effects.policies_changed = true;
    }
    return rc;
}

/* Checks a list of group names (thingGroupsToAdd/Remove). */
static int group_list(struct roost_api_call *call, struct roost_store_txn *txn, const char *key,
                      json_t **out)
{
    int rc = registry__member_array(call, call->body, key, out);
    size_t i;
    json_t *g;
    if (rc || !*out)
        return rc;
    json_array_foreach(*out, i, g) {
        if (!json_is_string(g))
            return ROOST_API_INVALID(call, "Invalid type for %s: expected a list of names", key);
        rc = registry__check_name(call, key, json_string_value(g));
        if (!rc)
            rc = require_doc(call, txn, "thinggroup", json_string_value(g));
        if (rc)
            return rc;
    }
    return 0;
}

/* PUT /thing-groups/updateThingGroupsForThing */
int registry__op_update_thing_groups_for_thing(struct roost_registry *reg,
                                               struct roost_store_txn *txn,
                                               struct roost_api_call *call)
{
    const char *thing = NULL;
    json_t *add = NULL, *del = NULL, *g;
    bool override_dynamic = false;
    size_t i;
    ROOST_UNUSED(reg);
    int rc = registry__member_string(call, call->body, "thingName", &thing);
    if (!rc && !thing)
        rc = ROOST_API_INVALID(call, "thingName is required");
    if (!rc)
        rc = registry__check_name(call, "thingName", thing);
    if (!rc)
        rc = registry__member_bool(call, call->body, "overrideDynamicGroups", false,
                                   &override_dynamic);
    if (!rc)
        rc = require_doc(call, txn, "thing", thing);
    if (!rc)
        rc = group_list(call, txn, "thingGroupsToAdd", &add);
    if (!rc)
        rc = group_list(call, txn, "thingGroupsToRemove", &del);
    json_array_foreach(del, i, g) {
        if (rc)
            break;
        rc = remove_member(reg, call, txn, thing, json_string_value(g));
    }
    json_array_foreach(add, i, g) {
        if (rc)
            break;
        rc = add_member(reg, call, txn, thing, json_string_value(g));
    }
    if (!rc) {
        call->effects.things_changed = true;
        call->effects.policies_changed = true;
    }
    return rc;
}

/* GET /thing-groups/{thingGroupName}/things?recursive= */
int registry__op_list_things_in_thing_group(struct roost_registry *reg,
                                            struct roost_store_txn *txn,
                                            struct roost_api_call *call)
{
    const char *group = call->labels[0];
    struct page pg;
    const char *token = NULL;
    struct names groups = {0}, things = {0};
    bool recursive = false;
    int rc = page_begin(call, &pg, &token);
    if (rc)
        return rc;
    rc = registry__check_name(call, "thingGroupName", group);
    if (!rc)
        rc = registry__query_bool(call, "recursive", false, &recursive);
    if (!rc)
        rc = require_doc(call, txn, "thinggroup", group);
    if (rc)
        goto out;
    names_add(&groups, group);
    if (recursive)
        rc = group_descendants(call, txn, group, &groups);
    for (size_t i = 0; !rc && i < groups.n; i++) {
        rc = roost_store_link_list(txn, "member", "thing", NULL, "thinggroup", groups.v[i],
                                   NULL, 0, collect_from_name, &things);
        if (rc)
            rc = registry__store_fail(call, rc, "member");
    }
    if (rc)
        goto out;
    names_sort_unique(&things);
    page_names(&pg, &things, token, make_name_item, reg);
    page_finish(call, &pg, "things");
out:
    names_free(&groups);
    names_free(&things);
    page_cleanup(&pg);
    return rc;
}

/* GET /things/{thingName}/thing-groups */
/* One page of the names at the other end of `rel` links of the document
 * named by the first path label: the shape of ListThingGroupsForThing and
 * ListThingsInBillingGroup. `named_is_from` says on which end of the link
 * the named document stands. */
static int list_linked_page(struct roost_registry *reg, struct roost_store_txn *txn,
                            struct roost_api_call *call, const char *label, const char *kind,
                            const char *rel, const char *other_kind, bool named_is_from,
                            json_t *(*make_item)(const struct roost_registry *, const char *),
                            const char *member)
{
    const char *name = call->labels[0];
    struct page pg;
    const char *token = NULL;
    struct names found = {0};
    int rc = page_begin(call, &pg, &token);
    if (rc)
        return rc;
    rc = registry__check_name(call, label, name);
    if (!rc)
        rc = require_doc(call, txn, kind, name);
    if (!rc) {
        rc = named_is_from
                 ? roost_store_link_list(txn, rel, kind, name, other_kind, NULL, token,
                                         pg.max + 1, collect_to_name, &found)
                 : roost_store_link_list(txn, rel, other_kind, NULL, kind, name, token,
                                         pg.max + 1, collect_from_name, &found);
        if (rc)
            rc = registry__store_fail(call, rc, rel);
    }
    if (rc)
        goto out;
    page_names(&pg, &found, token, make_item, reg);
    page_finish(call, &pg, member);
out:
    names_free(&found);
    page_cleanup(&pg);
    return rc;
}

int registry__op_list_thing_groups_for_thing(struct roost_registry *reg,
                                             struct roost_store_txn *txn,
                                             struct roost_api_call *call)
{
    return list_linked_page(reg, txn, call, "thingName", "thing", "member", "thinggroup", true,
                            make_group_item, "thingGroups");
}

/* ==== Billing groups ======================================================= */

static int parse_billing_props(struct roost_api_call *call, bool required, json_t **out)
{
    json_t *props = NULL;
    const char *desc = NULL;
    *out = NULL;
    int rc = registry__member_object(call, call->body, "billingGroupProperties", &props);
    if (!rc && required && !props)
        rc = ROOST_API_INVALID(call, "billingGroupProperties is required");
    if (!rc)
        rc = registry__member_string(call, props, "billingGroupDescription", &desc);
    if (!rc && desc)
        rc = check_description(call, "billingGroupProperties.billingGroupDescription", desc);
    if (rc)
        return rc;
    *out = json_object();
    if (desc)
        json_object_set_new(*out, "billingGroupDescription", json_string(desc));
    return 0;
}

static void billing_ids_result(struct roost_api_call *call, const json_t *doc)
{
    json_t *r = json_object();
    json_object_set(r, "billingGroupName", json_object_get(doc, "billingGroupName"));
    json_object_set(r, "billingGroupArn", json_object_get(doc, "billingGroupArn"));
    json_object_set(r, "billingGroupId", json_object_get(doc, "billingGroupId"));
    call->result = r;
}

/* POST /billing-groups/{billingGroupName} */
int registry__op_create_billing_group(struct roost_registry *reg, struct roost_store_txn *txn,
                                      struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *props = NULL, *tags = NULL, *doc = NULL;
    char id[37], arn[REGISTRY_ARN_MAX];
    int rc = registry__check_name(call, "billingGroupName", name);
    if (!rc)
        rc = parse_billing_props(call, false, &props);
    if (!rc)
        rc = parse_tags(call, call->body, &tags);
    if (rc)
        goto out;
    rc = registry__doc_load(call, txn, "billinggroup", name, &doc, NULL);
    if (rc == 0) {
        if (json_equal(props, json_object_get(doc, "billingGroupProperties")))
            billing_ids_result(call, doc);
        else
            rc = registry__fail_exists(
                call, json_string_value(json_object_get(doc, "billingGroupId")),
                json_string_value(json_object_get(doc, "billingGroupArn")),
                "Billing Group %s already exists with different properties", name);
        goto out;
    }
    if (rc != ROOST_ENOTFOUND)
        goto out;
    registry__uuid(id);
    make_arn(reg, "billinggroup", name, arn);
    doc = json_object();
    json_object_set_new(doc, "billingGroupName", json_string(name));
    json_object_set_new(doc, "billingGroupId", json_string(id));
    json_object_set_new(doc, "billingGroupArn", json_string(arn));
    json_object_set(doc, "billingGroupProperties", props);
    json_t *md = json_object();
    json_object_set_new(md, "creationDate", registry__timestamp(call->now_ms));
    json_object_set_new(doc, "billingGroupMetadata", md);
    if (tags)
        json_object_set(doc, "tags", tags);
    rc = registry__doc_store(call, txn, "billinggroup", name, doc, 0, NULL);
    if (rc == ROOST_ECONFLICT)
        rc = registry__store_fail(call, rc, "billinggroup");
    if (rc)
        goto out;
    billing_ids_result(call, doc);
    call->effects.things_changed = true;
out:
    json_decref(props);
    json_decref(tags);
    json_decref(doc);
    return rc;
}

/* GET /billing-groups/{billingGroupName} */
int registry__op_describe_billing_group(struct roost_registry *reg, struct roost_store_txn *txn,
                                        struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *doc = NULL;
    int64_t version = 0;
    ROOST_UNUSED(reg);
    int rc = registry__check_name(call, "billingGroupName", name);
    if (!rc)
        rc = load_billing(call, txn, name, &doc, &version);
    if (rc)
        goto out;
    json_t *r = json_object();
    json_object_set(r, "billingGroupName", json_object_get(doc, "billingGroupName"));
    json_object_set(r, "billingGroupId", json_object_get(doc, "billingGroupId"));
    json_object_set(r, "billingGroupArn", json_object_get(doc, "billingGroupArn"));
    json_object_set_new(r, "version", json_integer(version));
    json_t *props = json_object_get(doc, "billingGroupProperties");
    json_object_set_new(r, "billingGroupProperties", props ? json_incref(props) : json_object());
    json_t *md = json_object_get(doc, "billingGroupMetadata");
    json_object_set_new(r, "billingGroupMetadata", md ? json_incref(md) : json_object());
    call->result = r;
out:
    json_decref(doc);
    return rc;
}

static int list_billing_cb(void *ud, const struct roost_store_doc *d)
{
    struct list_groups *lg = ud;
    if (page_full(lg->pg))
        return PAGE_STOP;
    page_add(lg->pg, make_billing_item(lg->reg, d->name), d->name);
    return 0;
}

/* GET /billing-groups?namePrefixFilter= */
int registry__op_list_billing_groups(struct roost_registry *reg, struct roost_store_txn *txn,
                                     struct roost_api_call *call)
{
    struct page pg;
    const char *token = NULL;
    int rc = page_begin(call, &pg, &token);
    if (rc)
        return rc;
    const char *prefix = registry__query(call, "namePrefixFilter");
    if (prefix)
        rc = registry__check_name(call, "namePrefixFilter", prefix);
    if (!rc) {
        struct list_groups lg = {&pg, reg, false};
        rc = roost_store_doc_list(txn, "billinggroup", prefix, token, 0, list_billing_cb, &lg);
        if (rc == PAGE_STOP)
            rc = 0;
        if (rc)
            rc = registry__store_fail(call, rc, "list billing groups");
    }
    if (!rc)
        page_finish(call, &pg, "billingGroups");
    page_cleanup(&pg);
    return rc;
}

/* PATCH /billing-groups/{billingGroupName} */
int registry__op_update_billing_group(struct roost_registry *reg, struct roost_store_txn *txn,
                                      struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *props = NULL, *doc = NULL;
    bool has_expected = false;
    int64_t expected = 0, version = 0;
    ROOST_UNUSED(reg);
    int rc = registry__check_name(call, "billingGroupName", name);
    if (!rc)
        rc = parse_billing_props(call, true, &props);
    if (!rc)
        rc = registry__member_int(call, call->body, "expectedVersion", &has_expected, &expected);
    if (!rc)
        rc = load_billing(call, txn, name, &doc, &version);
    if (rc)
        goto out;
    if (has_expected && expected != version) {
        rc = version_conflict(call, "billing group", name);
        goto out;
    }
    json_object_set(doc, "billingGroupProperties", props);
    rc = store_group_update(call, txn, "billinggroup", name, doc, version);
out:
    json_decref(props);
    json_decref(doc);
    return rc;
}

/* DELETE /billing-groups/{billingGroupName}?expectedVersion= : a missing
 * group is success; its things simply leave it. */
int registry__op_delete_billing_group(struct roost_registry *reg, struct roost_store_txn *txn,
                                      struct roost_api_call *call)
{
    const char *name = call->labels[0];
    json_t *doc = NULL;
    bool gone = false;
    ROOST_UNUSED(reg);
    int rc = load_for_delete(call, txn, "billingGroupName", "billinggroup", "billing group", name, &doc,
                             &gone);
    if (rc || gone)
        goto out;
    rc = store_del(call, txn, "billinggroup", name);
    if (!rc)
        call->effects.things_changed = true;
out:
    json_decref(doc);
    return rc;
}

/* PUT /billing-groups/addThingToBillingGroup: a thing is in at most one
 * billing group, so adding it moves it. */
int registry__op_add_thing_to_billing_group(struct roost_registry *reg,
                                            struct roost_store_txn *txn,
                                            struct roost_api_call *call)
{
    char group[REGISTRY_NAME_MAX + 1], thing[REGISTRY_NAME_MAX + 1];
    struct names cur = {0};
    ROOST_UNUSED(reg);
    int rc = resolve_ref(call, "billingGroupName", "billingGroupArn", "billinggroup", group);
    if (!rc)
        rc = resolve_ref(call, "thingName", "thingArn", "thing", thing);
    if (!rc)
        rc = require_doc(call, txn, "billinggroup", group);
    if (!rc)
        rc = require_doc(call, txn, "thing", thing);
    if (!rc) {
        rc = roost_store_link_list(txn, "billing", "thing", thing, "billinggroup", NULL, NULL, 0,
                                   collect_to_name, &cur);
        if (rc)
            rc = registry__store_fail(call, rc, "billing");
    }
    for (size_t i = 0; !rc && i < cur.n; i++)
        if (strcmp(cur.v[i], group) != 0)
            rc = link_del(call, txn, "billing", "thing", thing, "billinggroup", cur.v[i]);
    if (!rc)
        rc = link_add(call, txn, "billing", "thing", thing, "billinggroup", group);
    if (!rc)
        call->effects.things_changed = true;
    names_free(&cur);
    return rc;
}

/* PUT /billing-groups/removeThingFromBillingGroup */
int registry__op_remove_thing_from_billing_group(struct roost_registry *reg,
                                                 struct roost_store_txn *txn,
                                                 struct roost_api_call *call)
{
    char group[REGISTRY_NAME_MAX + 1], thing[REGISTRY_NAME_MAX + 1];
    ROOST_UNUSED(reg);
    int rc = resolve_ref(call, "billingGroupName", "billingGroupArn", "billinggroup", group);
    if (!rc)
        rc = resolve_ref(call, "thingName", "thingArn", "thing", thing);
    if (!rc)
        rc = require_doc(call, txn, "billinggroup", group);
    if (!rc)
        rc = require_doc(call, txn, "thing", thing);
    if (!rc)
        rc = link_del(call, txn, "billing", "thing", thing, "billinggroup", group);
    if (!rc)
        call->effects.things_changed = true;
    return rc;
}

/* GET /billing-groups/{billingGroupName}/things */
int registry__op_list_things_in_billing_group(struct roost_registry *reg,
                                              struct roost_store_txn *txn,
                                              struct roost_api_call *call)
{
    return list_linked_page(reg, txn, call, "billingGroupName", "billinggroup", "billing",
                            "thing", false, make_name_item, "things");
}

/* ==== Thing principals ===================================================== */

/* The principal header (see registry.h) as a certificate id. Roost's
 * principals are certificates; Cognito identities are refused. */
static int principal_cert(struct roost_api_call *call, char out[CERT_ID_LEN + 1])
{
    const char *p = registry__query(call, "x-amzn-principal");
    if (!p || !*p)
        return ROOST_API_INVALID(call, "The principal (x-amzn-principal header) is required");
    if (registry__cert_id_from_arn(p, out))
        return ROOST_API_INVALID(call, "Principal %.300s is not a certificate ARN", p);
    return 0;
}

static int require_cert(struct roost_api_call *call, struct roost_store_txn *txn,
                        const char *cert_id)
{
    bool found = false;
    int rc = exists(call, txn, "cert", cert_id, &found);
    if (!rc && !found)
        rc = ROOST_API_NOT_FOUND(call, "The certificate given in the principal does not exist.");
    return rc;
}

struct attached_things {
    const char *self;              /* the thing being attached */
    bool other;                    /* another thing is attached */
    char exclusive_other[REGISTRY_NAME_MAX + 1]; /* another thing holds it exclusively */
};

static int attached_cb(void *ud, const struct roost_store_link *l)
{
    struct attached_things *a = ud;
    if (strcmp(l->from_name, a->self) != 0) {
        if (strcmp(l->rel, "exclusive") == 0)
            snprintf(a->exclusive_other, sizeof(a->exclusive_other), "%s", l->from_name);
        else
            a->other = true;
    }
    return 0;
}

/*
 * PUT /things/{thingName}/principals (header x-amzn-principal,
 * ?thingPrincipalType=EXCLUSIVE_THING|NON_EXCLUSIVE_THING). An exclusive
 * attachment needs the certificate to be attached to no other thing and
 * keeps others off it until detached; it is recorded as an "exclusive" link
 * beside the "principal" one.
 */
int registry__op_attach_thing_principal(struct roost_registry *reg, struct roost_store_txn *txn,
                                        struct roost_api_call *call)
{
    const char *thing = call->labels[0];
    char cert[CERT_ID_LEN + 1];
    bool exclusive = false;
    ROOST_UNUSED(reg);
    int rc = registry__check_name(call, "thingName", thing);
    if (!rc)
        rc = principal_cert(call, cert);
    if (rc)
        return rc;
    const char *type = registry__query(call, "thingPrincipalType");
    if (type && strcmp(type, "EXCLUSIVE_THING") == 0)
        exclusive = true;
    else if (type && strcmp(type, "NON_EXCLUSIVE_THING") != 0)
        return ROOST_API_INVALID(call,
                                 "1 validation error detected: Value '%.64s' at "
                                 "'thingPrincipalType' failed to satisfy constraint: Member must "
                                 "satisfy enum value set: [EXCLUSIVE_THING, NON_EXCLUSIVE_THING]",
                                 type);
    rc = require_doc(call, txn, "thing", thing);
    if (!rc)
        rc = require_cert(call, txn, cert);
    if (rc)
        return rc;
    struct attached_things a = {.self = thing};
    rc = roost_store_link_list(txn, "principal", "thing", NULL, "cert", cert, NULL, 0,
                               attached_cb, &a);
    if (!rc)
        rc = roost_store_link_list(txn, "exclusive", "thing", NULL, "cert", cert, NULL, 0,
                                   attached_cb, &a);
    if (rc)
        return registry__store_fail(call, rc, "principal");
    if (a.exclusive_other[0])
        return ROOST_API_INVALID(call, "The principal is exclusively attached to thing %s",
                                 a.exclusive_other);
    if (exclusive && a.other)
        return ROOST_API_INVALID(call,
                                 "The principal is attached to other things and cannot be "
                                 "attached exclusively");
    rc = link_add(call, txn, "principal", "thing", thing, "cert", cert);
    if (!rc && exclusive)
        rc = link_add(call, txn, "exclusive", "thing", thing, "cert", cert);
    else if (!rc)
        rc = link_del(call, txn, "exclusive", "thing", thing, "cert", cert);
    if (rc)
        return rc;
    roost_api_effects_cert(call, cert); /* that certificate's connections only */
    return 0;
}

/* DELETE /things/{thingName}/principals (header x-amzn-principal): a
 * principal that is not attached is success. */
int registry__op_detach_thing_principal(struct roost_registry *reg, struct roost_store_txn *txn,
                                        struct roost_api_call *call)
{
    const char *thing = call->labels[0];
    char cert[CERT_ID_LEN + 1];
    ROOST_UNUSED(reg);
    int rc = registry__check_name(call, "thingName", thing);
    if (!rc)
        rc = principal_cert(call, cert);
    if (!rc)
        rc = require_doc(call, txn, "thing", thing);
    if (!rc)
        rc = link_del(call, txn, "principal", "thing", thing, "cert", cert);
    if (!rc)
        rc = link_del(call, txn, "exclusive", "thing", thing, "cert", cert);
    if (rc)
        return rc;
    roost_api_effects_cert(call, cert); /* that certificate's connections only */
    return 0;
}

struct list_principals {
    struct page *pg;
    const struct roost_registry *reg;
};

static int list_principals_cb(void *ud, const struct roost_store_link *l)
{
    struct list_principals *lp = ud;
    if (page_full(lp->pg))
        return PAGE_STOP;
    page_add(lp->pg, arn_json(lp->reg, "cert", l->to_name), l->to_name);
    return 0;
}

/* GET /things/{thingName}/principals: certificate ARNs, by certificate id. */
int registry__op_list_thing_principals(struct roost_registry *reg, struct roost_store_txn *txn,
                                       struct roost_api_call *call)
{
    const char *thing = call->labels[0];
    struct page pg;
    const char *token = NULL;
    bool found = false;
    int rc = page_begin(call, &pg, &token);
    if (rc)
        return rc;
    rc = registry__check_name(call, "thingName", thing);
    if (!rc)
        rc = exists(call, txn, "thing", thing, &found);
    if (!rc && !found)
        rc = ROOST_API_NOT_FOUND(call,
                                 "Failed to list principals for thing %s because the thing does "
                                 "not exist in your account",
                                 thing);
    if (rc)
        goto out;
    struct list_principals lp = {&pg, reg};
    rc = roost_store_link_list(txn, "principal", "thing", thing, "cert", NULL, token, 0,
                               list_principals_cb, &lp);
    if (rc == PAGE_STOP)
        rc = 0;
    if (rc) {
        rc = registry__store_fail(call, rc, "principal");
        goto out;
    }
    page_finish(call, &pg, "principals");
out:
    page_cleanup(&pg);
    return rc;
}

/* GET /principals/things (header x-amzn-principal) */
int registry__op_list_principal_things(struct roost_registry *reg, struct roost_store_txn *txn,
                                       struct roost_api_call *call)
{
    struct page pg;
    const char *token = NULL;
    char cert[CERT_ID_LEN + 1];
    struct names things = {0};
    int rc = page_begin(call, &pg, &token);
    if (rc)
        return rc;
    rc = principal_cert(call, cert);
    if (!rc)
        rc = require_cert(call, txn, cert);
    if (!rc) {
        rc = roost_store_link_list(txn, "principal", "thing", NULL, "cert", cert, token,
                                   pg.max + 1, collect_from_name, &things);
        if (rc)
            rc = registry__store_fail(call, rc, "principal");
    }
    if (rc)
        goto out;
    page_names(&pg, &things, token, make_name_item, reg);
    page_finish(call, &pg, "things");
out:
    names_free(&things);
    page_cleanup(&pg);
    return rc;
}
