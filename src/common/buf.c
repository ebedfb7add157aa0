/*
 * buf.c - growable byte buffers with a hard size limit. Network input and
 * output go through these; the limit turns a peer's oversized request into
 * ROOST_ETOOBIG instead of an allocation of its choosing.
 */
#include "common.h"

void roost_buf_init(struct roost_buf *b, size_t limit)
{
    b->data = NULL;
    b->off = b->len = b->cap = 0;
    b->limit = limit;
}

void roost_buf_cleanup(struct roost_buf *b)
{
    if (!b)
        return;
    roost_free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

void roost_buf_compact(struct roost_buf *b)
{
    if (b->off == 0)
        return;
    size_t n = b->len - b->off;
    if (n)
        memmove(b->data, b->data + b->off, n);
    b->off = 0;
    b->len = n;
}

int roost_buf_reserve(struct roost_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    /* Reclaim consumed space before growing. */
    if (b->off && b->cap - (b->len - b->off) >= extra) {
        roost_buf_compact(b);
        return 0;
    }
    size_t live = b->len - b->off;
    if (extra > SIZE_MAX / 2 - live)
        return ROOST_ETOOBIG;
    size_t need = live + extra;
    if (b->limit && need > b->limit)
        return ROOST_ETOOBIG;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (b->limit && cap > b->limit)
        cap = b->limit;
    roost_buf_compact(b);
    b->data = roost_xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int roost_buf_append(struct roost_buf *b, const void *p, size_t n)
{
    int rc = roost_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void roost_buf_consume(struct roost_buf *b, size_t n)
{
    ROOST_ASSERT(n <= b->len - b->off);
    b->off += n;
    if (b->off == b->len)
        b->off = b->len = 0;
}

void roost_buf_trim(struct roost_buf *b, size_t keep)
{
    if (b->len != b->off || b->cap <= keep)
        return;
    roost_free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

void roost_buf_relax(struct roost_buf *b)
{
    if (b->len != b->off || b->cap == 0)
        return;
    if (b->cap <= 4096 || b->cap > 256 * 1024)
        roost_buf_trim(b, 0);
    else
        b->off = b->len = 0;
}
