/*
 * fuzz_provision_request.c - libFuzzer target for fleet provisioning's
 * request codec (src/provision/codec.c). The input is a topic, a NUL byte,
 * then the payload (JSON or CBOR, as the topic says). Beyond "never crash,
 * never leak" it checks the contract of provision.h:
 *  - a topic that is not a request leaves the request empty;
 *  - a parsed RegisterThing has a valid template name and parameters that
 *    are an object of strings;
 *  - a failure says why;
 *  - whatever CBOR decodes re-encodes, and decodes again to the same JSON.
 */
#include "provision/provision.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_provision_request: %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t topic_len = nul ? (size_t)(nul - data) : size;
    const uint8_t *payload = nul ? nul + 1 : data + size;
    size_t payload_len = nul ? size - topic_len - 1 : 0;
    char *topic = malloc(topic_len + 1);
    memcpy(topic, data, topic_len);
    topic[topic_len] = '\0';

    struct roost_fleet_request r;
    char err[256];
    int rc = roost_fleet_request_parse(topic, topic_len, payload, payload_len, &r, err,
                                       sizeof(err));
    if (r.op == ROOST_FLEET_NONE) {
        FUZZ_ASSERT(rc == 0 && !r.csr && !r.token && !r.parameters);
    } else if (rc) {
        FUZZ_ASSERT(err[0]);
    } else {
        if (r.op == ROOST_FLEET_REGISTER_THING) {
            size_t n = strlen(r.template_name);
            FUZZ_ASSERT(n >= 1 && n <= ROOST_FLEET_TEMPLATE_NAME_MAX);
            if (r.parameters) {
                const char *k;
                json_t *v;
                FUZZ_ASSERT(json_is_object(r.parameters));
                json_object_foreach(r.parameters, k, v) FUZZ_ASSERT(json_is_string(v));
            }
        }
        if (r.op == ROOST_FLEET_CREATE_FROM_CSR)
            FUZZ_ASSERT(r.csr && r.csr[0]);
    }
    roost_fleet_request_cleanup(&r);

    /* the payload alone as CBOR: decode, encode, decode gives the same */
    json_t *j = NULL;
    if (roost_fleet_cbor_decode(payload, payload_len, &j) == 0) {
        uint8_t *enc = NULL;
        size_t enc_len = 0;
        if (roost_fleet_encode(j, true, &enc, &enc_len) == 0) {
            json_t *again = NULL;
            FUZZ_ASSERT(roost_fleet_cbor_decode(enc, enc_len, &again) == 0);
            FUZZ_ASSERT(json_equal(j, again));
            json_decref(again);
            roost_free(enc);
        }
        json_decref(j);
    }
    free(topic);
    return 0;
}
