/*
 * The C ABI test: a host written against include/mscommerce.h, linked to the
 * library, exercising every function against the emulator (success, each
 * error code the emulator can provoke, NULL arguments, freeing, threads).
 *
 *   abi_test http://127.0.0.1:PORT
 *
 * The emulator's control endpoints (/_emulator/token, /_emulator/faults,
 * /_emulator/products) are driven over a small HTTP/1.1 client of its own.
 * Prints one line per check to stdout, never to stderr, and ends with
 * "N passed, N failed, N skipped"; exits 0 when nothing failed.
 * Builds with gcc (Linux) and mingw-w64 (Windows, run under Wine).
 */
#include "mscommerce.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
typedef SOCKET sock_t;
#define close_sock closesocket
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
typedef int sock_t;
#define INVALID_SOCKET (-1)
#define close_sock close
#endif

static int passed, failed, skipped;
static char base_url[256];
static char host[64] = "127.0.0.1";
static int port;

static void check(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s - ", ok ? "ok" : "FAILED");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (ok) passed++; else failed++;
}

static void skip(const char *what, const char *why) {
    printf("skip - %s: %s\n", what, why);
    fflush(stdout);
    skipped++;
}

static double now_ms(void) {
#ifdef _WIN32
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart * 1000.0 / (double)f.QuadPart;
#else
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
#endif
}

/* ---- a tiny HTTP/1.1 client for the emulator's control endpoints ---- */

/* POST body to path; the response body (malloc'd) or NULL. */
static char *http_post(const char *path, const char *body) {
    struct sockaddr_in addr;
    char head[512];
    size_t cap = 8192, len = 0;
    char *buf, *start, *out;
    sock_t s = socket(AF_INET, SOCK_STREAM, 0);
    if (s == INVALID_SOCKET) return NULL;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = inet_addr(host);
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close_sock(s);
        return NULL;
    }
    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
             "Content-Length: %u\r\nConnection: close\r\n\r\n",
             path, host, port, (unsigned)strlen(body));
    send(s, head, (int)strlen(head), 0);
    send(s, body, (int)strlen(body), 0);
    buf = malloc(cap);
    for (;;) {
        int n;
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        n = (int)recv(s, buf + len, (int)(cap - len - 1), 0);
        if (n <= 0) break;
        len += (size_t)n;
    }
    close_sock(s);
    buf[len] = 0;
    start = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0 || !start) {
        free(buf);
        return NULL;
    }
    out = malloc(strlen(start + 4) + 1);
    strcpy(out, start + 4);
    free(buf);
    return out;
}

/* An access token of a built-in emulator user (malloc'd), or NULL. */
static char *mint(const char *user, long lifetime) {
    char body[128];
    char *answer, *p, *q, *token = NULL;
    snprintf(body, sizeof body, "{\"user\":\"%s\",\"lifetimeSeconds\":%ld}", user, lifetime);
    answer = http_post("/_emulator/token", body);
    if (!answer) return NULL;
    p = strstr(answer, "\"access_token\":\"");
    if (p) {
        p += strlen("\"access_token\":\"");
        q = strchr(p, '"');
        if (q) {
            token = malloc((size_t)(q - p) + 1);
            memcpy(token, p, (size_t)(q - p));
            token[q - p] = 0;
        }
    }
    free(answer);
    return token;
}

static int faults(const char *json) {
    char *a = http_post("/_emulator/faults", json);
    int ok = a != NULL;
    free(a);
    return ok;
}

/* ---- helpers over the ABI ---- */

static int has(const char *json, const char *needle) {
    return json != NULL && strstr(json, needle) != NULL;
}

/* The error code name of an answer must be the return code's. */
static const char *code_name(int32_t code) {
    switch (code) {
    case MSC_OK: return NULL;
    case MSC_INVALID_ARGUMENT: return "\"code\":\"InvalidArgument\"";
    case MSC_NOT_CONNECTED: return "\"code\":\"NotConnected\"";
    case MSC_AUTHENTICATION: return "\"code\":\"Authentication\"";
    case MSC_FORBIDDEN: return "\"code\":\"Forbidden\"";
    case MSC_NOT_FOUND: return "\"code\":\"NotFound\"";
    case MSC_THROTTLED: return "\"code\":\"Throttled\"";
    case MSC_SERVICE: return "\"code\":\"Service\"";
    case MSC_NETWORK: return "\"code\":\"Network\"";
    case MSC_TIMEOUT: return "\"code\":\"Timeout\"";
    case MSC_PENDING: return "\"code\":\"Pending\"";
    case MSC_INTERNAL: return "\"code\":\"Internal\"";
    default: return "?";
    }
}

typedef int32_t (*call_fn)(MscSession *, const char *, char **);

/* Calls fn, checks the return code and that the answer agrees with it
 * (value + log on MSC_OK; error with the code's name + message + log
 * otherwise), and that `needle` (when given) is in the answer. */
static void expect(const char *what, call_fn fn, MscSession *s, const char *request,
                   int32_t want, const char *needle) {
    char *json = (char *)"unset";
    int32_t code = fn(s, request, &json);
    int shape;
    if (json == NULL || json == (char *)"unset") {
        check(0, "%s: out_json was not set", what);
        return;
    }
    if (code == MSC_OK)
        shape = json[0] == '{' && has(json, "\"value\":") && has(json, "\"log\":[") &&
                !has(json, "\"error\":");
    else
        shape = json[0] == '{' && has(json, code_name(code)) && has(json, "\"message\":") &&
                has(json, "\"log\":[");
    check(code == want && shape && (needle == NULL || has(json, needle)),
          "%s: code %d (want %d)%s%s%s", what, code, want,
          needle ? ", has " : "", needle ? needle : "",
          (code == want && shape && (needle == NULL || has(json, needle))) ? "" : " -- got:");
    if (!(code == want && shape && (needle == NULL || has(json, needle)))) printf("    %s\n", json);
    msc_string_free(json);
}

static MscSession *new_session(const char *options) {
    MscSession *s = NULL;
    char *json = NULL;
    int32_t code = msc_session_new(options, &s, &json);
    if (code != MSC_OK) printf("    session_new failed: %s\n", json ? json : "(no answer)");
    msc_string_free(json);
    return s;
}

/* ---- threads: 8 threads on one session ---- */

#define THREADS 8
#define CALLS 10
static MscSession *shared_session;
static int thread_ok[THREADS];

static void thread_body(int i) {
    int n, ok = 1;
    for (n = 0; n < CALLS; n++) {
        char *json = NULL;
        int32_t code = (n % 2) ? msc_get(shared_session, "{\"resource\":\"policies\"}", &json)
                               : msc_get(shared_session,
                                         "{\"resource\":\"productPolicy\",\"policyId\":"
                                         "\"AllowSelfServicePurchase\",\"productId\":\"CFQ7TTC0KP0P\"}",
                                         &json);
        if (code != MSC_OK || !has(json, "\"value\":")) ok = 0;
        msc_string_free(json);
    }
    thread_ok[i] = ok;
}

#ifdef _WIN32
static DWORD WINAPI thread_main(LPVOID arg) { thread_body((int)(INT_PTR)arg); return 0; }
#else
static void *thread_main(void *arg) { thread_body((int)(long)arg); return NULL; }
#endif

static void run_threads(void) {
    int i, all = 1;
#ifdef _WIN32
    HANDLE t[THREADS];
    for (i = 0; i < THREADS; i++) t[i] = CreateThread(NULL, 0, thread_main, (LPVOID)(INT_PTR)i, 0, NULL);
    WaitForMultipleObjects(THREADS, t, TRUE, INFINITE);
    for (i = 0; i < THREADS; i++) CloseHandle(t[i]);
#else
    pthread_t t[THREADS];
    for (i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, thread_main, (void *)(long)i);
    for (i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
#endif
    for (i = 0; i < THREADS; i++) all = all && thread_ok[i];
    check(all, "%d threads x %d calls on one session all MSC_OK", THREADS, CALLS);
}

int main(int argc, char **argv) {
    char options[1024], request[4096];
    char *json, *admin, *user, *reader, *expired;
    MscSession *s, *s2;
    const char *v;
    int32_t code;
    double t0;
    const char *policy = "\"policyId\":\"AllowSelfServicePurchase\"";

#ifdef _WIN32
    WSADATA wsa;
    WSAStartup(MAKEWORD(2, 2), &wsa);
#endif
    if (argc < 2 || sscanf(argv[1], "http://%63[^:]:%d", host, &port) != 2) {
        printf("usage: abi_test http://127.0.0.1:PORT\n");
        return 2;
    }
    snprintf(base_url, sizeof base_url, "http://%s:%d", host, port);

    /* -- version -- */
    v = msc_version();
    check(v != NULL && strlen(v) >= 5 && strchr(v, '.') != NULL, "msc_version is \"%s\"", v ? v : "(null)");
    check(msc_version() == v, "msc_version answers the same static string");
    check(msc_abi_version() == 1, "msc_abi_version is 1");
    if (argc > 2) check(strcmp(v, argv[2]) == 0, "msc_version equals the crate's %s", argv[2]);

    /* -- session_new -- */
    s = (MscSession *)&passed; /* must be overwritten with NULL on error */
    json = NULL;
    code = msc_session_new("{", &s, &json);
    check(code == MSC_INVALID_ARGUMENT && s == NULL && has(json, "InvalidArgument"),
          "session_new with bad JSON: MSC_INVALID_ARGUMENT, *out_session NULL, message");
    msc_string_free(json);
    json = NULL;
    code = msc_session_new(NULL, &s, &json);
    check(code == MSC_INVALID_ARGUMENT && s == NULL && has(json, "options_json is NULL"),
          "session_new with NULL options_json: MSC_INVALID_ARGUMENT");
    msc_string_free(json);
    json = NULL;
    code = msc_session_new("{}", NULL, &json);
    check(code == MSC_INVALID_ARGUMENT && has(json, "out_session is NULL"),
          "session_new with NULL out_session: MSC_INVALID_ARGUMENT");
    msc_string_free(json);
    json = NULL;
    code = msc_session_new("{\"serviceUrl\":\"http://example.com\"}", &s, &json);
    check(code == MSC_INVALID_ARGUMENT && s == NULL && has(json, "loopback"),
          "session_new refuses http:// to a non-loopback host");
    msc_string_free(json);
    json = NULL;
    code = msc_session_new("{\"timeoutSeconds\":\"\xff\"}", &s, &json);
    check(code == MSC_INVALID_ARGUMENT && has(json, "UTF-8"), "session_new with invalid UTF-8: MSC_INVALID_ARGUMENT");
    msc_string_free(json);
    code = msc_session_new("{\"bogus\":1}", &s, NULL);
    check(code == MSC_INVALID_ARGUMENT && s == NULL, "session_new with an unknown field, out_json NULL: code only");
    code = msc_session_new("", &s, NULL);
    check(code == MSC_OK && s != NULL, "session_new with \"\" (defaults), out_json NULL");
    msc_session_free(s);

    snprintf(options, sizeof options,
             "{\"serviceUrl\":\"%s\",\"authorityHost\":\"%s\",\"timeoutSeconds\":20,"
             "\"maxRetries\":1,\"retryBaseDelayMs\":10}",
             base_url, base_url);
    json = NULL;
    s = NULL;
    code = msc_session_new(options, &s, &json);
    check(code == MSC_OK && s != NULL && has(json, "\"value\":") && has(json, "\"abiVersion\":1"),
          "session_new against the emulator: MSC_OK with the effective options");
    msc_string_free(json);
    if (s == NULL) {
        printf("%d passed, %d failed, %d skipped\n", passed, failed + 1, skipped);
        return 1;
    }

    admin = mint("admin", 3600);
    user = mint("user", 3600);
    reader = mint("reader", 3600);
    expired = mint("admin", -600);
    check(admin && user && reader && expired, "the emulator minted tokens (admin, user, reader, expired)");
    if (!admin || !user || !reader || !expired) {
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
        return 1;
    }

    /* -- NULLs and malformed requests -- */
    expect("get with NULL session", msc_get, NULL, "{\"resource\":\"policies\"}", MSC_INVALID_ARGUMENT, "session is NULL");
    expect("get with NULL request", msc_get, s, NULL, MSC_INVALID_ARGUMENT, "request_json is NULL");
    expect("connect with NULL request", msc_connect, s, NULL, MSC_INVALID_ARGUMENT, "request_json is NULL");
    expect("update with NULL request", msc_update, s, NULL, MSC_INVALID_ARGUMENT, "request_json is NULL");
    expect("get with JSON that does not parse", msc_get, s, "{\"resource\":", MSC_INVALID_ARGUMENT, NULL);
    expect("get with invalid UTF-8", msc_get, s, "{\"resource\":\"\xc3\x28\"}", MSC_INVALID_ARGUMENT, "UTF-8");
    expect("get with no resource", msc_get, s, "{}", MSC_INVALID_ARGUMENT, "resource is required");
    expect("connect with an unknown flow", msc_connect, s, "{\"flow\":\"nope\"}", MSC_INVALID_ARGUMENT, NULL);
    code = msc_get(s, "[1,2", NULL);
    check(code == MSC_INVALID_ARGUMENT, "get with bad JSON and out_json NULL: code only");

    /* -- not connected -- */
    expect("get before connect", msc_get, s, "{\"resource\":\"policies\"}", MSC_NOT_CONNECTED, "Connect-MSCommerce");
    expect("get connection before connect", msc_get, s, "{\"resource\":\"connection\"}", MSC_NOT_CONNECTED, NULL);

    /* -- a request's own token (-Token), no connection -- */
    snprintf(request, sizeof request, "{\"resource\":\"policies\",\"accessToken\":\"%s\"}", admin);
    expect("get policies with the request's accessToken", msc_get, s, request, MSC_OK, "AllowSelfServicePurchase");

    /* -- authentication, forbidden -- */
    snprintf(request, sizeof request, "{\"flow\":\"accessToken\",\"accessToken\":\"%s\"}", expired);
    expect("connect with an expired token", msc_connect, s, request, MSC_AUTHENTICATION, NULL);
    expect("get with a token the service rejects (401)", msc_get, s,
           "{\"resource\":\"policies\",\"accessToken\":\"not-a-token\"}", MSC_AUTHENTICATION, NULL);
    snprintf(request, sizeof request, "{\"resource\":\"policies\",\"accessToken\":\"%s\"}", user);
    expect("get as a user without an admin role (403)", msc_get, s, request, MSC_FORBIDDEN, "\"httpStatus\":403");
    snprintf(request, sizeof request,
             "{%s,\"productId\":\"CFQ7TTC0KP0P\",\"value\":\"Disabled\",\"accessToken\":\"%s\"}", policy, reader);
    expect("update as a global reader (403)", msc_update, s, request, MSC_FORBIDDEN, NULL);

    /* -- pending: a device code sign-in across msc_connect calls -- */
    expect("deviceCode start", msc_connect, s,
           "{\"flow\":\"deviceCode\",\"step\":\"start\",\"tenantId\":\"contoso.onmicrosoft.com\"}", MSC_OK,
           "\"UserCode\":");
    expect("deviceCode poll before the user signs in", msc_connect, s,
           "{\"flow\":\"deviceCode\",\"step\":\"poll\"}", MSC_PENDING, NULL);
    json = http_post("/_emulator/device/approve", "{\"user\":\"admin\"}");
    check(json != NULL, "the emulator approved the device code");
    free(json);
    {
        int polls = 0;
        do {
            json = NULL;
            code = msc_connect(s, "{\"flow\":\"deviceCode\",\"step\":\"poll\"}", &json);
            if (code == MSC_PENDING) msc_string_free(json);
        } while (code == MSC_PENDING && ++polls < 30);
        check(code == MSC_OK && has(json, "\"Flow\":\"DeviceCode\""),
              "deviceCode poll after sign-in: MSC_OK with the connection (%d polls)", polls + 1);
        msc_string_free(json);
    }

    /* -- connect, and the connected calls -- */
    snprintf(request, sizeof request, "{\"flow\":\"accessToken\",\"accessToken\":\"%s\"}", admin);
    json = NULL;
    code = msc_connect(s, request, &json);
    check(code == MSC_OK && has(json, "\"Account\":") && has(json, "\"Flow\":") && !has(json, admin),
          "connect with an access token: MSC_OK, the connection, no token in the answer");
    msc_string_free(json);
    expect("get connection", msc_get, s, "{\"resource\":\"connection\"}", MSC_OK, "\"TenantId\":");
    expect("get with an unknown resource", msc_get, s, "{\"resource\":\"nope\"}", MSC_INVALID_ARGUMENT, NULL);
    expect("get policies", msc_get, s, "{\"resource\":\"policies\"}", MSC_OK, "\"DefaultValue\":");
    snprintf(request, sizeof request, "{\"resource\":\"policy\",%s}", policy);
    expect("get policy", msc_get, s, request, MSC_OK, "\"Description\":");
    snprintf(request, sizeof request, "{\"resource\":\"productPolicies\",%s}", policy);
    expect("get productPolicies", msc_get, s, request, MSC_OK, "\"ProductName\":");
    snprintf(request, sizeof request, "{\"resource\":\"productPolicy\",%s,\"productId\":\"CFQ7TTC0KP0P\"}", policy);
    expect("get productPolicy", msc_get, s, request, MSC_OK, "\"PolicyValue\":");
    expect("get answers log lines", msc_get, s, request, MSC_OK, "\"log\":[\"GET ");
    snprintf(request, sizeof request, "{%s,\"productId\":\"CFQ7TTC0KP0P\",\"value\":\"Disabled\"}", policy);
    expect("update to Disabled", msc_update, s, request, MSC_OK, "\"PolicyValue\":\"Disabled\"");
    snprintf(request, sizeof request, "{%s,\"productId\":\"CFQ7TTC0KP0P\",\"enabled\":\"TRUE\"}", policy);
    expect("update with enabled \"TRUE\"", msc_update, s, request, MSC_OK, "\"PolicyValue\":\"Enabled\"");
    snprintf(request, sizeof request, "{%s,\"productId\":\"CFQ7TTC0KP0P\",\"value\":\"Sometimes\"}", policy);
    expect("update with an unknown value", msc_update, s, request, MSC_INVALID_ARGUMENT, NULL);
    snprintf(request, sizeof request, "{\"resource\":\"productPolicy\",%s,\"productId\":\"../../x\"}", policy);
    expect("get with an id that fails validation", msc_get, s, request, MSC_INVALID_ARGUMENT, NULL);
    snprintf(request, sizeof request, "{\"resource\":\"productPolicy\",%s,\"productId\":\"CFQ7TTC0ZZZZ\"}", policy);
    expect("get an unknown product (404)", msc_get, s, request, MSC_NOT_FOUND, "\"httpStatus\":404");

    /* -- UTF-8 both ways: a product with a non-ASCII name -- */
    json = http_post("/_emulator/products",
                     "{\"productId\":\"CFQ7TTCUTF8X\",\"productName\":\"Caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80\"}");
    if (json) {
        free(json);
        snprintf(request, sizeof request, "{\"resource\":\"productPolicy\",%s,\"productId\":\"CFQ7TTCUTF8X\"}", policy);
        expect("a non-ASCII product name comes back as the same UTF-8", msc_get, s, request, MSC_OK,
               "Caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80");
    } else {
        check(0, "the emulator took a non-ASCII product");
    }

    /* -- throttled, service error, timeout: faults of the emulator -- */
    check(faults("{\"throttle\":10,\"retryAfterSeconds\":1}"), "fault: throttle");
    expect("429 still after the retries", msc_get, s, "{\"resource\":\"policies\"}", MSC_THROTTLED, "\"retryAfterSeconds\":");
    check(faults("{\"serverErrors\":10,\"serverErrorStatus\":503}"), "fault: server errors");
    expect("503 still after the retries", msc_get, s, "{\"resource\":\"policies\"}", MSC_SERVICE, "\"httpStatus\":503");
    check(faults("{}"), "faults cleared");

    snprintf(options, sizeof options,
             "{\"serviceUrl\":\"%s\",\"authorityHost\":\"%s\",\"timeoutSeconds\":1,\"maxRetries\":0}",
             base_url, base_url);
    s2 = new_session(options);
    check(faults("{\"latencyMs\":4000}"), "fault: 4 s latency");
    t0 = now_ms();
    snprintf(request, sizeof request, "{\"resource\":\"policies\",\"accessToken\":\"%s\"}", admin);
    expect("a call slower than the 1 s timeout", msc_get, s2, request, MSC_TIMEOUT, NULL);
    t0 = now_ms() - t0;
    check(t0 < 2500, "the call returned within the timeout (%.0f ms)", t0);
    check(faults("{}"), "faults cleared");
    msc_session_free(s2);

    /* -- network: nothing listens on port 1 -- */
    s2 = new_session("{\"serviceUrl\":\"http://127.0.0.1:1\",\"timeoutSeconds\":5,\"maxRetries\":0}");
    expect("a refused connection", msc_get, s2, request, MSC_NETWORK, NULL);
    msc_session_free(s2);

    skip("MSC_INTERNAL", "needs a panic inside the library; the Rust unit tests cover the panic boundary");

    /* -- threads -- */
    shared_session = s;
    run_threads();

    /* -- disconnect, free -- */
    check(msc_disconnect(s) == MSC_OK, "disconnect");
    expect("get after disconnect", msc_get, s, "{\"resource\":\"policies\"}", MSC_NOT_CONNECTED, NULL);
    check(msc_disconnect(NULL) == MSC_INVALID_ARGUMENT, "disconnect NULL: MSC_INVALID_ARGUMENT");
    msc_session_free(s);
    expect("get on a freed session", msc_get, s, "{\"resource\":\"policies\"}", MSC_INVALID_ARGUMENT, "not a live session");
    check(msc_disconnect(s) == MSC_INVALID_ARGUMENT, "disconnect on a freed session: MSC_INVALID_ARGUMENT");
    msc_session_free(s); /* a second free is ignored */
    msc_session_free(NULL);
    msc_string_free(NULL);
    check(1, "session_free twice, session_free(NULL), string_free(NULL)");

    free(admin);
    free(user);
    free(reader);
    free(expired);
#ifdef _WIN32
    WSACleanup();
#endif
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
