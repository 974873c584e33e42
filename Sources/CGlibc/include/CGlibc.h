#ifndef WSGATE_CGLIBC_H
#define WSGATE_CGLIBC_H

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/// accept4(2): the Glibc module does not export it.
int wsgate_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
/// pipe2(2): the Glibc module does not export it.
int wsgate_pipe2(int fds[2], int flags);
/// strerrorname_np(3): "EAGAIN" for EAGAIN; NULL for an unknown value.
const char *wsgate_errno_name(int value);
/// strerrordesc_np(3): "Too many open files" for EMFILE; thread-safe, unlike strerror.
/// NULL for an unknown value.
const char *wsgate_errno_message(int value);
/// sigabbrev_np(3): "TERM" for SIGTERM; NULL for an unknown value.
const char *wsgate_signal_abbreviation(int signal);

/// fcntl(2) with an int argument (or none): fcntl is variadic, which Swift cannot call.
int wsgate_fcntl(int fd, int command, int argument);

/// ioctl(2) with a pointer argument: ioctl is variadic, which Swift cannot call.
int wsgate_ioctl(int fd, unsigned long request, void *argument);

/// posix_openpt(3): the Glibc module does not export it (it needs the XSI extensions).
int wsgate_posix_openpt(int flags);
/// grantpt(3): the Glibc module does not export it (it needs the XSI extensions).
int wsgate_grantpt(int fd);
/// unlockpt(3): the Glibc module does not export it (it needs the XSI extensions).
int wsgate_unlockpt(int fd);
/// ptsname_r(3), the thread-safe ptsname: the Glibc module does not export it (GNU only).
/// Returns 0, or an error number (not -1 and errno).
int wsgate_ptsname_r(int fd, char *buffer, size_t length);

/// Sets SIGPIPE to SIG_IGN process-wide; SIG_IGN is a cast macro Swift cannot import.
/// Returns 0, or -1 with errno set (sigaction(2)).
int wsgate_ignore_sigpipe(void);

/// pidfd_open(2) through syscall(2): glibc before 2.36 has no wrapper.
int wsgate_pidfd_open(pid_t pid, unsigned int flags);
/// pidfd_send_signal(2) through syscall(2), without siginfo.
int wsgate_pidfd_send_signal(int pidfd, int signal, unsigned int flags);

/// waitid(P_PIDFD, pidfd, WEXITED | options): siginfo_t's unions are awkward in Swift.
/// Returns 0 with *code = CLD_EXITED / CLD_KILLED / CLD_DUMPED and *status the exit code or
/// signal; *code = 0 when WNOHANG was given and the child has not exited. -1 with errno set
/// on failure.
int wsgate_waitid_pidfd(int pidfd, int options, int *code, int *status);

/// What `wsgate_spawn` needs, and where it reports a failure in the child.
struct wsgate_spawn_request {
    /// The program to run; no PATH search happens here.
    const char *path;
    /// NULL-terminated.
    char *const *argv;
    /// NULL-terminated.
    char *const *envp;
    /// Directory to change into before exec; NULL to inherit.
    const char *working_directory;
    /// Descriptors to install as the child's 0, 1, 2; -1 leaves the inherited one.
    int stdio[3];
    /// Nonzero when stdio[0] is the slave side of a pseudo-terminal: the child then calls
    /// setsid() instead of setpgid(0, 0) and makes that terminal its controlling terminal
    /// (ioctl TIOCSCTTY on descriptor 0).
    int controlling_terminal;
    /// A descriptor open for writing on a cgroup v2 directory's `cgroup.procs`, or -1. The child
    /// moves itself there first thing, so everything it ever starts is in that cgroup.
    int cgroup_procs;
    /// Out: the errno of the step that failed in the child, 0 when the exec succeeded.
    int error;
    /// Out: the name of that step ("execve", "chdir", "dup2", ...).
    const char *failed_step;
};

/// Starts a child in its own process group (its own session, with descriptor 0 as its
/// controlling terminal, when request->controlling_terminal is set), with default signal
/// dispositions, an empty signal mask, only descriptors 0-2 open, and
/// PR_SET_PDEATHSIG(SIGKILL) so that it dies when the spawning thread dies.
///
/// Uses clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) on a private stack, as glibc's own
/// posix_spawn does: no page tables are copied, the parent is suspended until the child has
/// called execve or _exit, and the child reports a failure through the shared request.
///
/// Returns the child's pid and stores its pidfd (close-on-exec) in *pidfd, or returns -1 with
/// errno set: either from clone/mmap in the parent, or the child's error (then
/// request->failed_step names the step and the child has already been reaped).
pid_t wsgate_spawn(struct wsgate_spawn_request *request, int *pidfd);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants are reparented to this process.
/// prctl is variadic, which Swift cannot call.
int wsgate_become_child_subreaper(void);

/// waitid(P_ALL, 0, …, WEXITED | WNOHANG | WNOWAIT): the pid of a child that has exited, left
/// unreaped, or 0 when there is none.
int wsgate_peek_exited_child(pid_t *pid);

/// mallopt(3) with M_TRIM_THRESHOLD and M_MMAP_THRESHOLD: the Glibc module exports neither.
int wsgate_tune_allocator(int trim_threshold, int mmap_threshold);

#endif
