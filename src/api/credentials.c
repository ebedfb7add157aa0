/*
 * credentials.c - the admin credentials of the HTTPS API: access key pairs
 * kept in DATA_DIR/admin.credentials in the AWS shared-credentials format,
 * so that the unmodified AWS CLI and boto3 use the file as it is
 * (AWS_SHARED_CREDENTIALS_FILE=...). roostd creates it, mode 0600, with one
 * random pair under [default] on first start and reads it back afterwards;
 * every profile in it that has both keys is a valid admin credential, so an
 * operator can add pairs (one per person or tool) and revoke them by editing
 * the file and restarting.
 *
 * Parsing follows what botocore's own reader accepts (so a file the CLI
 * refuses is refused here too): `[section]` headers, `key = value` or
 * `key: value`, comment lines starting with '#' or ';', no inline comments,
 * indented continuation lines (nested settings) ignored, duplicate sections
 * an error. Secrets are wiped from memory on cleanup.
 */
#include "api/api.h"

#include <fcntl.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define SUB "api"
#define CRED_FILE_MAX (64u * 1024u)

/* ==== Parsing ============================================================ */

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

static struct roost_str trim(struct roost_str s)
{
    while (s.n && is_space(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && is_space(s.p[s.n - 1]))
        s.n--;
    return s;
}

static bool str_ieq(struct roost_str s, const char *c)
{
    return s.n == strlen(c) && strncasecmp(s.p, c, s.n) == 0;
}

/* An access key id is one credential-scope element: no '/', no spaces. */
static bool akid_ok(struct roost_str s)
{
    if (s.n == 0 || s.n > ROOST_SIGV4_AKID_MAX)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.p[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

static bool secret_ok(struct roost_str s)
{
    if (s.n == 0 || s.n > ROOST_SIGV4_SECRET_MAX)
        return false;
    for (size_t i = 0; i < s.n; i++)
        if ((unsigned char)s.p[i] <= ' ' || (unsigned char)s.p[i] == 0x7f)
            return false;
    return true;
}

/* The section being read: its keys land here until the next header. */
struct section {
    struct roost_str name;
    struct roost_str akid;
    struct roost_str secret;
    int line;                      /* of the header, for error reports */
    bool open;
};

static int section_close(struct section *s, struct roost_api_credentials *out, size_t *cap)
{
    if (!s->open)
        return 0;
    s->open = false;
    if (s->akid.n == 0 && s->secret.n == 0)
        return 0; /* a profile with other settings only (region, ...) */
    if (!akid_ok(s->akid) || !secret_ok(s->secret))
        return ROOST_ECONFIG;
    struct roost_str prof = s->name;
    for (size_t i = 0; i < out->n; i++) {
        const struct roost_api_credential *k = &out->keys[i];
        if (strlen(k->access_key_id) == s->akid.n &&
            memcmp(k->access_key_id, s->akid.p, s->akid.n) == 0)
            return ROOST_ECONFIG; /* the same key id twice: which secret is meant? */
    }
    if (out->n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        out->keys = roost_xrealloc(out->keys, *cap * sizeof(*out->keys));
    }
    struct roost_api_credential *k = &out->keys[out->n++];
    memset(k, 0, sizeof(*k));
    snprintf(k->profile, sizeof(k->profile), "%.*s", (int)ROOST_MIN(prof.n, sizeof(k->profile) - 1),
             prof.p);
    memcpy(k->access_key_id, s->akid.p, s->akid.n);
    memcpy(k->secret_access_key, s->secret.p, s->secret.n);
    return 0;
}

/*
 * Parses a shared-credentials file held in text[0, len) into *out (which
 * must be zeroed; the caller releases it with roost_api_credentials_cleanup,
 * also after a failure). Every section with both aws_access_key_id and
 * aws_secret_access_key becomes one credential; sections with neither are
 * skipped. ROOST_ECONFIG for a malformed file, a section with only one of
 * the keys or a bad value, a duplicate section or key id, or no credential
 * at all; *out_line (optional) says where.
 */
int roost_api_credentials_parse(const char *text, size_t len, struct roost_api_credentials *out,
                                int *out_line)
{
    int rc = 0;
    size_t cap = 0;
    int line_no = 0;
    struct section sec = {{NULL, 0}, {NULL, 0}, {NULL, 0}, 0, false};
    /* Section names seen, to refuse duplicates as botocore does. */
    struct roost_map seen;
    roost_map_init(&seen);
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '\n')
            end++;
        line_no++;
        struct roost_str raw = {text + i, end - i};
        i = end + 1;
        if (memchr(raw.p, '\0', raw.n)) {
            rc = ROOST_ECONFIG;
            goto out;
        }
        struct roost_str line = trim(raw);
        if (line.n == 0 || line.p[0] == '#' || line.p[0] == ';')
            continue;
        if (is_space(raw.p[0]))
            continue; /* continuation of a nested value (s3 = ...) */
        if (line.p[0] == '[') {
            if (line.p[line.n - 1] != ']') {
                rc = ROOST_ECONFIG;
                goto out;
            }
            rc = section_close(&sec, out, &cap);
            if (rc) {
                line_no = sec.line;
                goto out;
            }
            struct roost_str name = trim((struct roost_str){line.p + 1, line.n - 2});
            if (name.n == 0 || roost_map_get(&seen, name.p, name.n)) {
                rc = ROOST_ECONFIG;
                goto out;
            }
            roost_map_put(&seen, name.p, name.n, (void *)1);
            sec = (struct section){name, {NULL, 0}, {NULL, 0}, line_no, true};
            continue;
        }
        if (!sec.open) {
            rc = ROOST_ECONFIG; /* a key before any section */
            goto out;
        }
        size_t k = 0;
        while (k < line.n && line.p[k] != '=' && line.p[k] != ':')
            k++;
        if (k == line.n || k == 0) {
            rc = ROOST_ECONFIG;
            goto out;
        }
        struct roost_str key = trim((struct roost_str){line.p, k});
        struct roost_str value = trim((struct roost_str){line.p + k + 1, line.n - k - 1});
        if (str_ieq(key, "aws_access_key_id"))
            sec.akid = value;
        else if (str_ieq(key, "aws_secret_access_key"))
            sec.secret = value;
    }
    rc = section_close(&sec, out, &cap);
    line_no = sec.line;
    if (rc)
        goto out;
    line_no = 0;
    if (out->n == 0)
        rc = ROOST_ECONFIG;
out:
    roost_map_cleanup(&seen);
    if (out_line)
        *out_line = rc ? line_no : 0;
    return rc;
}

/* ==== Generation ========================================================== */

/* Uniform picks from `alphabet` (n <= 256 symbols) by rejection sampling:
 * bytes at or above the largest multiple of n are drawn again, so no symbol
 * is likelier than another. */
static int random_chars(const char *alphabet, char *out, size_t count)
{
    size_t n = strlen(alphabet);
    unsigned limit = (unsigned)(256 - 256 % n);
    uint8_t pool[64];
    size_t have = 0, used = 0;
    for (size_t i = 0; i < count;) {
        if (used == have) {
            int rc = roost_random_bytes(pool, sizeof(pool));
            if (rc)
                return rc;
            have = sizeof(pool);
            used = 0;
        }
        uint8_t b = pool[used++];
        if (b < limit)
            out[i++] = alphabet[b % n];
    }
    OPENSSL_cleanse(pool, sizeof(pool));
    out[count] = '\0';
    return 0;
}

/*
 * A fresh random credential under profile "default": an access key id shaped
 * like AWS's long-term ones ("AKIA" + 16 of [A-Z0-9]) and a 40-character
 * secret from [A-Za-z0-9+/] (240 bits).
 */
int roost_api_credentials_generate(struct roost_api_credential *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->profile, sizeof(out->profile), "default");
    memcpy(out->access_key_id, "AKIA", 4);
    int rc = random_chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", out->access_key_id + 4, 16);
    if (!rc)
        rc = random_chars("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                          out->secret_access_key, 40);
    if (rc)
        OPENSSL_cleanse(out, sizeof(*out));
    return rc;
}

/* ==== The file ============================================================ */

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fsync_dir_of(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/*
 * Writes a new credentials file at `path`: a temporary file (O_EXCL, 0600)
 * is written and synced, then hard-linked to the final name, which fails
 * with -EEXIST when another process got there first, so a half-written file
 * is never visible and an existing one is never replaced.
 */
static int create_file(const char *path)
{
    struct roost_api_credential k;
    char tmp[4200], text[1024];
    int fd = -1;
    int rc = roost_api_credentials_generate(&k);
    if (rc)
        return rc;
    uint8_t r[6];
    char hex[13];
    rc = roost_random_bytes(r, sizeof(r));
    if (rc)
        goto out;
    roost_hex_encode(r, sizeof(r), hex);
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%s", path, hex) >= sizeof(tmp)) {
        rc = -ENAMETOOLONG;
        goto out;
    }
    int n = snprintf(text, sizeof(text),
                     "# Roost admin credentials (AWS shared-credentials format), created by\n"
                     "# roostd. Every profile with an access key pair is an admin key; use it\n"
                     "# with AWS_SHARED_CREDENTIALS_FILE=<this file> aws iot ... --endpoint-url.\n"
                     "[default]\n"
                     "aws_access_key_id = %s\n"
                     "aws_secret_access_key = %s\n",
                     k.access_key_id, k.secret_access_key);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if (fchmod(fd, 0600) != 0) {
        rc = -errno;
        goto out;
    }
    rc = write_all(fd, text, (size_t)n);
    if (!rc && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && !rc)
        rc = -errno;
    fd = -1;
    if (!rc && link(tmp, path) != 0)
        rc = -errno;
    unlink(tmp);
    if (!rc)
        fsync_dir_of(path);
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    OPENSSL_cleanse(text, sizeof(text));
    OPENSSL_cleanse(&k, sizeof(k));
    return rc;
}

static int read_file(const char *path, struct roost_api_credentials *out)
{
    int rc = 0;
    char *text = NULL;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)CRED_FILE_MAX) {
        roost_log_error(SUB, "%s: not a regular file of at most %u bytes", path, CRED_FILE_MAX);
        rc = ROOST_ECONFIG;
        goto out;
    }
    if (st.st_mode & 077)
        roost_log_warn(SUB, "%s is readable by other users (mode %03o): chmod 600 it", path,
                       (unsigned)(st.st_mode & 0777));
    size_t size = (size_t)st.st_size;
    text = roost_xmalloc(size + 1);
    while (got < size) {
        ssize_t r = read(fd, text + got, size - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    int line = 0;
    rc = roost_api_credentials_parse(text, got, out, &line);
    if (rc == ROOST_ECONFIG && line)
        roost_log_error(SUB, "%s:%d: not a valid AWS shared-credentials line or profile (a "
                             "profile needs both aws_access_key_id and aws_secret_access_key)",
                        path, line);
    else if (rc == ROOST_ECONFIG)
        roost_log_error(SUB, "%s: no profile with both aws_access_key_id and "
                             "aws_secret_access_key", path);
out:
    if (text)
        OPENSSL_cleanse(text, got);
    roost_free(text);
    if (fd >= 0)
        close(fd);
    return rc;
}

/*
 * Reads the admin credentials from `path`, creating the file first (one
 * random pair under [default], mode 0600, atomically) when it does not
 * exist. *out must be zeroed; release it with roost_api_credentials_cleanup
 * (also after a failure). *out_created (optional) says whether this call
 * made the file. ROOST_ECONFIG for a file that is not a valid credentials
 * file (logged with the line), -errno for I/O failures.
 */
int roost_api_credentials_load_or_create(const char *path, struct roost_api_credentials *out,
                                         bool *out_created)
{
    bool created = false;
    int rc = read_file(path, out);
    if (rc == -ENOENT) {
        rc = create_file(path);
        if (rc == 0)
            created = true;
        if (rc == 0 || rc == -EEXIST) /* -EEXIST: another process made it meanwhile */
            rc = read_file(path, out);
    }
    if (out_created)
        *out_created = created && rc == 0;
    return rc;
}

/* The credential with this access key id, or NULL. Key ids are not secret,
 * so a plain comparison is fine. */
const struct roost_api_credential *
roost_api_credentials_find(const struct roost_api_credentials *creds, const char *access_key_id)
{
    if (!creds || !access_key_id)
        return NULL;
    for (size_t i = 0; i < creds->n; i++)
        if (strcmp(creds->keys[i].access_key_id, access_key_id) == 0)
            return &creds->keys[i];
    return NULL;
}

/* Wipes the secrets and frees the array; safe on a zeroed struct. */
void roost_api_credentials_cleanup(struct roost_api_credentials *creds)
{
    if (!creds)
        return;
    if (creds->keys)
        OPENSSL_cleanse(creds->keys, creds->n * sizeof(*creds->keys));
    roost_free(creds->keys);
    creds->keys = NULL;
    creds->n = 0;
}
