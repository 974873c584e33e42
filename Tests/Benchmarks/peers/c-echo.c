/* The limit for Tests/Benchmarks/workloads.sh: a minimal WebSocket echo on epoll, as little as an
 * echo can do. Level-triggered; one read per readiness into the connection's fixed buffer; every
 * whole frame in it is unmasked in place and answered, all frames of one read in one writev (the
 * server header is written over the client's, so nothing is copied); no allocation after accept.
 * Not a WebSocket server to use: no fragmentation, no close handshake beyond echoing it, no
 * validation. Build: cc -O2 -o c-echo c-echo.c -lcrypto; run: ./c-echo PORT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define BUFFER (256 * 1024)
#define MAX_IOV 256

struct conn {
    int fd, open;
    size_t len;           /* bytes in in[] */
    size_t out_off, out_len;  /* unwritten reply bytes in in[out_off..] (only when a write was short) */
    unsigned char in[BUFFER];
};

static const char *b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void handshake(struct conn *c, int ep) {
    c->in[c->len] = 0;
    char *end = strstr((char *)c->in, "\r\n\r\n");
    if (!end) return;
    char *key = strcasestr((char *)c->in, "Sec-WebSocket-Key:");
    if (!key) { close(c->fd); c->fd = -1; return; }
    key += 18;
    while (*key == ' ') key++;
    char joined[128];
    int n = 0;
    while (key[n] && key[n] != '\r' && n < 60) { joined[n] = key[n]; n++; }
    memcpy(joined + n, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
    unsigned char digest[20];
    SHA1((unsigned char *)joined, n + 36, digest);
    char accept[29];
    for (int i = 0, o = 0; i < 21; i += 3) {
        uint32_t v = digest[i] << 16 | (i + 1 < 20 ? digest[i + 1] << 8 : 0) | (i + 2 < 20 ? digest[i + 2] : 0);
        accept[o++] = b64[v >> 18 & 63]; accept[o++] = b64[v >> 12 & 63];
        accept[o++] = i + 1 < 20 ? b64[v >> 6 & 63] : '=';
        accept[o++] = i + 2 < 20 ? b64[v & 63] : '=';
    }
    accept[28] = 0;
    char reply[256];
    int len = snprintf(reply, sizeof reply, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
    if (write(c->fd, reply, len) != len) { close(c->fd); c->fd = -1; return; }
    size_t used = end + 4 - (char *)c->in;
    memmove(c->in, c->in + used, c->len - used);
    c->len -= used;
    c->open = 1;
    (void)ep;
}

/* Answers every whole frame in c->in; keeps an incomplete one at the front. */
static void frames(struct conn *c, int ep) {
    struct iovec iov[MAX_IOV];
    int count = 0;
    size_t pos = 0, total = 0, consumed = 0;
    while (count < MAX_IOV && c->len - pos >= 2) {
        unsigned char *p = c->in + pos;
        uint64_t plen = p[1] & 0x7f;
        size_t h = 2;
        if (plen == 126) { if (c->len - pos < 4) break; plen = p[2] << 8 | p[3]; h = 4; }
        else if (plen == 127) {
            if (c->len - pos < 10) break;
            plen = 0; for (int i = 2; i < 10; i++) plen = plen << 8 | p[i];
            h = 10;
        }
        if (c->len - pos < h + 4 + plen) break;
        unsigned char *mask = p + h, *payload = p + h + 4;
        uint32_t m; memcpy(&m, mask, 4);
        uint64_t m8 = (uint64_t)m << 32 | m;
        size_t i = 0;
        for (; i + 8 <= plen; i += 8) { uint64_t v; memcpy(&v, payload + i, 8); v ^= m8; memcpy(payload + i, &v, 8); }
        for (; i < plen; i++) payload[i] ^= mask[i & 3];
        /* The server header ends where the payload starts. */
        size_t sh = plen < 126 ? 2 : plen <= 0xffff ? 4 : 10;
        unsigned char *s = payload - sh;
        s[0] = p[0];
        if (sh == 2) s[1] = plen;
        else if (sh == 4) { s[1] = 126; s[2] = plen >> 8; s[3] = plen; }
        else { s[1] = 127; for (int k = 0; k < 8; k++) s[2 + k] = plen >> (56 - 8 * k); }
        iov[count].iov_base = s; iov[count].iov_len = sh + plen; count++;
        total += sh + plen;
        pos += h + 4 + plen;
        consumed = pos;
        if ((p[0] & 0x0f) == 8) c->open = 2;  /* close: echoed, then the socket is closed */
    }
    if (count == 0) return;
    ssize_t w = writev(c->fd, iov, count);
    if (w < 0) w = 0;
    if ((size_t)w < total) {
        /* Rare: keep the rest contiguous at the front and wait for writable. */
        size_t skip = w, off = 0;
        for (int k = 0; k < count; k++) {
            if (skip >= iov[k].iov_len) { skip -= iov[k].iov_len; continue; }
            memmove(c->in + off, (char *)iov[k].iov_base + skip, iov[k].iov_len - skip);
            off += iov[k].iov_len - skip; skip = 0;
        }
        memmove(c->in + off, c->in + consumed, c->len - consumed);
        c->out_off = 0; c->out_len = off; c->len = off + (c->len - consumed);
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        return;
    }
    memmove(c->in, c->in + consumed, c->len - consumed);
    c->len -= consumed;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 19010;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1024)) { perror("listen"); return 1; }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (!c) {
                int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                if (fd < 0) continue;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c = malloc(sizeof *c);
                c->fd = fd; c->open = 0; c->len = 0; c->out_len = 0;
                struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                continue;
            }
            if (c->out_len) {
                ssize_t w = write(c->fd, c->in + c->out_off, c->out_len);
                if (w > 0) { c->out_off += w; c->out_len -= w; }
                if (w < 0 && errno != EAGAIN) goto drop;
                if (c->out_len) continue;
                memmove(c->in, c->in + c->out_off, c->len - c->out_off);
                c->len -= c->out_off;
                struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                if (c->len) frames(c, ep);
                continue;
            }
            ssize_t r = read(c->fd, c->in + c->len, BUFFER - 1 - c->len);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                goto drop;
            }
            c->len += r;
            if (!c->open) handshake(c, ep);
            if (c->fd < 0) { free(c); continue; }
            if (c->open && c->len) frames(c, ep);
            if (c->open == 2 && !c->out_len) goto drop;
            continue;
        drop:
            close(c->fd);
            free(c);
        }
    }
}
