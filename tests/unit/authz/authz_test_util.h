/*
 * authz_test_util.h - helpers for the authz unit tests: policies are
 * written with backquotes for JSON's double quotes (tu_json turns them
 * back) so that the tables stay readable, compiled for us-east-1 and
 * account 123456789012, and checked against a context.
 */
#ifndef AUTHZ_TEST_UTIL_H
#define AUTHZ_TEST_UTIL_H

#include "authz/authz.h"
#include "roost_test.h"

#include <stdio.h>

#define TU_REGION "us-east-1"
#define TU_ACCOUNT "123456789012"
#define TU_ARN "arn:aws:iot:us-east-1:123456789012:"

/* A one-statement-list document: TU_DOC("{...},{...}"). */
#define TU_DOC(stmts) "{`Version`:`2012-10-17`,`Statement`:[" stmts "]}"

/* Backquotes to double quotes; caller frees with roost_free. */
static inline char *tu_json(const char *s)
{
    char *d = roost_xstrdup(s);
    for (char *c = d; *c; c++) {
        if (*c == '`')
            *c = '"';
    }
    return d;
}

/* Compiles one document (backquoted) or fails the test. */
static inline struct roost_authz_policy *tu_compile_at(const char *file, int line, const char *doc)
{
    char *json = tu_json(doc);
    struct roost_authz_doc d = {"test-policy", json, strlen(json)};
    struct roost_authz_policy *p = NULL;
    char err[512];
    int rc = roost_authz_compile(&d, 1, TU_REGION, TU_ACCOUNT, &p, err, sizeof(err));
    roost_free(json);
    if (rc != 0) {
        roost_test_fail(file, line, "compile failed (%d): %s", rc, err);
        roost_test_abort();
    }
    return p;
}
#define tu_compile(doc) tu_compile_at(__FILE__, __LINE__, (doc))

/* Compile errors: returns the rc and leaves the message in err. */
static inline int tu_compile_err(const char *doc, char *err, size_t errcap)
{
    char *json = tu_json(doc);
    struct roost_authz_doc d = {"bad-policy", json, strlen(json)};
    struct roost_authz_policy *p = NULL;
    int rc = roost_authz_compile(&d, 1, TU_REGION, TU_ACCOUNT, &p, err, errcap);
    roost_free(json);
    roost_authz_policy_unref(&p);
    return rc;
}

/* 1 when doc allows the action on the resource for ctx, else 0. */
static inline int tu_allows_at(const char *file, int line, const char *doc,
                               const struct roost_authz_ctx *ctx, enum roost_authz_action a,
                               enum roost_authz_rtype t, const char *name)
{
    struct roost_authz_policy *p = tu_compile_at(file, line, doc);
    bool ok = roost_authz_evaluate(p, ctx, a, t, name, strlen(name), NULL);
    roost_authz_policy_unref(&p);
    return ok ? 1 : 0;
}
#define tu_allows(doc, ctx, a, t, name) tu_allows_at(__FILE__, __LINE__, (doc), (ctx), (a), (t), (name))

/* Statements that survive binding doc to ctx. */
static inline size_t tu_bound_count(const char *doc, const struct roost_authz_ctx *ctx)
{
    struct roost_authz_policy *p = tu_compile(doc);
    struct roost_authz_bound *b = NULL;
    size_t n = 0;
    if (roost_authz_bind(p, ctx, &b) == 0)
        n = roost_authz_bound_statements(b);
    roost_authz_bound_unref(&b);
    roost_authz_policy_unref(&p);
    return n;
}

#endif /* AUTHZ_TEST_UTIL_H */
