// echo_server.c: the baseline the Java servers are measured against. A single-threaded, level-triggered epoll echo
// server, with the same rules as EchoServer's nio mode: one loop, one read buffer, accept everything queued on each
// wake-up, TCP_NODELAY, and a connection whose echo the peer has not taken yet is not read again until it has.
//
//   gcc -O2 -o echo_server compare/c/echo_server.c
//   ./echo_server [-p PORT] [-b BACKLOG]      (PORT 0 picks a free one; default 8080, backlog 4096)
//
// Prints "Listening on tcp://127.0.0.1:PORT mode=c-epoll" once bound, and its counters on Ctrl-C / SIGTERM.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    char *pending;      // echo not yet taken by the peer (NULL: none)
    size_t off, len;
} conn;

static volatile sig_atomic_t stop;
static long accepted, closed, failed, bytes;

static void on_signal(int sig) { (void) sig; stop = 1; }

static void end(int ep, conn *c, int err) {
    if (err) failed++;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pending);
    free(c);
    closed++;
}

int main(int argc, char **argv) {
    int port = 8080, backlog = 4096, opt;
    while ((opt = getopt(argc, argv, "p:b:")) != -1) {
        if (opt == 'p') port = atoi(optarg);
        else if (opt == 'b') backlog = atoi(optarg);
        else { fprintf(stderr, "usage: %s [-p PORT] [-b BACKLOG]\n", argv[0]); return 2; }
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *) &a, sizeof a) || listen(lfd, backlog)) {
        fprintf(stderr, "Error: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    socklen_t alen = sizeof a;
    getsockname(lfd, (struct sockaddr *) &a, &alen);
    printf("Listening on tcp://127.0.0.1:%d mode=c-epoll\n", ntohs(a.sin_port));
    fflush(stdout);

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}, events[1024];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    static char buf[64 * 1024];
    while (!stop) {
        int n = epoll_wait(ep, events, 1024, -1);
        for (int i = 0; i < n; i++) {
            conn *c = events[i].data.ptr;
            if (c == NULL) {                       // the listener: take every queued connection
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                    accepted++;
                }
                if (errno != EAGAIN && errno != EWOULDBLOCK) perror("accept");
                continue;
            }
            if (c->pending) {                      // writable again: flush what the peer had not taken
                ssize_t w = write(c->fd, c->pending + c->off, c->len - c->off);
                if (w < 0) { if (errno != EAGAIN) end(ep, c, 1); continue; }
                bytes += w;
                c->off += w;
                if (c->off == c->len) {
                    free(c->pending);
                    c->pending = NULL;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
                }
                continue;
            }
            ssize_t r = read(c->fd, buf, sizeof buf);
            if (r == 0) { end(ep, c, 0); continue; }
            if (r < 0) { if (errno != EAGAIN) end(ep, c, 1); continue; }
            ssize_t w = write(c->fd, buf, r);
            if (w < 0) { if (errno != EAGAIN) { end(ep, c, 1); continue; } w = 0; }
            bytes += w;
            if (w < r) {                           // back-pressure: keep the rest, stop reading until it is taken
                c->len = r - w;
                c->off = 0;
                c->pending = malloc(c->len);
                memcpy(c->pending, buf + w, c->len);
                struct epoll_event cev = {.events = EPOLLOUT, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
            }
        }
    }
    printf("Connections: %ld accepted, %ld closed (%ld failed), %ld open; %ld bytes echoed\n",
           accepted, closed, failed, accepted - closed, bytes);
    return 0;
}
