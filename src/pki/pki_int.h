/*
 * pki_int.h - what the files of src/pki share among themselves and nobody
 * else may use: OpenSSL error handling, serials, extensions, the one strict
 * certificate parser every inspecting and verifying function goes through,
 * and error messages for callers. Includes OpenSSL, which pki.h never does.
 */
#ifndef ROOST_PKI_INT_H
#define ROOST_PKI_INT_H

#include "pki/pki.h"

#include <time.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Logs the OpenSSL error behind a failed internal step (key generation,
 * signing, encoding: never a peer's bad input), empties the error queue and
 * returns rc. */
int pki__ossl_fail(const char *what, int rc);

/* A random positive 128-bit serial. Thread-safe. */
int pki__random_serial(X509 *cert);

/* Adds one extension given in openssl.cnf syntax ("critical,CA:FALSE"). */
int pki__add_ext(X509 *cert, X509V3_CTX *v3, int nid, const char *value);

/* A pem_password_cb that refuses: PEM readers must never prompt on a tty
 * because some input carries an encryption header. */
int pki__no_password(char *buf, int size, int rwflag, void *u);

/* snprintf into a caller's error buffer; err may be NULL or errcap 0. */
void pki__errf(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Parses the first certificate of `data`: PEM (the first CERTIFICATE block;
 * other blocks are skipped) when the text holds "-----BEGIN", else exactly
 * one DER certificate. Refuses more than ROOST_PKI_CERT_MAX bytes
 * (ROOST_ETOOBIG), anything whose DER does not re-encode byte for byte (so
 * the id is well defined), and certificates OpenSSL marks as carrying
 * invalid extensions (ROOST_EINVAL). `what` names the input in messages
 * ("certificate", "CA certificate"). Leaves the OpenSSL error queue empty.
 */
int pki__parse_cert(const char *data, size_t len, const char *what, X509 **out_cert, char *err,
                    size_t errcap);

/* SHA-256 of the certificate's DER as 64 lowercase hex characters. */
int pki__cert_id(X509 *cert, char out_id[65]);

/* An ASN1_TIME as Unix seconds; ROOST_EINVAL when it is malformed. */
int pki__time_epoch(const ASN1_TIME *t, int64_t *out_epoch);

/* Whether every attribute of `name` that Roost reads decodes to valid
 * UTF-8 without NUL bytes (the rule roost_pki_cert_info enforces), so we
 * never issue a certificate we would later refuse to read. */
bool pki__name_ok(const X509_NAME *name);

/* Heap PEM of a certificate, a private key (PKCS#8) or a public key
 * (SubjectPublicKeyInfo); exactly one of the three is non-NULL. */
int pki__pem(X509 *cert, EVP_PKEY *priv, EVP_PKEY *pub, char **out_pem);

#endif /* ROOST_PKI_INT_H */
