import Glibc
import Testing

@testable import Reactor

extension ReactorTests {
    @Suite struct TimerTests {
        @Test func timersFireInDeadlineOrder() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            var fired: [Int] = []
            for delay in [30, 10, 20, 0] {
                loop.schedule(after: .milliseconds(delay)) {
                    fired.append(delay)
                    if fired.count == 4 { loop.stop() }
                }
            }
            #expect(try loop.run(limit: .seconds(5)))
            #expect(fired == [0, 10, 20, 30])
        }

        @Test func equalDeadlinesFireInSchedulingOrder() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            let deadline = loop.now + .milliseconds(5)
            var fired: [Int] = []
            for index in 0..<10 {
                loop.schedule(at: deadline) { fired.append(index) }
            }
            loop.schedule(after: .milliseconds(20)) { loop.stop() }
            #expect(try loop.run(limit: .seconds(5)))
            #expect(fired == Array(0..<10))
        }

        @Test func timersNeverFireEarly() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            var elapsed: Duration = .zero
            let start = ContinuousClock.now
            loop.schedule(after: .milliseconds(25)) {
                elapsed = ContinuousClock.now - start
                loop.stop()
            }
            #expect(try loop.run(limit: .seconds(5)))
            #expect(elapsed >= .milliseconds(25))
            #expect(elapsed < .seconds(1))
        }

        @Test func cancelledTimersDoNotFire() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            var fired: [Int] = []
            let cancelled = loop.schedule(after: .milliseconds(5)) { fired.append(1) }
            loop.schedule(after: .milliseconds(10)) { fired.append(2) }
            loop.schedule(after: .milliseconds(30)) { loop.stop() }
            #expect(loop.pendingTimerCount == 3)
            loop.cancel(cancelled)
            loop.cancel(cancelled)
            #expect(loop.pendingTimerCount == 2)
            #expect(try loop.run(limit: .seconds(5)))
            #expect(fired == [2])
            #expect(loop.pendingTimerCount == 0)
        }

        @Test func cancellingAFiredTimerDoesNotCancelItsSuccessor() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            var fired = 0
            let first = loop.schedule(after: .zero) { fired += 1 }
            loop.schedule(after: .milliseconds(5)) { loop.stop() }
            #expect(try loop.run(limit: .seconds(5)))
            // The fired timer's slot is reused by the next one.
            loop.schedule(after: .zero) { fired += 1 }
            loop.cancel(first)
            loop.schedule(after: .milliseconds(5)) { loop.stop() }
            #expect(try loop.run(limit: .seconds(5)))
            #expect(fired == 2)
        }

        @Test func manyCancellationsKeepTheRightTimers() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            var generator = SplitMix64(seed: 42)
            var expected: [(Int, Int)] = []
            var fired: [Int] = []
            var ids: [(TimerID, Int, Int)] = []
            for index in 0..<2000 {
                let delay = Int(generator.next() % 40)
                ids.append((loop.schedule(after: .milliseconds(delay)) { fired.append(index) }, index, delay))
            }
            for (id, index, delay) in ids {
                if generator.next() % 4 == 0 {
                    expected.append((delay, index))
                } else {
                    loop.cancel(id)
                }
            }
            #expect(loop.pendingTimerCount == expected.count)
            loop.schedule(after: .milliseconds(60)) { loop.stop() }
            #expect(try loop.run(limit: .seconds(5)))
            // Deadlines come from the cached `now` at scheduling time, so ties go by index.
            let order = expected.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map(\.1)
            #expect(fired == order)
        }

        @Test func zeroDelayTimerRearmingItselfDoesNotStarveIO() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            let (a, b) = try Socket.pair()
            defer { a.close(); b.close() }
            var ticks = 0
            func tick() {
                ticks += 1
                loop.schedule(after: .zero, tick)
            }
            loop.schedule(after: .zero, tick)
            let registration = try loop.register(a.fd, interest: .readable, handler: ClosureHandler { _ in loop.stop() })
            try b.writeAll([1])
            #expect(try loop.run(limit: .seconds(5)))
            #expect(ticks >= 1)
            loop.deregister(registration)
        }

        @Test func idleLoopWithTimerDoesNotSpin() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            let before = threadCPUMicroseconds()
            loop.schedule(after: .milliseconds(200)) { loop.stop() }
            #expect(try loop.run(limit: .seconds(5)))
            let after = threadCPUMicroseconds()
            #expect(after - before < 50_000, "the loop burned \(after - before) µs of CPU while idle")
        }
    }
}

func threadCPUMicroseconds() -> Int {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return time.tv_sec * 1_000_000 + time.tv_nsec / 1000
}

/// A small deterministic generator so failures can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
