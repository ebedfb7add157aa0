/*
 * shadow_int.h - what the files of src/shadow share: the shadow's in-memory
 * form, the compact JSON writer, semantic JSON equality, and the tree
 * operations (merge, metadata, delta) that ops.c strings together.
 *
 * Trees are jansson values treated as immutable: an operation builds new
 * objects only along the paths a request touches and shares every other
 * node (json_incref) with the old shadow or the request. Never modify a
 * json_t reachable from a struct roost_shadow.
 */
#ifndef ROOST_SHADOW_INT_H
#define ROOST_SHADOW_INT_H

#include "shadow/shadow.h"

#include <jansson.h>

struct roost_shadow {
    json_t *desired;     /* non-empty object, or NULL when the section is absent */
    json_t *reported;    /* same */
    json_t *md_desired;  /* metadata mirroring desired; NULL iff desired is */
    json_t *md_reported; /* metadata mirroring reported; NULL iff reported is */
    uint64_t version;    /* last accepted update's version */
    int64_t timestamp;   /* epoch seconds of the last accepted update */
    /* The stored form, rendered once when the shadow is built: every later
     * use (serialize, /documents, get) copies slices of it instead of
     * walking the trees again. */
    struct roost_buf text;
    size_t state_off, state_len; /* {"desired":..,"reported":..} */
    size_t md_off, md_len;       /* the metadata object */
};

/* Renders s->text from the trees; called once by whoever builds a shadow. */
void shadow__render(struct roost_shadow *s);
#define shadow__state_text(s) ((const char *)(s)->text.data + (s)->state_off)
#define shadow__md_text(s) ((const char *)(s)->text.data + (s)->md_off)

/* ==== json.c: compact writer and equality ================================ */

/* Writes compact JSON (no whitespace, keys in insertion order, reals in the
 * shortest form that reads back equal) into b, or only counts bytes when b
 * is NULL: the state-size limit uses the same code as the output. */
struct shadow_jw {
    struct roost_buf *b; /* NULL: count only */
    size_t n;            /* bytes written or counted */
};

/* Inline: payloads are built from many short pieces. */
static inline void shadow__jw_raw(struct shadow_jw *w, const char *p, size_t n)
{
    struct roost_buf *b = w->b;
    w->n += n;
    if (!b)
        return;
    if (b->cap - b->len < n && roost_buf_reserve(b, n < 512 ? 512 : n) != 0)
        return; /* internal buffers have no limit; only address space can run out */
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
#define shadow__jw_lit(w, lit) shadow__jw_raw((w), (lit), sizeof(lit) - 1)
void shadow__jw_str(struct shadow_jw *w, const char *s, size_t n);
void shadow__jw_int(struct shadow_jw *w, long long v);
void shadow__jw_value(struct shadow_jw *w, const json_t *v);
/* "key": with the separating comma when `*first` is false. */
void shadow__jw_key(struct shadow_jw *w, bool *first, const char *key);

/* Deep equality with numbers compared by value (1 equals 1.0), objects
 * regardless of key order, arrays element by element. */
bool shadow__json_equal(const json_t *a, const json_t *b);

/* ==== doc.c: tree operations ============================================== */

/* Timestamps for metadata leaves, created on first use and shared by every
 * leaf an operation writes. */
struct shadow_ts {
    int64_t now;     /* this request */
    int64_t old;     /* the stored document's, for metadata found missing */
    json_t *leaf_now; /* {"timestamp":now} */
    json_t *leaf_old; /* {"timestamp":old} */
};

void shadow__ts_init(struct shadow_ts *ts, int64_t now, int64_t old);
void shadow__ts_cleanup(struct shadow_ts *ts);

/* old (an object, or NULL/non-object meaning none) merged with patch (an
 * object): null deletes, objects merge recursively, anything else replaces.
 * Returns a new reference; never modifies old or patch. */
json_t *shadow__merge(const json_t *old, const json_t *patch);
/* The metadata for merged = shadow__merge(old, patch): patched leaves get
 * {"timestamp":now}, untouched keys keep old_md's entries. */
json_t *shadow__merge_md(const json_t *old_md, const json_t *merged, const json_t *patch,
                         struct shadow_ts *ts);
/* The desired keys whose values differ from reported's (recursing into
 * objects), or NULL when none do. reported may be NULL. */
json_t *shadow__delta(const json_t *desired, const json_t *reported);
/* The metadata of a delta: desired's metadata at the same paths. */
json_t *shadow__delta_md(const json_t *delta, const json_t *md_desired, struct shadow_ts *ts);

/* Writes the metadata mirror of a request value: every leaf (null included)
 * becomes {"timestamp":now}, arrays element by element. */
void shadow__jw_mirror(struct shadow_jw *w, const json_t *v, int64_t now);
/* {"desired":..,"reported":..} with absent sections left out. */
void shadow__jw_sections(struct shadow_jw *w, const json_t *desired, const json_t *reported);

#endif /* ROOST_SHADOW_INT_H */
