import Reactor

/// Reads a descriptor (stdin, a child's stdout) on a client's loop and hands out lines or chunks.
///
/// The descriptor is left blocking: a terminal shares its file description with the shell, and
/// O_NONBLOCK would outlive us there. One read per readiness never blocks. A regular file cannot
/// be watched by epoll (EPERM); it is then read directly whenever the caller asks for more.
/// While `isPaused` (the socket has a backlog to write), nothing is read, so a fast producer is
/// held back by its pipe rather than by our memory.
final class InputReader: EventHandler {
    enum Mode { case lines, chunks }

    let fd: FileDescriptor
    let mode: Mode
    unowned let loop: EventLoop
    private(set) var registration: Registration?
    private var partial: [UInt8] = []
    private var ready: [[UInt8]] = []
    private(set) var isAtEnd = false
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// Stops reading until set to false again.
    var isPaused = false {
        didSet {
            guard let registration = self.registration, self.isPaused != oldValue else { return }
            try? self.loop.modify(registration, interest: self.isPaused ? [] : .readable)
        }
    }

    init(fd: FileDescriptor, mode: Mode, loop: EventLoop) throws(SystemError) {
        self.fd = fd
        self.mode = mode
        self.loop = loop
        do throws(SystemError) {
            self.registration = try loop.register(fd, interest: .readable, handler: self)
        } catch where error.errno == .notPermitted {
            self.registration = nil  // a regular file: read on demand
        }
    }

    /// Whether the input must be read on demand (`readOnce`) because epoll cannot watch it.
    var isPolledDirectly: Bool { self.registration == nil && !self.isAtEnd }

    func handle(_ readiness: Readiness) {
        self.readOnce()
        self.loop.stop()
    }

    /// Reads once; at EOF, a last line without a newline is still delivered.
    func readOnce() {
        guard !self.isAtEnd && !self.isPaused else { return }
        let result = self.buffer.withUnsafeMutableBytes { bytes in
            Result { () throws(SystemError) in try self.fd.read(into: bytes) }
        }
        guard case .success(.processed(let count)) = result, count > 0 else {
            if case .success(.wouldBlock) = result { return }
            self.finish()
            return
        }
        switch self.mode {
        case .chunks:
            self.ready.append(Array(self.buffer[0..<count]))
        case .lines:
            var start = 0
            for index in 0..<count where self.buffer[index] == 0x0A {
                self.partial.append(contentsOf: self.buffer[start..<index])
                if self.partial.last == 0x0D { self.partial.removeLast() }
                self.ready.append(self.partial)
                self.partial = []
                start = index + 1
            }
            self.partial.append(contentsOf: self.buffer[start..<count])
        }
    }

    private func finish() {
        self.isAtEnd = true
        if !self.partial.isEmpty {
            self.ready.append(self.partial)
            self.partial = []
        }
        if let registration = self.registration {
            self.loop.deregister(registration)
            self.registration = nil
        }
    }

    func take() -> [[UInt8]] {
        defer { self.ready = [] }
        return self.ready
    }
}
