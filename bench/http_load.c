/*
 * http_load.c - POST every line of a JSON-lines file to one URL path, over
 * CONNS keep-alive connections (one thread each), then stop. Used by
 * bench/run.sh to load customers through the API while `axon import` is not
 * available (wrk cannot stop after a fixed number of requests: it always
 * runs for its whole -d).
 *
 * usage: http_load PORT PATH API_KEY FILE.jsonl CONNS MAX_SECONDS
 * Talks to 127.0.0.1:PORT only. Stops after the last line or MAX_SECONDS,
 * whichever comes first, and prints one line:
 *   LOAD lines=N ok=N failed=N errors=N seconds=S rps=R
 * `ok` counts 2xx answers, `failed` other statuses (the first few are
 * printed on stderr), `errors` lost connections. Exit 0 when ok == lines.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char **lines;
static size_t *lens;
static size_t nlines;
static atomic_size_t next_line;
static atomic_long n_ok, n_failed, n_errors;
static int port;
static const char *path, *key;
static double deadline;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_once(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read one response; returns the status, or -1 when the connection broke.
 * *close_after is set when the server says Connection: close. */
static int read_response(int fd, char *buf, size_t cap, int *close_after)
{
    size_t have = 0;
    char *hdr_end = NULL;
    while (!hdr_end) {
        if (have == cap - 1)
            return -1;
        ssize_t r = recv(fd, buf + have, cap - 1 - have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        have += (size_t)r;
        buf[have] = '\0';
        hdr_end = strstr(buf, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    size_t clen = 0;
    *close_after = 0;
    for (char *l = strstr(buf, "\r\n"); l && l < hdr_end; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
            clen = strtoul(l + 17, NULL, 10);
        else if (strncasecmp(l + 2, "Connection:", 11) == 0 && strcasestr(l + 13, "close") &&
                 strcasestr(l + 13, "close") < strstr(l + 2, "\r\n"))
            *close_after = 1;
    }
    size_t body_have = have - (size_t)(hdr_end + 4 - buf);
    while (body_have < clen) {
        size_t want = clen - body_have < cap ? clen - body_have : cap;
        ssize_t r = recv(fd, buf, want, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        body_have += (size_t)r;
    }
    return status;
}

static void *worker(void *unused)
{
    (void)unused;
    size_t cap = 1 << 16;
    char *buf = malloc(cap), *req = NULL;
    size_t req_cap = 0;
    int fd = -1;
    long shown = 0;
    for (;;) {
        size_t i = atomic_fetch_add(&next_line, 1);
        if (i >= nlines || now_s() > deadline)
            break;
        if (fd < 0 && (fd = connect_once()) < 0) {
            atomic_fetch_add(&n_errors, 1);
            continue;
        }
        size_t need = lens[i] + strlen(path) + strlen(key) + 256;
        if (need > req_cap) {
            req_cap = need * 2;
            req = realloc(req, req_cap);
        }
        int n = snprintf(req, req_cap,
                         "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                         "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n",
                         path, port, key, lens[i]);
        memcpy(req + n, lines[i], lens[i]);
        int close_after = 0, status = -1;
        if (send_all(fd, req, (size_t)n + lens[i]) == 0)
            status = read_response(fd, buf, cap, &close_after);
        if (status < 0) {
            atomic_fetch_add(&n_errors, 1);
            close(fd);
            fd = -1;
            continue;
        }
        if (status >= 200 && status < 300) {
            atomic_fetch_add(&n_ok, 1);
        } else {
            long k = atomic_fetch_add(&n_failed, 1);
            if (k < 5 && shown++ < 5)
                fprintf(stderr, "http_load: line %zu: status %d\n", i + 1, status);
        }
        if (close_after) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    free(req);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s PORT PATH API_KEY FILE.jsonl CONNS MAX_SECONDS\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    path = argv[2];
    key = argv[3];
    int conns = atoi(argv[5]);
    double max_s = atof(argv[6]);
    if (conns < 1 || conns > 1024 || port <= 0)
        return 2;
    FILE *f = fopen(argv[4], "rb");
    if (!f) {
        perror(argv[4]);
        return 1;
    }
    struct stat stt;
    fstat(fileno(f), &stt);
    char *data = malloc((size_t)stt.st_size + 1);
    if (!data || fread(data, 1, (size_t)stt.st_size, f) != (size_t)stt.st_size)
        return 1;
    fclose(f);
    data[stt.st_size] = '\0';
    size_t cap = 1024;
    lines = malloc(cap * sizeof *lines);
    lens = malloc(cap * sizeof *lens);
    for (char *p = data; *p;) {
        char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len) {
            if (nlines == cap) {
                cap *= 2;
                lines = realloc(lines, cap * sizeof *lines);
                lens = realloc(lens, cap * sizeof *lens);
            }
            lines[nlines] = p;
            lens[nlines++] = len;
        }
        if (!e)
            break;
        p = e + 1;
    }
    double start = now_s();
    deadline = start + max_s;
    pthread_t *th = calloc((size_t)conns, sizeof *th);
    for (int i = 0; i < conns; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < conns; i++)
        pthread_join(th[i], NULL);
    double took = now_s() - start;
    long ok = atomic_load(&n_ok);
    printf("LOAD lines=%zu ok=%ld failed=%ld errors=%ld seconds=%.3f rps=%.1f\n", nlines, ok,
           atomic_load(&n_failed), atomic_load(&n_errors), took, (double)ok / took);
    return (size_t)ok == nlines ? 0 : 1;
}
