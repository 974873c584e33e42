import Glibc
import Testing

@testable import Reactor

extension ReactorTests {
    @Suite struct SignalTests {
        /// raise() directs the signal at this thread, which blocked it in onSignal, so it
        /// waits for the signalfd instead of running the default action.
        @Test func signalfdDeliversARaisedSignal() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            var received = 0
            try loop.onSignal(SIGUSR1) {
                received += 1
                loop.stop()
            }
            raise(SIGUSR1)
            #expect(try loop.run(limit: .seconds(5)))
            #expect(received == 1)
            #expect(loop.registrationCount == 0)
        }

        @Test func eachSignalRunsItsOwnAction() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            var log: [String] = []
            try loop.onSignal(SIGUSR1) { log.append("usr1") }
            try loop.onSignal(SIGUSR2) {
                log.append("usr2")
                loop.stop()
            }
            raise(SIGUSR1)
            raise(SIGUSR2)
            #expect(try loop.run(limit: .seconds(5)))
            #expect(log == ["usr1", "usr2"])
        }
    }
}
