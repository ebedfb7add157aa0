/*
 * doc.c - shadow documents as trees: the merge of an update into desired or
 * reported, the metadata that mirrors them, the delta between them, and the
 * stored form. Every function here builds new objects only along the paths
 * a request touches and shares the rest (json_incref), so the old shadow is
 * never modified and an update costs what it changes, not what is stored.
 *
 * Invariant kept for every shadow this file builds: metadata has exactly the
 * shape of the state it describes (a {"timestamp":T} per scalar, an array of
 * entries per array, an object per object).
 */
#include "shadow_int.h"

/* ==== Timestamps ========================================================== */

void shadow__ts_init(struct shadow_ts *ts, int64_t now, int64_t old)
{
    ts->now = now;
    ts->old = old;
    ts->leaf_now = NULL;
    ts->leaf_old = NULL;
}

void shadow__ts_cleanup(struct shadow_ts *ts)
{
    json_decref(ts->leaf_now);
    json_decref(ts->leaf_old);
    ts->leaf_now = ts->leaf_old = NULL;
}

static json_t *ts_leaf(json_t **slot, int64_t t)
{
    if (!*slot)
        *slot = json_pack("{sI}", "timestamp", (json_int_t)t);
    ROOST_ASSERT(*slot);
    return json_incref(*slot);
}

/* A new reference to the metadata mirror of a stored value. */
static json_t *mirror(const json_t *v, json_t **leaf_slot, int64_t t)
{
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        json_t *out = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(out, mirror(json_array_get(v, i), leaf_slot, t));
        return out;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        json_t *out = json_object();
        json_object_foreach((json_t *)v, k, child) {
            json_object_set_new_nocheck(out, k, mirror(child, leaf_slot, t));
        }
        return out;
    }
    return ts_leaf(leaf_slot, t);
}

/* ==== Merge ================================================================ */

/* A patched value as it will be stored: objects merge (into nothing when
 * the old value is not an object), anything else is shared as it is. */
static json_t *merged_value(const json_t *old, json_t *pv)
{
    if (json_is_object(pv))
        return shadow__merge(json_is_object(old) ? old : NULL, pv);
    return json_incref(pv);
}

json_t *shadow__merge(const json_t *old, const json_t *patch)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    ROOST_ASSERT(out);
    /* Old keys first, in their order, so that a document's key order is
     * stable across updates; then new keys in the request's order. */
    if (json_is_object(old)) {
        json_object_foreach((json_t *)old, k, v) {
            json_t *pv = json_object_get(patch, k);
            if (!pv)
                json_object_set_nocheck(out, k, v);
            else if (!json_is_null(pv))
                json_object_set_new_nocheck(out, k, merged_value(v, pv));
        }
    }
    json_object_foreach((json_t *)patch, k, v) {
        if (json_is_null(v))
            continue;
        if (json_is_object(old) && json_object_get(old, k))
            continue;
        json_object_set_new_nocheck(out, k, merged_value(NULL, v));
    }
    return out;
}

json_t *shadow__merge_md(const json_t *old_md, const json_t *merged, const json_t *patch,
                         struct shadow_ts *ts)
{
    json_t *out = json_object();
    const char *k;
    json_t *sv;
    ROOST_ASSERT(out);
    /* Walk the merged state, not the old metadata: the result then has
     * exactly the state's keys, whatever the old metadata looked like. */
    json_object_foreach((json_t *)merged, k, sv) {
        json_t *pv = json_object_get(patch, k);
        json_t *om = json_is_object(old_md) ? json_object_get(old_md, k) : NULL;
        json_t *m;
        if (pv && json_is_object(pv))
            m = shadow__merge_md(json_is_object(om) ? om : NULL, sv, pv, ts);
        else if (pv)
            m = mirror(pv, &ts->leaf_now, ts->now);
        else if (om)
            m = json_incref(om);
        else /* stored metadata was missing this key: date it to the document */
            m = mirror(sv, &ts->leaf_old, ts->old);
        json_object_set_new_nocheck(out, k, m);
    }
    return out;
}

/* ==== Delta ================================================================ */

json_t *shadow__delta(const json_t *desired, const json_t *reported)
{
    json_t *out = NULL;
    const char *k;
    json_t *dv;
    json_object_foreach((json_t *)desired, k, dv) {
        json_t *rv = reported ? json_object_get(reported, k) : NULL;
        json_t *d = NULL;
        if (!rv)
            d = json_incref(dv);
        else if (json_is_object(dv) && json_is_object(rv))
            d = shadow__delta(dv, rv); /* only the differing leaves, path kept */
        else if (!shadow__json_equal(dv, rv))
            d = json_incref(dv); /* arrays and type changes: the whole value */
        if (!d)
            continue;
        if (!out)
            out = json_object();
        json_object_set_new_nocheck(out, k, d);
    }
    return out;
}

json_t *shadow__delta_md(const json_t *delta, const json_t *md_desired, struct shadow_ts *ts)
{
    json_t *out = json_object();
    const char *k;
    json_t *dv;
    ROOST_ASSERT(out);
    json_object_foreach((json_t *)delta, k, dv) {
        json_t *m = json_is_object(md_desired) ? json_object_get(md_desired, k) : NULL;
        json_t *dm;
        if (json_is_object(dv))
            dm = shadow__delta_md(dv, m, ts);
        else if (m)
            dm = json_incref(m);
        else
            dm = mirror(dv, &ts->leaf_old, ts->old);
        json_object_set_new_nocheck(out, k, dm);
    }
    return out;
}

/* ==== Writers =============================================================== */

static void jw_leaf(struct shadow_jw *w, int64_t now)
{
    shadow__jw_lit(w, "{\"timestamp\":");
    shadow__jw_int(w, (long long)now);
    shadow__jw_lit(w, "}");
}

void shadow__jw_mirror(struct shadow_jw *w, const json_t *v, int64_t now)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        bool first = true;
        shadow__jw_lit(w, "{");
        json_object_foreach((json_t *)v, k, child) {
            shadow__jw_key(w, &first, k);
            shadow__jw_mirror(w, child, now);
        }
        shadow__jw_lit(w, "}");
    } else if (json_is_array(v)) {
        size_t n = json_array_size(v);
        shadow__jw_lit(w, "[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                shadow__jw_lit(w, ",");
            shadow__jw_mirror(w, json_array_get(v, i), now);
        }
        shadow__jw_lit(w, "]");
    } else {
        jw_leaf(w, now);
    }
}

void shadow__jw_sections(struct shadow_jw *w, const json_t *desired, const json_t *reported)
{
    bool first = true;
    shadow__jw_lit(w, "{");
    if (desired) {
        shadow__jw_key(w, &first, "desired");
        shadow__jw_value(w, desired);
    }
    if (reported) {
        shadow__jw_key(w, &first, "reported");
        shadow__jw_value(w, reported);
    }
    shadow__jw_lit(w, "}");
}

/* ==== Stored form ============================================================ */

uint64_t roost_shadow_version(const struct roost_shadow *s)
{
    return s->version;
}

int64_t roost_shadow_timestamp(const struct roost_shadow *s)
{
    return s->timestamp;
}

void roost_shadow_destroy(struct roost_shadow *s)
{
    if (!s)
        return;
    json_decref(s->desired);
    json_decref(s->reported);
    json_decref(s->md_desired);
    json_decref(s->md_reported);
    roost_buf_cleanup(&s->text);
    roost_free(s);
}

/*
 * Stored form, same keys and order as a GET answer without delta:
 * {"state":{"desired":..,"reported":..},"metadata":{..},"version":N,"timestamp":T}
 */
void shadow__render(struct roost_shadow *s)
{
    struct shadow_jw w = {&s->text, 0};
    roost_buf_clear(&s->text);
    shadow__jw_lit(&w, "{\"state\":");
    s->state_off = s->text.len;
    shadow__jw_sections(&w, s->desired, s->reported);
    s->state_len = s->text.len - s->state_off;
    shadow__jw_lit(&w, ",\"metadata\":");
    s->md_off = s->text.len;
    shadow__jw_sections(&w, s->md_desired, s->md_reported);
    s->md_len = s->text.len - s->md_off;
    shadow__jw_lit(&w, ",\"version\":");
    shadow__jw_int(&w, (long long)s->version);
    shadow__jw_lit(&w, ",\"timestamp\":");
    shadow__jw_int(&w, (long long)s->timestamp);
    shadow__jw_lit(&w, "}");
}

int roost_shadow_serialize(const struct roost_shadow *s, struct roost_buf *out)
{
    return roost_buf_append(out, s->text.data, s->text.len);
}

/* A stored section: a non-empty object is kept, anything else means absent.
 * Takes a borrowed value, returns a new reference or NULL. */
static json_t *section_or_null(json_t *v)
{
    if (!json_is_object(v) || json_object_size(v) == 0)
        return NULL;
    return json_incref(v);
}

int roost_shadow_parse(const void *text, size_t len, struct roost_shadow **out_shadow)
{
    json_error_t err;
    int rc = ROOST_EMALFORMED;
    struct roost_shadow *s = NULL;
    json_t *root = json_loadb(text, len, 0, &err);
    *out_shadow = NULL;
    if (!json_is_object(root))
        goto out;
    json_t *state = json_object_get(root, "state");
    json_t *md = json_object_get(root, "metadata");
    json_t *version = json_object_get(root, "version");
    json_t *ts = json_object_get(root, "timestamp");
    if ((state && !json_is_object(state)) || (md && !json_is_object(md)))
        goto out;
    if (!json_is_integer(version) || json_integer_value(version) < 0)
        goto out;
    if (ts && !json_is_integer(ts))
        goto out;

    s = roost_xcalloc(1, sizeof(*s));
    s->version = (uint64_t)json_integer_value(version);
    s->timestamp = ts ? (int64_t)json_integer_value(ts) : 0;
    s->desired = section_or_null(json_object_get(state, "desired"));
    s->reported = section_or_null(json_object_get(state, "reported"));
    /* Metadata follows state: absent with it, at least {} with it. */
    if (s->desired) {
        json_t *m = json_object_get(md, "desired");
        s->md_desired = json_is_object(m) ? json_incref(m) : json_object();
    }
    if (s->reported) {
        json_t *m = json_object_get(md, "reported");
        s->md_reported = json_is_object(m) ? json_incref(m) : json_object();
    }
    shadow__render(s);
    *out_shadow = s;
    s = NULL;
    rc = 0;
out:
    roost_shadow_destroy(s);
    json_decref(root);
    return rc;
}
