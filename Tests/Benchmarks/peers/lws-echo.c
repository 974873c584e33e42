/* libwebsockets echo for Tests/Benchmarks/workloads.sh, after lws' minimal-ws-server-echo: each
 * fragment received is queued and sent back as it came (same opcode, same FIN), in order, when the
 * socket is writable. Build: cc -O2 -o lws-echo lws-echo.c -lwebsockets; run: ./lws-echo PORT */
#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct fragment {
    struct fragment *next;
    size_t len;
    int flags;
    unsigned char buf[];  /* LWS_PRE bytes, then the payload */
};

struct session {
    struct fragment *head, *tail;
};

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    struct session *s = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        s->head = s->tail = NULL;
        break;
    case LWS_CALLBACK_RECEIVE: {
        struct fragment *f = malloc(sizeof *f + LWS_PRE + len);
        if (!f) return -1;
        f->next = NULL;
        f->len = len;
        memcpy(f->buf + LWS_PRE, in, len);
        int first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
        f->flags = lws_write_ws_flags(lws_frame_is_binary(wsi) ? LWS_WRITE_BINARY : LWS_WRITE_TEXT, first, final);
        if (s->tail) s->tail->next = f; else s->head = f;
        s->tail = f;
        lws_callback_on_writable(wsi);
        break;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE:
        while (s->head) {
            struct fragment *f = s->head;
            if (lws_write(wsi, f->buf + LWS_PRE, f->len, f->flags) < (int)f->len) return -1;
            s->head = f->next;
            if (!s->head) s->tail = NULL;
            free(f);
            if (lws_send_pipe_choked(wsi)) {
                if (s->head) lws_callback_on_writable(wsi);
                break;
            }
        }
        break;
    case LWS_CALLBACK_CLOSED:
        while (s->head) { struct fragment *f = s->head; s->head = f->next; free(f); }
        break;
    default:
        break;
    }
    return 0;
}

static struct lws_protocols protocols[] = {
    {"echo", callback, sizeof(struct session), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static volatile int interrupted;
static void stop(int sig) { (void)sig; interrupted = 1; }

int main(int argc, char **argv) {
    signal(SIGINT, stop);
    signal(SIGTERM, stop);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = argc > 1 ? atoi(argv[1]) : 19011;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.pt_serv_buf_size = 128 * 1024;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    struct lws_context *context = lws_create_context(&info);
    if (!context) return 1;
    while (!interrupted && lws_service(context, 0) >= 0) {}
    lws_context_destroy(context);
    return 0;
}
