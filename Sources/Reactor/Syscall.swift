import Glibc

/// Calls `call` until it does not fail with EINTR.
///
/// `errno` is read on the line right after the call: nothing that could allocate, log or
/// otherwise run another system call comes in between.
/// - Throws: the `Errno` of any failure other than EINTR.
@inlinable
@inline(__always)
public func retryingInterrupts<T: FixedWidthInteger>(_ call: () -> T) throws(Errno) -> T {
    while true {
        let result = call()
        if result != -1 {
            return result
        }
        let error = Errno(rawValue: errno)
        guard error == .interrupted else { throw error }
    }
}

/// Runs a system call that must not see a bad descriptor, retrying EINTR.
///
/// EBADF means the reactor or its caller used a closed descriptor: continuing could read or
/// write some other connection's descriptor, so it stops the process.
/// - Throws: `SystemError` naming `name` and the errno.
@inlinable
@inline(__always)
func systemCall<T: FixedWidthInteger>(_ name: StaticString, _ call: () -> T) throws(SystemError) -> T {
    do {
        return try retryingInterrupts(call)
    } catch {
        precondition(error != .badFileDescriptor, "\(name): EBADF: a descriptor was used after close")
        throw SystemError(call: name.description, errno: error)
    }
}

/// Like `systemCall`, but EAGAIN comes back as `.wouldBlock` instead of being thrown.
@inlinable
@inline(__always)
func nonBlockingCall<T: FixedWidthInteger>(
    _ name: StaticString,
    _ call: () -> T
) throws(SystemError) -> IOResult<T> {
    do {
        return .processed(try retryingInterrupts(call))
    } catch {
        if error == .wouldBlock {
            return .wouldBlock
        }
        precondition(error != .badFileDescriptor, "\(name): EBADF: a descriptor was used after close")
        throw SystemError(call: name.description, errno: error)
    }
}
