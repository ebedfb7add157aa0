/*
 * map.c - an open-addressing hash map with linear probing from byte-string
 * keys to pointers: the session table, topic-tree children, subscription
 * sets. Keys are stored inline after their hash so lookups touch one slot
 * array and one key allocation.
 */
#include "common.h"

struct roost_map_slot {
    uint64_t hash;   /* 0 = empty, 1 = tombstone */
    char *key;
    size_t klen;
    void *value;
};

#define SLOT_EMPTY 0
#define SLOT_TOMB 1

static uint64_t key_hash(const void *key, size_t klen)
{
    uint64_t h = roost_hash_bytes(key, klen);
    return h < 2 ? h + 2 : h;
}

void roost_map_init(struct roost_map *m)
{
    m->slots = NULL;
    m->cap = m->count = m->tombs = 0;
}

void roost_map_cleanup(struct roost_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].hash > SLOT_TOMB)
            roost_free(m->slots[i].key);
    roost_free(m->slots);
    roost_map_init(m);
}

static struct roost_map_slot *find_slot(const struct roost_map *m, uint64_t h, const void *key,
                                        size_t klen)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct roost_map_slot *s = &m->slots[i];
        if (s->hash == SLOT_EMPTY)
            return NULL;
        if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
            return s;
    }
}

static void rehash(struct roost_map *m, size_t new_cap)
{
    struct roost_map_slot *old = m->slots;
    size_t old_cap = m->cap;
    m->slots = roost_xcalloc(new_cap, sizeof(*m->slots));
    m->cap = new_cap;
    m->tombs = 0;
    size_t mask = new_cap - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].hash <= SLOT_TOMB)
            continue;
        size_t j = old[i].hash & mask;
        while (m->slots[j].hash != SLOT_EMPTY)
            j = (j + 1) & mask;
        m->slots[j] = old[i];
    }
    roost_free(old);
}

void *roost_map_get(const struct roost_map *m, const void *key, size_t klen)
{
    struct roost_map_slot *s = find_slot(m, key_hash(key, klen), key, klen);
    return s ? s->value : NULL;
}

void *roost_map_put(struct roost_map *m, const void *key, size_t klen, void *value)
{
    uint64_t h = key_hash(key, klen);
    struct roost_map_slot *s = find_slot(m, h, key, klen);
    if (s) {
        void *prev = s->value;
        s->value = value;
        return prev;
    }
    if ((m->count + m->tombs + 1) * 4 >= m->cap * 3)
        rehash(m, m->cap ? (m->count * 4 >= m->cap ? m->cap * 2 : m->cap) : 8);
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].hash > SLOT_TOMB)
        i = (i + 1) & mask;
    if (m->slots[i].hash == SLOT_TOMB)
        m->tombs--;
    m->slots[i].hash = h;
    m->slots[i].key = roost_xmemdup(key, klen ? klen : 1);
    m->slots[i].klen = klen;
    m->slots[i].value = value;
    m->count++;
    return NULL;
}

void *roost_map_del(struct roost_map *m, const void *key, size_t klen)
{
    struct roost_map_slot *s = find_slot(m, key_hash(key, klen), key, klen);
    if (!s)
        return NULL;
    void *v = s->value;
    roost_free(s->key);
    s->key = NULL;
    s->hash = SLOT_TOMB;
    s->value = NULL;
    m->count--;
    m->tombs++;
    return v;
}

bool roost_map_next(const struct roost_map *m, size_t *pos, struct roost_str *out_key,
                    void **out_value)
{
    for (size_t i = *pos; i < m->cap; i++) {
        if (m->slots[i].hash > SLOT_TOMB) {
            *pos = i + 1;
            if (out_key)
                *out_key = (struct roost_str){m->slots[i].key, m->slots[i].klen};
            if (out_value)
                *out_value = m->slots[i].value;
            return true;
        }
    }
    *pos = m->cap;
    return false;
}
