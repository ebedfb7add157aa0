/*
 * arena.c - bump allocation for one decoded packet or one HTTP request.
 * Everything allocated from an arena is released together; individual frees
 * do not exist. Caller-provided inline storage is used first so that the
 * common small packet never touches the heap.
 */
#include "common.h"

struct roost_arena_block {
    struct roost_arena_block *next;
    size_t cap;
    size_t used;
    _Alignas(16) uint8_t data[];
};

#define ARENA_MIN_BLOCK 4096

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

void roost_arena_init(struct roost_arena *a, void *inline_buf, size_t inline_cap)
{
    a->head = NULL;
    a->inline_buf = inline_buf;
    a->inline_cap = inline_buf ? inline_cap : 0;
    a->inline_used = 0;
}

void *roost_arena_alloc(struct roost_arena *a, size_t n)
{
    n = align8(n ? n : 1);
    if (a->inline_buf) {
        size_t start = align8(a->inline_used);
        if (start + n <= a->inline_cap) {
            a->inline_used = start + n;
            return a->inline_buf + start;
        }
    }
    struct roost_arena_block *b = a->head;
    if (!b || b->used + n > b->cap) {
        size_t cap = n > ARENA_MIN_BLOCK ? n : ARENA_MIN_BLOCK;
        b = roost_xmalloc(sizeof(*b) + cap);
        b->cap = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

char *roost_arena_strndup(struct roost_arena *a, const char *s, size_t n)
{
    char *d = roost_arena_alloc(a, n + 1);
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void roost_arena_reset(struct roost_arena *a)
{
    struct roost_arena_block *b = a->head;
    while (b) {
        struct roost_arena_block *next = b->next;
        roost_free(b);
        b = next;
    }
    a->head = NULL;
    a->inline_used = 0;
}

void roost_arena_cleanup(struct roost_arena *a)
{
    if (!a)
        return;
    roost_arena_reset(a);
}
