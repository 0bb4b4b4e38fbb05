/*
 * Cold start: the time from loading the library to the first answer of a
 * call against the emulator. Loads the library with dlopen (so the load is
 * inside the measurement), makes a session and calls msc_get once.
 *
 *   cold_start /path/to/libmscommerce.so http://127.0.0.1:PORT ACCESS_TOKEN
 *
 * Prints one line with the split times; exits 0 when the call answered MSC_OK.
 */
#define _POSIX_C_SOURCE 200809L
#include "mscommerce.h"

#include <dlfcn.h>
#include <stdio.h>
#include <time.h>

typedef int32_t (*session_new_fn)(const char *, MscSession **, char **);
typedef int32_t (*call_fn)(MscSession *, const char *, char **);
typedef void (*session_free_fn)(MscSession *);
typedef void (*string_free_fn)(char *);

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    char options[512], request[4096];
    double t0, t_load, t_session, t_answer;
    void *lib;
    session_new_fn session_new;
    call_fn get;
    session_free_fn session_free;
    string_free_fn string_free;
    MscSession *s = NULL;
    char *json = NULL;
    int32_t code;

    if (argc != 4) {
        printf("usage: cold_start LIBRARY URL TOKEN\n");
        return 2;
    }
    snprintf(options, sizeof options, "{\"serviceUrl\":\"%s\",\"authorityHost\":\"%s\"}", argv[2], argv[2]);
    snprintf(request, sizeof request, "{\"resource\":\"policies\",\"accessToken\":\"%s\"}", argv[3]);

    t0 = now_ms();
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        printf("cold start: dlopen failed: %s\n", dlerror());
        return 1;
    }
    *(void **)&session_new = dlsym(lib, "msc_session_new");
    *(void **)&get = dlsym(lib, "msc_get");
    *(void **)&session_free = dlsym(lib, "msc_session_free");
    *(void **)&string_free = dlsym(lib, "msc_string_free");
    if (!session_new || !get || !session_free || !string_free) {
        printf("cold start: missing exports\n");
        return 1;
    }
    t_load = now_ms();
    code = session_new(options, &s, &json);
    string_free(json);
    json = NULL;
    t_session = now_ms();
    if (code != MSC_OK) {
        printf("cold start: msc_session_new failed (%d)\n", code);
        return 1;
    }
    code = get(s, request, &json);
    t_answer = now_ms();
    printf("cold start: %.1f ms from dlopen to the first msc_get answer (dlopen %.1f ms, "
           "msc_session_new %.1f ms, first msc_get %.1f ms; code %d)\n",
           t_answer - t0, t_load - t0, t_session - t_load, t_answer - t_session, code);
    string_free(json);
    session_free(s);
    return code == MSC_OK ? 0 : 1;
}
