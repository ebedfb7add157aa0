/*
 * common.h - the foundation every Roost subsystem builds on: the error codes,
 * allocation that aborts on exhaustion, per-request arenas, bounded growable
 * buffers, string views, logging, clocks and atomic reference counts.
 *
 * Conventions (docs/internals/ERRORS.md, docs/internals/MEMORY.md):
 *  - fallible functions return int: 0 ok, negative error (-errno or ROOST_E*);
 *  - roost_x* allocators abort on exhaustion; sizes a peer controls go through
 *    bounded buffers that fail with ROOST_ETOOBIG instead;
 *  - destroy/cleanup functions accept NULL or zeroed state.
 */
#ifndef ROOST_COMMON_H
#define ROOST_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ==== Errors ============================================================ */

/* System errors are -errno. Project errors live below -1000 so they never
 * collide with an errno value. */
enum roost_err {
    ROOST_OK = 0,
    ROOST_EAGAIN = -EAGAIN,     /* incomplete input: call again with more bytes */
    ROOST_ENOMEM = -ENOMEM,
    ROOST_EINVAL = -EINVAL,     /* caller passed something meaningless */
    ROOST_EMALFORMED = -1001,   /* peer sent bytes that violate the wire format */
    ROOST_EPROTO = -1002,       /* well-formed, but breaks the protocol's rules */
    ROOST_ETOOBIG = -1003,      /* exceeds a configured or wire limit */
    ROOST_EVERSION = -1004,     /* unsupported protocol version */
    ROOST_EAUTH = -1005,        /* authentication or authorization refused */
    ROOST_ENOTFOUND = -1006,
    ROOST_ECONFLICT = -1007,    /* already exists / version mismatch */
    ROOST_EDB = -1008,          /* the store failed */
    ROOST_ETOPIC = -1009,       /* invalid topic name or filter */
    ROOST_EUTF8 = -1010,        /* invalid UTF-8 in an MQTT string */
    ROOST_ECLOSED = -1011,      /* the peer or object is gone */
    ROOST_ETLS = -1012,         /* TLS failure */
    ROOST_ECONFIG = -1013,      /* bad configuration */
};

/* Human-readable text and symbolic name for any code (errno or ROOST_E*). */
const char *roost_strerror(int rc);
const char *roost_errname(int rc);

/* Assertions stay on in release builds: they mean "the program is wrong". */
#define ROOST_ASSERT(cond)                                                     \
    do {                                                                       \
        if (!(cond))                                                           \
            roost_panic(__FILE__, __LINE__, "assertion failed: " #cond);       \
    } while (0)

_Noreturn void roost_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ROOST_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ROOST_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ROOST_MAX(a, b) ((a) > (b) ? (a) : (b))
#define ROOST_UNUSED(x) ((void)(x))

/* ==== Allocation ======================================================== */

/* Fixed-size internal allocations: abort the process on exhaustion (Redis'
 * zmalloc), so call sites never check. Never use for peer-controlled sizes
 * without a bound checked first. */
void *roost_xmalloc(size_t n);
void *roost_xcalloc(size_t count, size_t n);
void *roost_xrealloc(void *p, size_t n);
char *roost_xstrdup(const char *s);
char *roost_xstrndup(const char *s, size_t n);
void *roost_xmemdup(const void *p, size_t n);
void roost_free(void *p);

/* ==== String views ====================================================== */

/* A borrowed, not NUL-terminated slice. */
struct roost_str {
    const char *p;
    size_t n;
};

#define ROOST_STR_LIT(s) ((struct roost_str){(s), sizeof(s) - 1})
static inline struct roost_str roost_str_c(const char *s)
{
    return (struct roost_str){s, s ? strlen(s) : 0};
}
static inline bool roost_str_eq(struct roost_str a, struct roost_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}
static inline bool roost_str_eq_c(struct roost_str a, const char *c)
{
    return roost_str_eq(a, roost_str_c(c));
}

/* ==== Arenas ============================================================ */

/* Bump allocator for one packet or request; everything is released at once by
 * roost_arena_reset/cleanup. The first block may be caller storage. */
struct roost_arena_block;
struct roost_arena {
    struct roost_arena_block *head; /* newest heap block, or NULL */
    uint8_t *inline_buf;            /* optional caller storage used first */
    size_t inline_cap;
    size_t inline_used;
};

void roost_arena_init(struct roost_arena *a, void *inline_buf, size_t inline_cap);
void *roost_arena_alloc(struct roost_arena *a, size_t n); /* aborts on OOM; 8-aligned */
char *roost_arena_strndup(struct roost_arena *a, const char *s, size_t n);
void roost_arena_reset(struct roost_arena *a); /* frees heap blocks, keeps inline storage */
void roost_arena_cleanup(struct roost_arena *a);

/* ==== Buffers =========================================================== */

/* A growable byte buffer with a hard limit: growth past `limit` fails with
 * ROOST_ETOOBIG rather than allocating what a peer asked for. limit 0 means
 * "internal data, no limit". Data lives in [off, len) so consumers can
 * advance without moving bytes. */
struct roost_buf {
    uint8_t *data;
    size_t off;   /* first unconsumed byte */
    size_t len;   /* end of valid bytes */
    size_t cap;
    size_t limit; /* 0 = unbounded */
};

void roost_buf_init(struct roost_buf *b, size_t limit);
void roost_buf_cleanup(struct roost_buf *b);
int roost_buf_reserve(struct roost_buf *b, size_t extra); /* room for `extra` more bytes */
int roost_buf_append(struct roost_buf *b, const void *p, size_t n);
void roost_buf_consume(struct roost_buf *b, size_t n);    /* advance off; compacts lazily */
void roost_buf_compact(struct roost_buf *b);              /* move [off,len) to 0 */
static inline size_t roost_buf_size(const struct roost_buf *b) { return b->len - b->off; }
static inline uint8_t *roost_buf_head(const struct roost_buf *b)
{
    return b->data ? b->data + b->off : NULL; /* NULL + 0 is undefined */
}
static inline void roost_buf_clear(struct roost_buf *b) { b->off = b->len = 0; }
/* Shrink capacity back to at most `keep` bytes when empty (idle connections). */
void roost_buf_trim(struct roost_buf *b, size_t keep);
/* After a flush: frees an empty buffer when it is small (cheap to get again,
 * and what thousands of idle connections would otherwise each hold) or huge
 * (a burst is over); keeps the mid-sized buffers busy connections reuse. */
void roost_buf_relax(struct roost_buf *b);

/* ==== Reference counts ================================================== */

/* Atomic because fanned-out messages cross event loops. Underflow panics. */
struct roost_ref {
    atomic_uint n;
};
static inline void roost_ref_init(struct roost_ref *r) { atomic_init(&r->n, 1); }
static inline void roost_ref_get(struct roost_ref *r)
{
    atomic_fetch_add_explicit(&r->n, 1, memory_order_relaxed);
}
/* Returns true when the count dropped to zero and the caller must free. */
bool roost_ref_put(struct roost_ref *r);

/* ==== Logging =========================================================== */

enum roost_log_level {
    ROOST_LOG_ERROR = 0,
    ROOST_LOG_WARN,
    ROOST_LOG_INFO,
    ROOST_LOG_DEBUG,
    ROOST_LOG_TRACE,
};

extern enum roost_log_level roost_log_threshold;
int roost_log_level_parse(const char *name, enum roost_log_level *out_level);
void roost_log_write(enum roost_log_level lvl, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ROOST_LOG(lvl, sub, ...)                                               \
    do {                                                                       \
        if ((lvl) <= roost_log_threshold)                                      \
            roost_log_write((lvl), (sub), __VA_ARGS__);                        \
    } while (0)
#define roost_log_error(sub, ...) ROOST_LOG(ROOST_LOG_ERROR, sub, __VA_ARGS__)
#define roost_log_warn(sub, ...) ROOST_LOG(ROOST_LOG_WARN, sub, __VA_ARGS__)
#define roost_log_info(sub, ...) ROOST_LOG(ROOST_LOG_INFO, sub, __VA_ARGS__)
#define roost_log_debug(sub, ...) ROOST_LOG(ROOST_LOG_DEBUG, sub, __VA_ARGS__)

/* ==== Time ============================================================== */

uint64_t roost_now_ms(void);      /* monotonic milliseconds */
uint64_t roost_now_us(void);      /* monotonic microseconds */
uint64_t roost_wall_ms(void);     /* Unix epoch milliseconds */

/* ==== Small utilities ==================================================== */

/* Parses a whole decimal string into [min, max]; ROOST_EINVAL otherwise. */
int roost_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out_v);
/* Lowercase hex of `n` bytes into out (2n+1 bytes). */
void roost_hex_encode(const uint8_t *p, size_t n, char *out);
/* FNV-1a, for hash tables keyed by strings. */
uint64_t roost_hash_bytes(const void *p, size_t n);
/* Fills `n` bytes from the OS CSPRNG. */
int roost_random_bytes(void *p, size_t n);

/* ==== String-keyed hash map ============================================ */

/* Open-addressing map from byte-string keys to pointers. Keys are copied
 * into the map; values are borrowed (the map never frees them). Not
 * thread-safe: each map belongs to one thread. */
struct roost_map_slot;
struct roost_map {
    struct roost_map_slot *slots;
    size_t cap;   /* power of two, or 0 */
    size_t count;
    size_t tombs;
};

void roost_map_init(struct roost_map *m);
void roost_map_cleanup(struct roost_map *m);           /* frees keys, not values */
void *roost_map_get(const struct roost_map *m, const void *key, size_t klen);
/* Inserts or replaces; returns the previous value or NULL. */
void *roost_map_put(struct roost_map *m, const void *key, size_t klen, void *value);
void *roost_map_del(struct roost_map *m, const void *key, size_t klen); /* returns value */
/* Iteration: `*pos` starts at 0; returns false at the end. Deleting the
 * current entry during iteration is allowed; inserting is not. */
bool roost_map_next(const struct roost_map *m, size_t *pos, struct roost_str *out_key,
                    void **out_value);

/* ==== Files =============================================================== */

/* Reads all of `fd` (not closed) into a NUL-terminated heap string (free
 * with roost_free): ROOST_ETOOBIG beyond `limit` bytes, -errno on errors. */
int roost_read_fd(int fd, size_t limit, char **out, size_t *out_len);
/* The same for a file by path. */
int roost_read_file(const char *path, size_t limit, char **out, size_t *out_len);

/* ==== Configuration file ================================================= */

/* `key = value` lines, `#` comments. The callback returns 0 or an error,
 * which stops parsing; out_line reports where. Pure: parses a buffer. */
typedef int (*roost_config_kv_fn)(void *ud, const char *key, const char *value);
int roost_config_parse(const char *text, size_t len, roost_config_kv_fn fn, void *ud,
                       int *out_line);

#endif /* ROOST_COMMON_H */
