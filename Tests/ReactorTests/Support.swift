import Glibc
import Testing

@testable import Reactor

/// Every Reactor test runs inside this suite, one at a time: the descriptor-leak checks
/// count /proc/self/fd, which only works when no other test opens descriptors meanwhile.
@Suite(.serialized)
struct ReactorTests {}

/// An `EventHandler` made of a closure.
final class ClosureHandler: EventHandler {
    let body: (Readiness) -> Void

    init(_ body: @escaping (Readiness) -> Void) {
        self.body = body
    }

    func handle(_ readiness: Readiness) {
        self.body(readiness)
    }
}

extension EventLoop {
    /// Runs until something calls `stop()`, or `limit` passes. Returns false on timeout.
    func run(limit: Duration) throws -> Bool {
        var timedOut = false
        let guardTimer = self.schedule(after: limit) {
            timedOut = true
            self.stop()
        }
        try self.run()
        self.cancel(guardTimer)
        return !timedOut
    }
}

/// The number of open descriptors in this process.
func openDescriptorCount() -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    var count = 0
    while readdir(directory) != nil {
        count += 1
    }
    closedir(directory)
    // ".", "..", and the descriptor opendir itself holds.
    return count - 3
}

/// Checks that `body` leaves no descriptor open. Retries briefly, so a descriptor that some
/// other part of the test process closes a moment later does not count as ours.
func expectNoDescriptorLeak(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) rethrows {
    let before = openDescriptorCount()
    try body()
    var after = openDescriptorCount()
    var attempts = 0
    while after != before && attempts < 20 {
        usleep(10_000)
        after = openDescriptorCount()
        attempts += 1
    }
    #expect(after == before, "descriptors before: \(before), after: \(after)", sourceLocation: sourceLocation)
}

/// Reaps `process` through the loop and closes everything it owns.
func exitStatus(of process: ChildProcess, limit: Duration = .seconds(10)) throws -> ChildProcess.ExitStatus? {
    let loop = try EventLoop()
    defer { loop.close() }
    var status: ChildProcess.ExitStatus?
    try process.onExit(in: loop) {
        status = $0
        loop.stop()
    }
    _ = try loop.run(limit: limit)
    if status == nil {
        try? process.signalGroup(SIGKILL)
        _ = try? process.waitForExit()
    }
    process.close()
    return status
}

/// Reads `end` to end of file through the loop.
func readToEnd(_ end: Pipe.End, limit: Duration = .seconds(10)) throws -> String {
    let loop = try EventLoop()
    defer { loop.close() }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    let registration = try loop.register(
        end.fd,
        interest: .readable,
        handler: ClosureHandler { _ in
            let result = try? buffer.withUnsafeMutableBytes { try end.read(into: $0) }
            switch result {
            case .processed(0), nil: loop.stop()
            case .processed(let count): bytes += buffer[..<count]
            case .wouldBlock: break
            }
        }
    )
    _ = try loop.run(limit: limit)
    loop.deregister(registration)
    end.close()
    return String(decoding: bytes, as: UTF8.self)
}

/// Runs `body` on a new POSIX thread and returns a function that joins it.
func startThread(_ body: @escaping @Sendable () -> Void) -> () -> Void {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { argument in
        let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    precondition(result == 0, "pthread_create: \(result)")
    return { _ = pthread_join(thread, nil) }
}

extension Socket {
    /// Writes all of `bytes` to a socket whose buffer has room (tests only).
    func writeAll(_ bytes: [UInt8]) throws {
        let result = try bytes.withUnsafeBytes { try self.write($0) }
        #expect(result == .processed(bytes.count))
    }

    /// Reads what is there now (tests only).
    func readAvailable(max: Int = 65536) throws -> IOResult<[UInt8]> {
        var buffer = [UInt8](repeating: 0, count: max)
        let result = try buffer.withUnsafeMutableBytes { try self.read(into: $0) }
        switch result {
        case .wouldBlock: return .wouldBlock
        case .processed(let count): return .processed(Array(buffer[..<count]))
        }
    }
}
