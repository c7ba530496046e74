// echo_client.c: the baseline EchoClient is measured against. One thread and one epoll loop open N non-blocking
// connections (C in flight at once, default all; opened 128 at a time with the answered ones served in between),
// send SIZE random bytes on each, verify the echo byte for byte, and close. Like EchoClient, it measures inside
// the process, from the first connect() to the last close().
//
//   gcc -O2 -o echo_client compare/c/echo_client.c
//   ./echo_client -p PORT [-n 10000] [-s 100] [-c 0] [-t TIMEOUT_MS] [-S SOURCE_ADDRESS]
//
// Prints one line: "C: N clients, total time = X ms, avg latency = Y µs, p50 = .. µs, p99 = .. µs, max = .. µs,
// failed = F" (and the failures by kind); exit status 1 if any connection failed.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { OK, MISMATCH, SHORT_READ, REFUSED, RESET, CONNECT_TIMEOUT, READ_TIMEOUT, EMFILE_, NO_PORT, OTHER, KINDS };
static const char *kind_name[] = {"ok", "mismatch", "short read", "refused", "reset", "connect timeout",
                                  "read timeout", "too many open files", "no ephemeral port", "other"};

typedef struct conn {
    int fd, connected;
    size_t sent, recvd;
    double start, deadline;
    unsigned char *payload;
} conn;

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static int kind_of(int err, int connected) {
    switch (err) {
        case ECONNREFUSED: return REFUSED;
        case ECONNRESET: case EPIPE: return RESET;
        case ETIMEDOUT: return connected ? READ_TIMEOUT : CONNECT_TIMEOUT;
        case EMFILE: case ENFILE: return EMFILE_;
        case EADDRNOTAVAIL: return NO_PORT;
        default: return OTHER;
    }
}

int main(int argc, char **argv) {
    int port = 8080, n = 10000, size = 100, inflight_max = 0, timeout_ms = 10000, opt;
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = 0};
    while ((opt = getopt(argc, argv, "p:n:s:c:t:S:")) != -1) {
        switch (opt) {
            case 'p': port = atoi(optarg); break;
            case 'n': n = atoi(optarg); break;
            case 's': size = atoi(optarg); break;
            case 'c': inflight_max = atoi(optarg); break;
            case 't': timeout_ms = atoi(optarg); break;
            case 'S': inet_pton(AF_INET, optarg, &src.sin_addr); break;
            default: fprintf(stderr, "usage: %s -p PORT [-n N] [-s SIZE] [-c CONCURRENCY] [-t TIMEOUT_MS] [-S SOURCE]\n", argv[0]); return 2;
        }
    }
    if (inflight_max <= 0 || inflight_max > n) inflight_max = n;
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    conn *conns = calloc(n, sizeof *conns);
    double *latency = malloc(n * sizeof *latency);
    unsigned char *buf = malloc(size);
    long failures[KINDS] = {0};
    int ep = epoll_create1(0), one = 1, next = 0, inflight = 0, done = 0, ok = 0;
    uint64_t rnd = 0x9E3779B97F4A7C15ull ^ (uint64_t) now_us();
    struct epoll_event events[1024];

    double t0 = now_us(), last_close = t0, last_scan = t0;
#define FINISH(c, kind) do { \
        if ((c)->fd >= 0) close((c)->fd); \
        last_close = now_us(); \
        if ((kind) == OK) latency[ok++] = last_close - (c)->start; else failures[kind]++; \
        free((c)->payload); (c)->payload = NULL; (c)->fd = -1; inflight--; done++; \
    } while (0)

    while (done < n) {
        // Open connections in batches of 128 (as EchoClient -m nio does), serving the answered ones in between.
        for (int batch = 0; batch < 128 && inflight < inflight_max && next < n; batch++) {
            conn *c = &conns[next++];
            inflight++;
            c->start = now_us();
            c->deadline = c->start + timeout_ms * 1e3;
            c->payload = malloc(size);
            for (int i = 0; i < size; i++) { rnd ^= rnd << 13; rnd ^= rnd >> 7; rnd ^= rnd << 17; c->payload[i] = (unsigned char) rnd; }
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (c->fd < 0) { FINISH(c, kind_of(errno, 0)); continue; }
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (src.sin_addr.s_addr && bind(c->fd, (struct sockaddr *) &src, sizeof src) < 0) { FINISH(c, kind_of(errno, 0)); continue; }
            if (connect(c->fd, (struct sockaddr *) &a, sizeof a) < 0 && errno != EINPROGRESS) { FINISH(c, kind_of(errno, 0)); continue; }
            struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        }
        if (inflight == 0) continue;
        int k = epoll_wait(ep, events, 1024, inflight < inflight_max && next < n ? 0 : 100);
        for (int i = 0; i < k; i++) {
            conn *c = events[i].data.ptr;
            if (c->fd < 0) continue;
            if (!c->connected) {                          // writable after connect: did it succeed?
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) { FINISH(c, kind_of(err, 0)); continue; }
                c->connected = 1;
                c->deadline = now_us() + timeout_ms * 1e3;
            }
            if (c->sent < (size_t) size) {
                ssize_t w = write(c->fd, c->payload + c->sent, size - c->sent);
                if (w < 0 && errno != EAGAIN) { FINISH(c, kind_of(errno, 1)); continue; }
                if (w > 0) c->sent += w;
                if (c->sent == (size_t) size) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
                continue;
            }
            ssize_t r = read(c->fd, buf, size - c->recvd);
            if (r < 0) { if (errno != EAGAIN) FINISH(c, kind_of(errno, 1)); continue; }
            if (r == 0) { FINISH(c, SHORT_READ); continue; }
            if (memcmp(buf, c->payload + c->recvd, r) != 0) { FINISH(c, MISMATCH); continue; }
            c->recvd += r;
            c->deadline = now_us() + timeout_ms * 1e3;
            if (c->recvd == (size_t) size) FINISH(c, OK);
        }
        double t = now_us();
        if (t - last_scan >= 100e3) {                     // timeouts, checked every 100 ms
            last_scan = t;
            for (int i = 0; i < next; i++)
                if (conns[i].fd >= 0 && conns[i].payload && t > conns[i].deadline)
                    FINISH(&conns[i], conns[i].connected ? READ_TIMEOUT : CONNECT_TIMEOUT);
        }
    }

    double total = last_close - t0, sum = 0;
    for (int i = 0; i < ok; i++) sum += latency[i];
    qsort(latency, ok, sizeof *latency, cmp);
#define PCT(p) (ok ? latency[(int) ((p) / 100.0 * (ok - 1) + 0.5)] : 0)
    printf("C: %d clients, total time = %.1f ms, avg latency = %.1f µs, p50 = %.0f µs, p99 = %.0f µs, max = %.0f µs, failed = %d",
           n, total / 1e3, ok ? sum / ok : 0, PCT(50), PCT(99), PCT(100), n - ok);
    for (int i = 1; i < KINDS; i++) if (failures[i]) printf(", %s = %ld", kind_name[i], failures[i]);
    printf("\n");
    return ok == n ? 0 : 1;
}
