/*
 * pki.h - Roost's certificate authority: the root CA and server certificate
 * made on first start, certificate identifiers, and (from the registry work
 * on) issuing device certificates and signing CSRs. All X.509 work goes
 * through OpenSSL here; callers see PEM text, file paths and hex ids.
 */
#ifndef ROOST_PKI_H
#define ROOST_PKI_H

#include "common/common.h"

/* Paths inside DIR/pki. */
#define ROOST_PKI_ROOT_CERT "root-ca.pem"
#define ROOST_PKI_ROOT_KEY "root-ca.key"
#define ROOST_PKI_SERVER_CERT "server.pem"
#define ROOST_PKI_SERVER_KEY "server.key"

/*
 * Makes sure `pki_dir` holds a root CA (ECDSA P-256, self-signed, 10 years,
 * CN "Roost Root CA <random>") and a server certificate signed by it (ECDSA
 * P-256, 2 years, serverAuth, SAN DNS:localhost, IP:127.0.0.1, IP:::1 plus
 * every entry of `hostnames`, each a DNS name or an IP literal). Existing
 * files are reused untouched; a server certificate whose SANs miss one of
 * `hostnames` is re-issued from the existing root. Creates the directory
 * (0700); keys are written 0600, atomically (temp file + rename).
 * *out_created is set true when the root CA was created now.
 */
int roost_pki_bootstrap(const char *pki_dir, const char *const *hostnames, size_t n_hostnames,
                        bool *out_created);

/* SHA-256 of the DER of the first certificate in `pem` as 64 lowercase hex
 * characters: the AWS certificate id. */
int roost_pki_cert_id_from_pem(const char *pem, size_t len, char out_id[65]);

#endif /* ROOST_PKI_H */
