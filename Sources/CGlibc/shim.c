#include "CGlibc.h"
#include <string.h>

int wsgate_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

int wsgate_pipe2(int fds[2], int flags) {
    return pipe2(fds, flags);
}

const char *wsgate_errno_name(int value) {
    return strerrorname_np(value);
}
