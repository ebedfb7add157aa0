/*
 * tree.c - a shard's replica of the subscription tree. One node per topic
 * level; '+' and '#' children are kept apart from the literal children so a
 * match walks at most three branches per level and allocates nothing.
 * Shared subscriptions hang off the node of their filter as groups.
 *
 * Each replica is touched by its own loop thread only; replicas are kept in
 * step by subscription changes posted to every shard (route.c).
 */
#include "broker_int.h"

static struct tnode *node_create(struct tnode *parent, const char *level, size_t n)
{
    struct tnode *t = roost_xcalloc(1, sizeof(*t));
    roost_map_init(&t->children);
    t->parent = parent;
    t->level = roost_xstrndup(level, n);
    return t;
}

void broker__tree_init(struct tnode *root)
{
    memset(root, 0, sizeof(*root));
    roost_map_init(&root->children);
}

static void entry_release(struct sub_entry *e)
{
    broker__session_unref(&e->session);
}

static void node_free_contents(struct tnode *t)
{
    size_t pos = 0;
    void *v;
    while (roost_map_next(&t->children, &pos, NULL, &v)) {
        node_free_contents(v);
        roost_free(v);
    }
    roost_map_cleanup(&t->children);
    if (t->plus) {
        node_free_contents(t->plus);
        roost_free(t->plus);
    }
    if (t->hash) {
        node_free_contents(t->hash);
        roost_free(t->hash);
    }
    for (size_t i = 0; i < t->n_subs; i++)
        entry_release(&t->subs[i]);
    roost_free(t->subs);
    for (struct shared_group *g = t->groups, *next; g; g = next) {
        next = g->link;
        for (size_t i = 0; i < g->n; i++)
            entry_release(&g->members[i]);
        roost_free(g->members);
        roost_free(g->name);
        roost_free(g);
    }
    roost_free(t->level);
}

void broker__tree_cleanup(struct tnode *root)
{
    node_free_contents(root);
    broker__tree_init(root);
}

/* Finds (or with create, makes) the node for a plain filter. */
static struct tnode *node_for_filter(struct tnode *root, const char *filter, bool create)
{
    struct tnode *t = root;
    const char *p = filter;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        struct tnode **special = NULL;
        if (n == 1 && p[0] == '+')
            special = &t->plus;
        else if (n == 1 && p[0] == '#')
            special = &t->hash;
        struct tnode *next;
        if (special) {
            if (!*special && create)
                *special = node_create(t, p, n);
            next = *special;
        } else {
            next = roost_map_get(&t->children, p, n);
            if (!next && create) {
                next = node_create(t, p, n);
                roost_map_put(&t->children, p, n, next);
            }
        }
        if (!next)
            return NULL;
        t = next;
        if (!slash)
            return t;
        p = slash + 1;
    }
}

static bool node_empty(const struct tnode *t)
{
    return !t->n_subs && !t->groups && !t->plus && !t->hash && t->children.count == 0;
}

static void node_prune(struct tnode *t)
{
    while (t->parent && node_empty(t)) {
        struct tnode *parent = t->parent;
        if (parent->plus == t)
            parent->plus = NULL;
        else if (parent->hash == t)
            parent->hash = NULL;
        else
            roost_map_del(&parent->children, t->level, strlen(t->level));
        roost_map_cleanup(&t->children);
        roost_free(t->subs);
        roost_free(t->level);
        roost_free(t);
        t = parent;
    }
}

static struct sub_entry *entries_find(struct sub_entry *v, size_t n, const struct session *s)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].session == s)
            return &v[i];
    return NULL;
}

static void entries_add(struct sub_entry **v, size_t *n, size_t *cap, struct session *s,
                        struct roost_mqtt_sub_opts opts, uint32_t sub_id)
{
    struct sub_entry *e = entries_find(*v, *n, s);
    if (e) {
        e->opts = opts;
        e->sub_id = sub_id;
        return;
    }
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *v = roost_xrealloc(*v, *cap * sizeof(**v));
    }
    roost_ref_get(&s->ref);
    (*v)[(*n)++] = (struct sub_entry){s, opts, sub_id};
}

static bool entries_remove(struct sub_entry *v, size_t *n, const struct session *s)
{
    for (size_t i = 0; i < *n; i++) {
        if (v[i].session == s) {
            entry_release(&v[i]);
            v[i] = v[--*n];
            return true;
        }
    }
    return false;
}

void broker__tree_add(struct tnode *root, const char *filter, struct session *s,
                      struct roost_mqtt_sub_opts opts, uint32_t sub_id)
{
    struct roost_str group, inner;
    if (roost_mqtt_filter_shared(roost_str_c(filter), &group, &inner)) {
        char *plain = roost_xstrndup(inner.p, inner.n);
        struct tnode *t = node_for_filter(root, plain, true);
        roost_free(plain);
        struct shared_group *g = t->groups;
        while (g && !(strlen(g->name) == group.n && memcmp(g->name, group.p, group.n) == 0))
            g = g->link;
        if (!g) {
            g = roost_xcalloc(1, sizeof(*g));
            g->name = roost_xstrndup(group.p, group.n);
            g->link = t->groups;
            t->groups = g;
        }
        entries_add(&g->members, &g->n, &g->cap, s, opts, sub_id);
        return;
    }
    struct tnode *t = node_for_filter(root, filter, true);
    entries_add(&t->subs, &t->n_subs, &t->cap_subs, s, opts, sub_id);
}

bool broker__tree_remove(struct tnode *root, const char *filter, struct session *s)
{
    struct roost_str group, inner;
    bool removed = false;
    if (roost_mqtt_filter_shared(roost_str_c(filter), &group, &inner)) {
        char *plain = roost_xstrndup(inner.p, inner.n);
        struct tnode *t = node_for_filter(root, plain, false);
        roost_free(plain);
        if (!t)
            return false;
        for (struct shared_group **pg = &t->groups; *pg; pg = &(*pg)->link) {
            struct shared_group *g = *pg;
            if (strlen(g->name) != group.n || memcmp(g->name, group.p, group.n) != 0)
                continue;
            removed = entries_remove(g->members, &g->n, s);
            if (g->n == 0) {
                *pg = g->link;
                roost_free(g->members);
                roost_free(g->name);
                roost_free(g);
            }
            break;
        }
        node_prune(t);
        return removed;
    }
    struct tnode *t = node_for_filter(root, filter, false);
    if (!t)
        return false;
    removed = entries_remove(t->subs, &t->n_subs, s);
    node_prune(t);
    return removed;
}

static void emit_node(struct tnode *t, struct match_sink *sink)
{
    for (size_t i = 0; i < t->n_subs; i++)
        sink->fn(sink, &t->subs[i], false);
    for (struct shared_group *g = t->groups; g; g = g->link) {
        if (!g->n)
            continue;
        /* Prefer a member that is connected; fall back to the next one
         * (a persistent session queues it). */
        size_t pick = g->next % g->n;
        for (size_t i = 0; i < g->n; i++) {
            size_t k = (g->next + i) % g->n;
            if (atomic_load_explicit(&g->members[k].session->online, memory_order_relaxed)) {
                pick = k;
                break;
            }
        }
        g->next = pick + 1;
        sink->fn(sink, &g->members[pick], true);
    }
}

static void match_level(struct tnode *t, const char *p, size_t n, bool root,
                        struct match_sink *sink)
{
    const char *slash = memchr(p, '/', n);
    size_t len = slash ? (size_t)(slash - p) : n;
    /* Topics beginning with '$' are not matched by a leading wildcard. */
    bool wild_ok = !(root && len > 0 && p[0] == '$');
    if (wild_ok && t->hash)
        emit_node(t->hash, sink);
    if (wild_ok && t->plus) {
        if (slash) {
            match_level(t->plus, slash + 1, n - len - 1, false, sink);
        } else {
            emit_node(t->plus, sink);
            if (t->plus->hash)
                emit_node(t->plus->hash, sink);
        }
    }
    struct tnode *child = t->children.count ? roost_map_get(&t->children, p, len) : NULL;
    if (child) {
        if (slash) {
            match_level(child, slash + 1, n - len - 1, false, sink);
        } else {
            emit_node(child, sink);
            if (child->hash)
                emit_node(child->hash, sink);
        }
    }
}

void broker__tree_match(struct tnode *root, const char *topic, size_t topic_len,
                        struct match_sink *sink)
{
    match_level(root, topic, topic_len, true, sink);
}
