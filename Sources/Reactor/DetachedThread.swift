import Glibc

/// Runs `body` on a new detached thread that lives as long as `body` runs.
///
/// The thread starts with every signal blocked (a thread inherits its creator's mask, so the mask
/// is set around `pthread_create`): process-directed signals such as SIGTERM must reach the loop's
/// signalfd, not this thread's default action. `body` is handed over, not shared: the caller must
/// only touch from it what is safe from another thread.
/// The corresponding C functions are `pthread_sigmask(3)`, `pthread_create(3)` and `pthread_detach(3)`.
func startDetachedThread(_ body: @escaping () -> Void) throws(SystemError) {
    var thread = pthread_t()
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var all = sigset_t()
    var previous = sigset_t()
    sigfillset(&all)
    pthread_sigmask(SIG_SETMASK, &all, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    let result = pthread_create(&thread, nil, { context in
        Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue().run()
        return nil
    }, context)
    guard result == 0 else {
        Unmanaged<ThreadBody>.fromOpaque(context).release()
        throw SystemError(call: "pthread_create", errno: Errno(rawValue: result))
    }
    pthread_detach(thread)
}

/// What a new thread runs, passed through `pthread_create`'s context pointer.
private final class ThreadBody {
    let run: () -> Void

    init(_ run: @escaping () -> Void) {
        self.run = run
    }
}
