/*
 * pki_test_util.h - helpers the src/pki unit tests share: files, shell
 * commands (the openssl CLI is the independent oracle), an openssl.cnf with
 * the extension profiles the tests need, and a throwaway Roost CA. All
 * static inline so each test executable takes only what it uses.
 */
#ifndef ROOST_PKI_TEST_UTIL_H
#define ROOST_PKI_TEST_UTIL_H

#include "roost_test.h"
#include "pki/pki.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

static inline char *tu_read(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = roost_xmalloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    if (out_len)
        *out_len = got;
    return buf;
}

static inline bool tu_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* Runs a shell command with its output captured; the output is shown
 * only when the command fails and `quiet` is false. Returns the exit
 * status, or -1. */
static inline int tu_vsh(bool quiet, const char *fmt, va_list ap)
{
    char cmd[4096], full[4200];
    int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    if (n < 0 || (size_t)n >= sizeof(cmd))
        return -1;
    snprintf(full, sizeof(full), "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    char out[4096];
    size_t len = 0, got;
    while ((got = fread(out + len, 1, sizeof(out) - 1 - len, p)) > 0)
        len += got;
    char sink[512];
    while (fread(sink, 1, sizeof(sink), p) > 0)
        ;
    out[len] = '\0';
    int st = pclose(p);
    int rc = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (rc != 0 && !quiet)
        fprintf(stderr, "  command failed (%d): %s\n%s\n", rc, cmd, out);
    return rc;
}

static inline int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int tu_sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tu_vsh(false, fmt, ap);
    va_end(ap);
    return rc;
}

static inline int tu_sh_quiet(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int tu_sh_quiet(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tu_vsh(true, fmt, ap);
    va_end(ap);
    return rc;
}

/* Runs a command and keeps its first output line, without the newline. */
static inline int tu_sh_line(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int tu_sh_line(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    if (fgets(out, (int)cap, p))
        out[strcspn(out, "\r\n")] = '\0';
    char sink[256];
    while (fgets(sink, sizeof(sink), p))
        ;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* openssl.cnf for the CLI calls: req needs a distinguished_name section;
 * the v3_* sections are the certificate profiles the tests ask for. */
static inline void tu_write_cnf(const char *path)
{
    static const char cnf[] =
        "[req]\n"
        "distinguished_name = dn\n"
        "[dn]\n"
        "[v3_ca]\n"
        "basicConstraints = critical,CA:TRUE\n"
        "keyUsage = critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid:always\n"
        "[v3_ca1]\n"
        "basicConstraints = critical,CA:TRUE,pathlen:1\n"
        "keyUsage = critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier = hash\n"
        "[v3_leaf]\n"
        "basicConstraints = critical,CA:FALSE\n"
        "keyUsage = critical,digitalSignature\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid\n"
        "[v3_bare]\n" /* no key identifiers: OpenSSL 3 adds them unless told */
        "basicConstraints = CA:FALSE\n"
        "subjectKeyIdentifier = none\n"
        "authorityKeyIdentifier = none\n"
        "[v3_notca]\n"
        "basicConstraints = critical,CA:FALSE\n"
        "subjectKeyIdentifier = hash\n"
        "[v3_many]\n"
        "basicConstraints = critical,CA:FALSE\n"
        "subjectAltName = @alt\n"
        "[alt]\n"
        "DNS.1 = dev.example.com\n"
        "DNS.2 = *.example.net\n"
        "IP.1 = 10.0.0.1\n"
        "IP.2 = fd00::1\n"
        "URI.1 = spiffe://acme/dev-42\n"
        "email.1 = ops@example.com\n"
        "dirName.1 = dir_sect\n"
        "[dir_sect]\n"
        "C = US\n"
        "O = Dir Org\n"
        "CN = Dir Name\n";
    ROOST_ASSERT(tu_write(path, cnf, sizeof(cnf) - 1));
}

/* A fresh Roost root CA (the bootstrap's) in dir/pki, loaded. */
static inline struct roost_pki_ca *tu_roost_ca(const char *dir, char *cert_path, size_t cap)
{
    char pki[600], key_path[700];
    snprintf(pki, sizeof(pki), "%.580s/pki", dir);
    if (roost_pki_bootstrap(pki, NULL, 0, NULL) != 0)
        return NULL;
    snprintf(cert_path, cap, "%s/%s", pki, ROOST_PKI_ROOT_CERT);
    snprintf(key_path, sizeof(key_path), "%s/%s", pki, ROOST_PKI_ROOT_KEY);
    struct roost_pki_ca *ca = NULL;
    if (roost_pki_ca_load(cert_path, key_path, &ca) != 0)
        return NULL;
    return ca;
}

#endif /* ROOST_PKI_TEST_UTIL_H */
