/*
 * test_tree.c - the subscription tree replica: wildcard matching with the
 * spec's rules, '$' topics, shared groups, removal and pruning, and
 * session reference counting through entries.
 */
#include "roost_test.h"
#include "broker/broker_int.h"

#include <stdio.h>

struct collect {
    struct match_sink sink;
    const struct session *seen[16];
    bool shared[16];
    size_t n;
};

static void collect_fn(struct match_sink *sink, const struct sub_entry *e, bool shared)
{
    struct collect *c = (struct collect *)sink;
    if (c->n < 16) {
        c->seen[c->n] = e->session;
        c->shared[c->n] = shared;
        c->n++;
    }
}

static size_t match_count(struct tnode *root, const char *topic)
{
    struct collect c = {.sink = {collect_fn}};
    broker__tree_match(root, topic, strlen(topic), &c.sink);
    return c.n;
}

static struct session *fake_session(void)
{
    struct session *s = roost_xcalloc(1, sizeof(*s));
    roost_ref_init(&s->ref);
    s->client_id = roost_xstrdup("fake");
    atomic_init(&s->online, true);
    return s;
}

static const struct roost_mqtt_sub_opts qos1 = {.qos = 1};

ROOST_TEST(wildcards_follow_the_spec)
{
    struct tnode root;
    broker__tree_init(&root);
    struct session *s = fake_session();
    const char *filters[] = {"a/b", "a/+", "a/#", "#", "+/+", "+", "a/+/c", "$SYS/#", "/+"};
    for (size_t i = 0; i < ROOST_ARRAY_LEN(filters); i++)
        broker__tree_add(&root, filters[i], s, qos1, 0);

    CHECK_EQ(match_count(&root, "a/b"), 5);       /* a/b a/+ a/# # +/+ */
    CHECK_EQ(match_count(&root, "a"), 3);         /* a/# (parent) # + */
    CHECK_EQ(match_count(&root, "a/b/c"), 3);     /* a/# # a/+/c */
    CHECK_EQ(match_count(&root, "$SYS/x"), 1);    /* only $SYS/#, not # or +/+ */
    CHECK_EQ(match_count(&root, "/x"), 3);        /* # +/+ /+ */
    CHECK_EQ(match_count(&root, "a/"), 4);        /* a/+ (empty level) a/# # +/+ */
    CHECK_EQ(match_count(&root, "b"), 2);         /* # + */

    for (size_t i = 0; i < ROOST_ARRAY_LEN(filters); i++)
        CHECK(broker__tree_remove(&root, filters[i], s));
    CHECK(!broker__tree_remove(&root, "a/b", s));
    CHECK_EQ(match_count(&root, "a/b"), 0);
    CHECK_EQ(root.children.count, 0);             /* pruned */
    CHECK(root.plus == NULL && root.hash == NULL);
    CHECK_EQ(atomic_load(&s->ref.n), 1);          /* entries gave their references back */
    broker__tree_cleanup(&root);
    broker__session_unref(&s);
}

ROOST_TEST(resubscribe_replaces_options)
{
    struct tnode root;
    broker__tree_init(&root);
    struct session *s = fake_session();
    broker__tree_add(&root, "x/y", s, qos1, 1);
    struct roost_mqtt_sub_opts qos2 = {.qos = 2};
    broker__tree_add(&root, "x/y", s, qos2, 7);
    CHECK_EQ(match_count(&root, "x/y"), 1);
    CHECK_EQ(atomic_load(&s->ref.n), 2);
    broker__tree_cleanup(&root);
    CHECK_EQ(atomic_load(&s->ref.n), 1);
    broker__session_unref(&s);
}

ROOST_TEST(shared_group_picks_one_member_round_robin)
{
    struct tnode root;
    broker__tree_init(&root);
    struct session *a = fake_session(), *b = fake_session();
    broker__tree_add(&root, "$share/g/t/+", a, qos1, 0);
    broker__tree_add(&root, "$share/g/t/+", b, qos1, 0);
    broker__tree_add(&root, "t/+", a, qos1, 0);
    size_t to_a = 0, to_b = 0;
    for (int i = 0; i < 10; i++) {
        struct collect c = {.sink = {collect_fn}};
        broker__tree_match(&root, "t/1", 3, &c.sink);
        REQUIRE_EQ(c.n, 2);
        for (size_t k = 0; k < c.n; k++) {
            if (!c.shared[k])
                continue;
            if (c.seen[k] == a)
                to_a++;
            else
                to_b++;
        }
    }
    CHECK_EQ(to_a, 5);
    CHECK_EQ(to_b, 5);
    /* Offline members are skipped while an online one exists. */
    atomic_store(&a->online, false);
    for (int i = 0; i < 4; i++) {
        struct collect c = {.sink = {collect_fn}};
        broker__tree_match(&root, "t/1", 3, &c.sink);
        for (size_t k = 0; k < c.n; k++)
            if (c.shared[k])
                CHECK(c.seen[k] == b);
    }
    CHECK(broker__tree_remove(&root, "$share/g/t/+", a));
    CHECK(broker__tree_remove(&root, "$share/g/t/+", b));
    CHECK(!broker__tree_remove(&root, "$share/g/t/+", b));
    CHECK(broker__tree_remove(&root, "t/+", a));
    CHECK_EQ(root.children.count, 0);
    broker__tree_cleanup(&root);
    broker__session_unref(&a);
    broker__session_unref(&b);
}
