import CGlibc
import Glibc

/// A timerfd set to the loop's earliest timer deadline, so that the loop waits in `epoll_wait`
/// without a timeout: a timeout makes the kernel start and cancel a high-resolution timer on every
/// wait, which a busy loop (a session's keepalive timer is always pending) paid on every message.
/// The timerfd is set only when the earliest deadline changes, which keepalive's lazy re-arming
/// makes rare.
final class DeadlineTimer {
    let fd: FileDescriptor
    /// The deadline the timerfd is set to (CLOCK_MONOTONIC nanoseconds), nil when disarmed.
    private var armed: Int64?

    /// The corresponding C function is `timerfd_create(2)`.
    init() throws(SystemError) {
        let raw = try systemCall("timerfd_create") {
            timerfd_create(CLOCK_MONOTONIC, CInt(TFD_NONBLOCK | TFD_CLOEXEC))
        }
        self.fd = FileDescriptor(rawValue: raw)
    }

    deinit {
        try? self.fd.close()
    }

    /// Sets the timerfd to fire at `deadline` (CLOCK_MONOTONIC nanoseconds; nil disarms it), unless
    /// it already is. The corresponding C function is `timerfd_settime(2)` with TFD_TIMER_ABSTIME.
    func arm(at deadline: Int64?) {
        guard deadline != self.armed else { return }
        var setting = itimerspec()
        if let deadline {
            // A deadline of 0 would disarm: anything already due fires at the next nanosecond.
            let at = Swift.max(deadline, 1)
            setting.it_value.tv_sec = Int(at / 1_000_000_000)
            setting.it_value.tv_nsec = Int(at % 1_000_000_000)
        }
        if timerfd_settime(self.fd.rawValue, CInt(TFD_TIMER_ABSTIME), &setting, nil) == 0 {
            self.armed = deadline
        } else {
            self.armed = nil  // EINVAL cannot happen for these values; try again next time
        }
    }

    /// Clears the expiry count after the timer fired; it is disarmed until `arm` sets it again.
    func fired() {
        var count: UInt64 = 0
        _ = try? withUnsafeMutableBytes(of: &count) { (bytes) throws(SystemError) in try self.fd.read(into: bytes) }
        self.armed = nil
    }
}

/// The loop's handler for its `DeadlineTimer`: the due timers run after the events, as always.
final class DeadlineTimerHandler: EventHandler {
    let timer: DeadlineTimer

    init(_ timer: DeadlineTimer) {
        self.timer = timer
    }

    func handle(_ readiness: Readiness) {
        self.timer.fired()
    }
}
