#include "CGlibc.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int wsgate_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

int wsgate_pipe2(int fds[2], int flags) {
    return pipe2(fds, flags);
}

const char *wsgate_errno_name(int value) {
    return strerrorname_np(value);
}

const char *wsgate_errno_message(int value) {
    return strerrordesc_np(value);
}

const char *wsgate_signal_abbreviation(int signal) {
    return sigabbrev_np(signal);
}

int wsgate_fcntl(int fd, int command, int argument) {
    return fcntl(fd, command, argument);
}

int wsgate_ioctl(int fd, unsigned long request, void *argument) {
    return ioctl(fd, request, argument);
}

int wsgate_posix_openpt(int flags) {
    return posix_openpt(flags);
}

int wsgate_grantpt(int fd) {
    return grantpt(fd);
}

int wsgate_unlockpt(int fd) {
    return unlockpt(fd);
}

int wsgate_ptsname_r(int fd, char *buffer, size_t length) {
    return ptsname_r(fd, buffer, length);
}

int wsgate_ignore_sigpipe(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_IGN;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGPIPE, &action, NULL);
}

int wsgate_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

int wsgate_pidfd_send_signal(int pidfd, int signal, unsigned int flags) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, flags);
}

int wsgate_waitid_pidfd(int pidfd, int options, int *code, int *status) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | options) == -1) {
        return -1;
    }
    // With WNOHANG and no state change, waitid returns 0 and leaves si_pid zero.
    *code = info.si_pid == 0 ? 0 : info.si_code;
    *status = info.si_status;
    return 0;
}

// Everything from here to execve runs in the child, which shares the parent's memory
// (CLONE_VM) while the parent is suspended (CLONE_VFORK). Only async-signal-safe calls, no
// allocation, no writes to memory other than the request's out fields and this stack.
struct wsgate_spawn_context {
    struct wsgate_spawn_request *request;
    pid_t parent;
};

static int wsgate_spawn_fail(struct wsgate_spawn_request *request, const char *step) {
    request->error = errno;
    request->failed_step = step;
    _exit(127);
}

static int wsgate_spawn_child(void *argument) {
    struct wsgate_spawn_context *context = argument;
    struct wsgate_spawn_request *request = context->request;

    // The parent blocked every signal before clone, so no handler of the parent has run on
    // shared memory. Reset all dispositions before unblocking anything (SIG_IGN survives
    // execve, and a handler address is meaningless after it). The raw system call, because
    // glibc's sigaction refuses its internal signals 32 and 33, and an inherited SIG_IGN on
    // those must not leak into handlers either. An all-zero kernel sigaction is SIG_DFL with
    // no flags on every architecture; SIGKILL and SIGSTOP answer EINVAL, which is fine.
    unsigned long kernel_action[8] = {0};
    for (int signal = 1; signal < NSIG; signal++) {
        (void)syscall(SYS_rt_sigaction, signal, kernel_action, NULL, (size_t)(NSIG / 8));
    }

    // Into the session's cgroup before anything else: no descendant can start outside it.
    // Writing "0" to cgroup.procs moves the writing process.
    if (request->cgroup_procs >= 0 && write(request->cgroup_procs, "0", 1) != 1) {
        return wsgate_spawn_fail(request, "cgroup");
    }

    // Own process group, so the whole tree the handler starts can be signalled at once. A
    // program on a terminal gets its own session instead, which also makes it the leader of
    // a new process group whose id is its pid: a terminal can only become the controlling
    // terminal of a session leader, and only a session with one gets SIGHUP on hang-up.
    if (request->controlling_terminal) {
        if (setsid() == -1) {
            return wsgate_spawn_fail(request, "setsid");
        }
    } else if (setpgid(0, 0) == -1) {
        return wsgate_spawn_fail(request, "setpgid");
    }
    // Die with the parent. The death signal fires when the parent *thread* exits; checking
    // getppid afterwards closes the race where the parent died before prctl ran.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1) {
        return wsgate_spawn_fail(request, "prctl");
    }
    if (getppid() != context->parent) {
        _exit(127);
    }

    // A source below 3 that is not already in place could be overwritten by an earlier dup2:
    // move it out of the way first.
    int stdio[3] = {request->stdio[0], request->stdio[1], request->stdio[2]};
    for (int target = 0; target < 3; target++) {
        if (stdio[target] >= 0 && stdio[target] < 3 && stdio[target] != target) {
            int moved = fcntl(stdio[target], F_DUPFD_CLOEXEC, 3);
            if (moved == -1) {
                return wsgate_spawn_fail(request, "fcntl");
            }
            stdio[target] = moved;
        }
    }
    for (int target = 0; target < 3; target++) {
        if (stdio[target] < 0) {
            continue;
        }
        if (stdio[target] == target) {
            if (fcntl(target, F_SETFD, 0) == -1) {
                return wsgate_spawn_fail(request, "fcntl");
            }
        } else if (dup2(stdio[target], target) == -1) {
            return wsgate_spawn_fail(request, "dup2");
        }
    }
    // The slave was opened with O_NOCTTY (so wsgate never acquires it); claim it now that it
    // is descriptor 0. Argument 0: never steal a terminal that is another session's.
    if (request->controlling_terminal && ioctl(0, TIOCSCTTY, 0) == -1) {
        return wsgate_spawn_fail(request, "ioctl(TIOCSCTTY)");
    }
    // Descriptors someone opened without O_CLOEXEC must not leak into handlers. ENOSYS on
    // kernels before 5.9 leaves close-on-exec as the only protection.
    (void)syscall(SYS_close_range, 3U, ~0U, 0U);

    if (request->working_directory != NULL && chdir(request->working_directory) == -1) {
        return wsgate_spawn_fail(request, "chdir");
    }

    sigset_t empty;
    sigemptyset(&empty);
    if (sigprocmask(SIG_SETMASK, &empty, NULL) == -1) {
        return wsgate_spawn_fail(request, "sigprocmask");
    }
    execve(request->path, request->argv, request->envp);
    return wsgate_spawn_fail(request, "execve");
}

pid_t wsgate_spawn(struct wsgate_spawn_request *request, int *pidfd) {
    // Enough for the child's few calls; glibc's posix_spawn uses a similar private stack.
    const size_t stack_size = 64 * 1024;
    void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        request->failed_step = "mmap";
        return -1;
    }

    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);

    struct wsgate_spawn_context context = {request, getpid()};
    request->error = 0;
    request->failed_step = NULL;
    int child_pidfd = -1;
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WSGATE_SPAWN_COPIES_MEMORY 1
#endif
#endif
#ifdef WSGATE_SPAWN_COPIES_MEMORY
    // ThreadSanitizer's runtime aborts in a child that shares the parent's memory (CLONE_VM), so
    // its builds (Tests/Sanitizers) copy it instead, as fork does: a failed step is then seen
    // only as the child's exit status 127, not as the spawn's error.
    pid_t pid = clone(wsgate_spawn_child, (char *)stack + stack_size,
                      CLONE_PIDFD | SIGCHLD, &context, &child_pidfd);
#else
    pid_t pid = clone(wsgate_spawn_child, (char *)stack + stack_size,
                      CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &context, &child_pidfd);
#endif
    int clone_error = errno;

    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    munmap(stack, stack_size);

    if (pid == -1) {
        request->failed_step = "clone";
        errno = clone_error;
        return -1;
    }
    if (request->error != 0 || request->failed_step != NULL) {
        // The child has already called _exit(127): reap it so no zombie is left behind.
        int error = request->error;
        siginfo_t info;
        while (waitid((idtype_t)P_PIDFD, (id_t)child_pidfd, &info, WEXITED) == -1 && errno == EINTR) {
        }
        close(child_pidfd);
        errno = error;
        return -1;
    }
    *pidfd = child_pidfd;
    return pid;
}

int wsgate_tune_allocator(int trim_threshold, int mmap_threshold) {
    return mallopt(M_TRIM_THRESHOLD, trim_threshold) && mallopt(M_MMAP_THRESHOLD, mmap_threshold);
}

int wsgate_become_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int wsgate_peek_exited_child(pid_t *pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == -1) {
        return -1;
    }
    *pid = info.si_pid;
    return 0;
}
