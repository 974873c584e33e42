/* The raw cost of a program session without any gateway: THREADS threads each loop
 * { two pipes, posix_spawn cat, write a line, read it back, close, waitpid } for SECONDS,
 * and print sessions per second. The ceiling wsgate's process churn is measured against.
 *   cc -O2 -pthread -o /tmp/spawn-loop Tests/Benchmarks/spawn-loop.c && /tmp/spawn-loop 16 5 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static atomic_long sessions;
static atomic_int stop;

static void *worker(void *unused) {
    (void)unused;
    char *argv[] = {"cat", NULL};
    char buffer[64];
    while (!atomic_load(&stop)) {
        int in[2], out[2];
        if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) { perror("pipe2"); exit(1); }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], 0);
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        pid_t pid;
        if (posix_spawn(&pid, "/usr/bin/cat", &actions, NULL, argv, environ)) { perror("spawn"); exit(1); }
        posix_spawn_file_actions_destroy(&actions);
        close(in[0]);
        close(out[1]);
        if (write(in[1], "hello\n", 6) != 6) { perror("write"); exit(1); }
        if (read(out[0], buffer, sizeof buffer) <= 0) { perror("read"); exit(1); }
        close(in[1]);
        close(out[0]);
        waitpid(pid, NULL, 0);
        atomic_fetch_add(&sessions, 1);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 16;
    double seconds = argc > 2 ? atof(argv[2]) : 5;
    pthread_t ids[256];
    for (int i = 0; i < threads && i < 256; i++) pthread_create(&ids[i], NULL, worker, NULL);
    struct timespec pause = {(time_t)seconds, (long)((seconds - (long)seconds) * 1e9)};
    nanosleep(&pause, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < threads && i < 256; i++) pthread_join(ids[i], NULL);
    printf("raw spawn loop: %d threads, %.0f sessions/s\n", threads, atomic_load(&sessions) / seconds);
    return 0;
}
