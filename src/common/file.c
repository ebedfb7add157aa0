/*
 * file.c - reading a whole small file (configuration, certificates, policy
 * documents) into memory, bounded so that a wrong path to a huge file fails
 * cleanly instead of eating memory.
 */
#include "common.h"

#include <fcntl.h>
#include <unistd.h>

int roost_read_fd(int fd, size_t limit, char **out, size_t *out_len)
{
    int rc = 0;
    struct roost_buf b;
    roost_buf_init(&b, 0); /* bounded by the check below, not by the buffer */
    *out = NULL;
    if (out_len)
        *out_len = 0;
    for (;;) {
        rc = roost_buf_reserve(&b, 4096);
        if (rc)
            goto out;
        ssize_t n = read(fd, b.data + b.len, b.cap - b.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0)
            break;
        b.len += (size_t)n;
        if (b.len > limit) {
            rc = ROOST_ETOOBIG;
            goto out;
        }
    }
    rc = roost_buf_append(&b, "", 1);
    if (rc)
        goto out;
    if (out_len)
        *out_len = b.len - 1;
    *out = (char *)b.data;
    b.data = NULL;
out:
    roost_buf_cleanup(&b);
    return rc;
}

int roost_read_file(const char *path, size_t limit, char **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *out = NULL;
        return -errno;
    }
    int rc = roost_read_fd(fd, limit, out, out_len);
    close(fd);
    return rc;
}
