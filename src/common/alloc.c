/*
 * alloc.c - the only place Roost calls malloc/free. Fixed-size internal
 * allocations abort on exhaustion so that callers never handle it; sizes a
 * peer influences are bounded before they get here (see struct roost_buf).
 */
#include "common.h"

#include <stdlib.h>

static _Noreturn void out_of_memory(size_t n)
{
    roost_panic(__FILE__, __LINE__, "out of memory allocating %zu bytes", n);
}

void *roost_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *roost_xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        out_of_memory(count * n);
    return p;
}

void *roost_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

char *roost_xstrdup(const char *s)
{
    return roost_xstrndup(s, strlen(s));
}

char *roost_xstrndup(const char *s, size_t n)
{
    char *d = roost_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void *roost_xmemdup(const void *p, size_t n)
{
    void *d = roost_xmalloc(n);
    if (n)
        memcpy(d, p, n);
    return d;
}

void roost_free(void *p)
{
    free(p);
}

bool roost_ref_put(struct roost_ref *r)
{
    unsigned prev = atomic_fetch_sub_explicit(&r->n, 1, memory_order_acq_rel);
    if (prev == 0)
        roost_panic(__FILE__, __LINE__, "reference count underflow");
    return prev == 1;
}
