/*
 * bare_mhd.c - the reference server for the GET-by-id benchmark: a bare
 * libmicrohttpd daemon that answers every request with one fixed JSON body.
 *
 * It is started exactly like Axon's daemon in src/http.c (same flags:
 * MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME,
 * same thread pool size: one worker per online core, same connection
 * timeout, limit and memory limit as Axon's defaults), and, like
 * Axon, it queues the reply on the second callback of a request, never the
 * first (libmicrohttpd 0.9.75 closes keep-alive connections otherwise).
 * No routing, no authentication, no database: it is the ceiling.
 *
 * usage: bare_mhd BODY_FILE PORT_FILE [MAX_SECONDS]
 *   BODY_FILE   the JSON body to serve (bench/run.sh stores a real customer)
 *   PORT_FILE   the bound port (127.0.0.1, picked by the kernel) is written here
 *   MAX_SECONDS the server exits by itself after this long (default 600)
 * SIGINT / SIGTERM stop it earlier.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *body;
static size_t body_len;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)cls; (void)url; (void)method; (void)version; (void)upload_data;
    static int marker;
    if (*req_cls == NULL) {            /* first call: headers only; answer later */
        *req_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size) {           /* a body (none expected): drop it */
        *upload_data_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s BODY_FILE PORT_FILE [MAX_SECONDS]\n", argv[0]);
        return 2;
    }
    int max_seconds = argc > 3 ? atoi(argv[3]) : 600;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    body = malloc((size_t)n + 1);
    if (!body || fread(body, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    body_len = (size_t)n;
    while (body_len && (body[body_len - 1] == '\n' || body[body_len - 1] == '\r'))
        body_len--;

    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = 0;
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL,
        on_request, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_CONNECTION_LIMIT, 1024u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bare_mhd: cannot start the daemon\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    f = fopen(argv[2], "w");
    if (!f || !info) {
        fprintf(stderr, "bare_mhd: cannot write %s\n", argv[2]);
        MHD_stop_daemon(d);
        return 1;
    }
    fprintf(f, "%u\n", (unsigned)info->port);
    fclose(f);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    time_t end = time(NULL) + max_seconds;
    while (!stop && time(NULL) < end)
        usleep(100 * 1000);
    MHD_stop_daemon(d);
    free(body);
    return 0;
}
