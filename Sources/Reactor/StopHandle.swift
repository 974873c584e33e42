import CGlibc
import Glibc

/// Stops an `EventLoop` from any thread.
///
/// It writes to an eventfd the loop watches. The eventfd is closed only when the loop and
/// every handle are gone, so a late `stop()` never writes to a reused descriptor.
public struct StopHandle: Sendable {
    let wakeup: Wakeup

    /// Makes the loop's `run()` return after its current iteration; if it is not running,
    /// the next `run()` returns after one iteration.
    /// The corresponding C function is `eventfd_write(3)`.
    public func stop() {
        self.wakeup.signal()
    }
}

/// An eventfd counter: any thread adds to it, the loop thread drains it.
final class Wakeup: Sendable {
    let fd: FileDescriptor

    /// The corresponding C function is `eventfd(2)`.
    init() throws(SystemError) {
        let raw = try systemCall("eventfd") { eventfd(0, CInt(EFD_NONBLOCK | EFD_CLOEXEC)) }
        self.fd = FileDescriptor(rawValue: raw)
    }

    deinit {
        try? self.fd.close()
    }

    /// EAGAIN means the counter is saturated, which is still "readable": nothing to do.
    func signal() {
        var one: UInt64 = 1
        _ = try? withUnsafeBytes(of: &one) { (bytes) throws(SystemError) in try self.fd.write(bytes) }
    }

    func drain() {
        var counter: UInt64 = 0
        _ = try? withUnsafeMutableBytes(of: &counter) { (bytes) throws(SystemError) in try self.fd.read(into: bytes) }
    }
}
