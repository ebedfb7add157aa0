/*
 * err.c - renders Roost's error codes (negative errno values and ROOST_E*)
 * as text, and the process-ending panic used by ROOST_ASSERT.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

struct err_entry {
    int code;
    const char *name;
    const char *text;
};

static const struct err_entry project_errors[] = {
    {ROOST_EMALFORMED, "EMALFORMED", "malformed input"},
    {ROOST_EPROTO, "EPROTO", "protocol error"},
    {ROOST_ETOOBIG, "ETOOBIG", "too large"},
    {ROOST_EVERSION, "EVERSION", "unsupported protocol version"},
    {ROOST_EAUTH, "EAUTH", "not authorized"},
    {ROOST_ENOTFOUND, "ENOTFOUND", "not found"},
    {ROOST_ECONFLICT, "ECONFLICT", "conflict"},
    {ROOST_EDB, "EDB", "store failure"},
    {ROOST_ETOPIC, "ETOPIC", "invalid topic"},
    {ROOST_EUTF8, "EUTF8", "invalid UTF-8"},
    {ROOST_ECLOSED, "ECLOSED", "closed"},
    {ROOST_ETLS, "ETLS", "TLS failure"},
    {ROOST_ECONFIG, "ECONFIG", "bad configuration"},
};

static const struct err_entry *find_project_error(int rc)
{
    for (size_t i = 0; i < ROOST_ARRAY_LEN(project_errors); i++)
        if (project_errors[i].code == rc)
            return &project_errors[i];
    return NULL;
}

const char *roost_strerror(int rc)
{
    if (rc == 0)
        return "ok";
    const struct err_entry *e = find_project_error(rc);
    if (e)
        return e->text;
    if (rc < 0 && rc > -4096)
        return strerror(-rc);
    return "unknown error";
}

const char *roost_errname(int rc)
{
    if (rc == 0)
        return "OK";
    const struct err_entry *e = find_project_error(rc);
    if (e)
        return e->name;
    switch (rc) {
    case -EAGAIN: return "EAGAIN";
    case -ENOMEM: return "ENOMEM";
    case -EINVAL: return "EINVAL";
    case -ENOENT: return "ENOENT";
    case -EIO: return "EIO";
    default: return "ERRNO";
    }
}

_Noreturn void roost_panic(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "roost: panic at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
