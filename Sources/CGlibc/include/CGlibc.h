#ifndef WSGATE_CGLIBC_H
#define WSGATE_CGLIBC_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

/// accept4(2): the Glibc module does not export it.
int wsgate_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
/// pipe2(2): the Glibc module does not export it.
int wsgate_pipe2(int fds[2], int flags);
/// strerrorname_np(3): "EAGAIN" for EAGAIN; NULL for an unknown value.
const char *wsgate_errno_name(int value);

#endif
