/*
 * A host thread with a 64 KiB stack calling the library: msc_session_new,
 * msc_connect (an access token; a certificate sign-in over TLS when its
 * arguments are given), msc_get (good requests and one refused before any
 * request is sent), msc_session_free. The library does the work on its own
 * threads, so the host's stack only has to hold the call itself (musl's
 * default thread stack is 128 KiB; hosts may ask for less).
 *
 *   small_stack SERVICE_URL ACCESS_TOKEN [TLS_URL CA_FILE CERT_FILE TENANT CLIENT_ID]
 *
 * Prints one line per check to stdout, never to stderr, and ends with
 * "N passed, N failed"; exits 0 when nothing failed. A stack overflow
 * kills the process (SIGSEGV), which the test reports.
 */
#include "mscommerce.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define HOST_STACK (64 * 1024)

static int passed, failed;
static int nargs;
static char **args;

/* Record a check; on failure print the start of the answer. */
static void check(int ok, const char *what, int32_t code, const char *answer) {
    if (ok) {
        printf("ok - %s (code %d)\n", what, (int)code);
        passed++;
    } else {
        printf("FAILED - %s (code %d): %.300s\n", what, (int)code, answer ? answer : "(no answer)");
        failed++;
    }
    fflush(stdout);
}

typedef int32_t (*call_fn)(MscSession *, const char *, char **);

/* One call, checked against the code expected; the answer is freed. */
static void call(call_fn f, MscSession *s, const char *request, int32_t expected, const char *what) {
    char *out = NULL;
    int32_t code = f(s, request, &out);
    check(code == expected && out != NULL, what, code, out);
    msc_string_free(out);
}

/* A session from options, or NULL (checked). */
static MscSession *session(const char *options, const char *what) {
    MscSession *s = NULL;
    char *out = NULL;
    int32_t code = msc_session_new(options, &s, &out);
    check(code == MSC_OK && s != NULL, what, code, out);
    msc_string_free(out);
    return s;
}

static void *host_thread(void *unused) {
    char options[2048], request[4096];
    MscSession *s;
    (void)unused;

    snprintf(options, sizeof options,
             "{\"serviceUrl\":\"%s\",\"authorityHost\":\"%s\",\"timeoutSeconds\":20}",
             args[1], args[1]);
    s = session(options, "msc_session_new");
    if (s != NULL) {
        call(msc_get, s, "{\"resource\":\"policies\"}", MSC_NOT_CONNECTED, "msc_get before connect");
        snprintf(request, sizeof request, "{\"flow\":\"accessToken\",\"accessToken\":\"%s\"}", args[2]);
        call(msc_connect, s, request, MSC_OK, "msc_connect with an access token");
        call(msc_get, s, "{\"resource\":\"policies\"}", MSC_OK, "msc_get policies");
        call(msc_get, s,
             "{\"resource\":\"productPolicies\",\"policyId\":\"AllowSelfServicePurchase\"}",
             MSC_OK, "msc_get productPolicies");
        call(msc_get, s,
             "{\"resource\":\"productPolicy\",\"policyId\":\"AllowSelfServicePurchase\","
             "\"productId\":\"../x\"}",
             MSC_INVALID_ARGUMENT, "msc_get with an invalid id");
        call(msc_get, s, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
             MSC_INVALID_ARGUMENT, "msc_get with a request that is not an object");
        msc_session_free(s);
    }

    if (nargs >= 8) {
        snprintf(options, sizeof options,
                 "{\"serviceUrl\":\"%s\",\"authorityHost\":\"%s\",\"caCertificatePath\":\"%s\","
                 "\"timeoutSeconds\":20}",
                 args[3], args[3], args[4]);
        s = session(options, "msc_session_new with a CA file (TLS)");
        if (s != NULL) {
            snprintf(request, sizeof request,
                     "{\"flow\":\"certificate\",\"certificatePath\":\"%s\",\"tenantId\":\"%s\","
                     "\"clientId\":\"%s\"}",
                     args[5], args[6], args[7]);
            call(msc_connect, s, request, MSC_OK, "msc_connect with a certificate (TLS)");
            call(msc_get, s, "{\"resource\":\"connection\"}", MSC_OK, "msc_get connection");
            call(msc_get, s, "{\"resource\":\"policies\"}", MSC_OK, "msc_get policies (TLS)");
            msc_session_free(s);
        }
    } else {
        printf("skip - certificate sign-in: no TLS arguments\n");
    }
    return NULL;
}

int main(int argc, char **argv) {
    pthread_attr_t attr;
    pthread_t thread;
    int rc;

    nargs = argc;
    args = argv;
    if (argc < 3) {
        printf("usage: small_stack SERVICE_URL ACCESS_TOKEN [TLS_URL CA_FILE CERT_FILE TENANT CLIENT_ID]\n");
        return 2;
    }
    pthread_attr_init(&attr);
    rc = pthread_attr_setstacksize(&attr, HOST_STACK);
    check(rc == 0, "a host thread of 64 KiB", rc, "pthread_attr_setstacksize failed");
    rc = pthread_create(&thread, &attr, host_thread, NULL);
    check(rc == 0, "pthread_create", rc, "pthread_create failed");
    if (rc == 0) {
        pthread_join(thread, NULL);
    }
    pthread_attr_destroy(&attr);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
