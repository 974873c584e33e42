import Glibc
import Testing

@testable import Reactor

extension ReactorTests {
    @Suite struct EventLoopTests {
        @Test func readableHandlerRunsOnce() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            let (a, b) = try Socket.pair()
            defer { a.close(); b.close() }
            var seen: [Readiness] = []
            let registration = try loop.register(
                a.fd,
                interest: .readable,
                handler: ClosureHandler { readiness in
                    seen.append(readiness)
                    _ = try? a.readAvailable()
                    loop.stop()
                }
            )
            #expect(loop.registrationCount == 1)
            try b.writeAll([1])
            #expect(try loop.run(limit: .seconds(5)))
            #expect(seen == [.readable])
            loop.deregister(registration)
            #expect(loop.registrationCount == 0)
        }

        @Test func peerCloseReportsHangup() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            let (a, b) = try Socket.pair()
            defer { a.close() }
            var seen: Readiness = []
            let registration = try loop.register(
                a.fd,
                interest: .readable,
                handler: ClosureHandler { readiness in
                    seen = readiness
                    loop.stop()
                }
            )
            b.close()
            #expect(try loop.run(limit: .seconds(5)))
            #expect(seen.contains(.hangup))
            #expect(try a.readAvailable() == .processed([]))
            loop.deregister(registration)
        }

        @Test func modifySwitchesInterest() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            let (a, b) = try Socket.pair()
            defer { a.close(); b.close() }
            var seen: [Readiness] = []
            var registration: Registration!
            registration = try loop.register(
                a.fd,
                interest: [],
                handler: ClosureHandler { readiness in
                    seen.append(readiness)
                    if readiness.contains(.writable) {
                        try? loop.modify(registration, interest: .readable)
                        try? b.writeAll([9])
                    } else {
                        loop.stop()
                    }
                }
            )
            #expect(loop.interest(of: registration) == [])
            try loop.modify(registration, interest: .writable)
            try loop.modify(registration, interest: .writable)
            #expect(try loop.run(limit: .seconds(5)))
            #expect(seen == [.writable, .readable])
            #expect(loop.interest(of: registration) == .readable)
            loop.deregister(registration)
            #expect(loop.interest(of: registration) == nil)
        }

        @Test func emptyInterestSilencesHangup() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            let (a, b) = try Socket.pair()
            defer { a.close() }
            var calls = 0
            let registration = try loop.register(a.fd, interest: .readable, handler: ClosureHandler { _ in calls += 1 })
            try loop.modify(registration, interest: [])
            b.close()
            loop.schedule(after: .milliseconds(30)) { loop.stop() }
            try loop.run()
            #expect(calls == 0)
            loop.deregister(registration)
        }

        /// A paused reader still learns that its peer left: data does not wake `.hangup`, the
        /// peer's close does.
        @Test func hangupInterestWakesForPeerCloseButNotForData() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            let (a, b) = try Socket.pair()
            defer { a.close() }
            var seen: [Readiness] = []
            let registration = try loop.register(a.fd, interest: .hangup, handler: ClosureHandler { readiness in
                seen.append(readiness)
                loop.stop()
            })
            try b.writeAll([1, 2, 3])
            loop.schedule(after: .milliseconds(30)) { loop.stop() }
            try loop.run()
            #expect(seen.isEmpty)
            b.close()
            #expect(try loop.run(limit: .seconds(5)))
            #expect(seen.count == 1 && seen[0].contains(.hangup) && !seen[0].contains(.readable))
            #expect(Interest([.hangup, .writable]).description == "[writable, hangup]")
            loop.deregister(registration)
        }

        /// Both descriptors are ready in the same batch; whichever handler runs first
        /// deregisters the other, closes it, and registers a fresh descriptor that very
        /// likely gets the same number. The stale event must reach nobody.
        @Test func staleEventsAfterDeregisterAreDropped() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            let (a1, a2) = try Socket.pair()
            let (b1, b2) = try Socket.pair()
            defer { a1.close(); a2.close(); b1.close(); b2.close() }
            try a2.writeAll([1])
            try b2.writeAll([1])

            var registrations: [Registration] = []
            let sockets = [a1, b1]
            var calls: [Int] = []
            var replacement: (Socket, Socket)?
            var replacementCalls = 0
            for index in 0..<2 {
                let registration = try loop.register(
                    sockets[index].fd,
                    interest: .readable,
                    handler: ClosureHandler { _ in
                        calls.append(index)
                        guard replacement == nil else { return }
                        let other = 1 - index
                        loop.deregister(registrations[other])
                        sockets[other].close()
                        let pair = try! Socket.pair()
                        replacement = pair
                        _ = try! loop.register(pair.0.fd, interest: .readable, handler: ClosureHandler { _ in replacementCalls += 1 })
                        loop.runSoon { loop.stop() }
                    }
                )
                registrations.append(registration)
            }
            #expect(try loop.run(limit: .seconds(5)))
            #expect(calls.count == 1)
            #expect(replacementCalls == 0)
            // The test is only meaningful when the number was reused.
            #expect(replacement?.0.fd == sockets[1 - calls[0]].fd || replacement?.1.fd == sockets[1 - calls[0]].fd)
            if let (r0, r1) = replacement {
                loop.deregister(Registration(fd: r0.fd, generation: registrations[1].generation &+ 1))
                r0.close()
                r1.close()
            }
        }

        @Test func deregisterFromOwnHandlerStopsDelivery() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            let (a, b) = try Socket.pair()
            defer { a.close(); b.close() }
            try b.writeAll([1])
            var calls = 0
            var registration: Registration!
            registration = try loop.register(
                a.fd,
                interest: .readable,
                handler: ClosureHandler { _ in
                    calls += 1
                    loop.deregister(registration)
                    loop.deregister(registration)
                }
            )
            loop.schedule(after: .milliseconds(30)) { loop.stop() }
            try loop.run()
            // Still readable (nothing was read), but no longer registered.
            #expect(calls == 1)
        }

        @Test func runSoonRunsAfterEventsInOrder() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            let (a, b) = try Socket.pair()
            defer { a.close(); b.close() }
            try b.writeAll([1])
            var log: [String] = []
            let registration = try loop.register(
                a.fd,
                interest: .readable,
                handler: ClosureHandler { _ in
                    _ = try? a.readAvailable()
                    log.append("event")
                    loop.runSoon { log.append("soon 1") }
                    loop.runSoon {
                        log.append("soon 2")
                        loop.runSoon {
                            log.append("next iteration")
                            loop.stop()
                        }
                    }
                }
            )
            #expect(try loop.run(limit: .seconds(5)))
            #expect(log == ["event", "soon 1", "soon 2", "next iteration"])
            loop.deregister(registration)
        }

        @Test func stopHandleWorksFromAnotherThread() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            let handle = loop.stopHandle
            let start = ContinuousClock.now
            let join = startThread {
                usleep(50_000)
                handle.stop()
            }
            #expect(try loop.run(limit: .seconds(5)))
            join()
            #expect(ContinuousClock.now - start >= .milliseconds(50))
        }

        @Test func stopBeforeRunReturnsPromptly() throws {
            let loop = try EventLoop()
            defer { loop.close() }
            loop.stopHandle.stop()
            #expect(try loop.run(limit: .seconds(5)))
            loop.stop()
            #expect(try loop.run(limit: .seconds(5)))
        }

        @Test func closeReleasesHandlersThatHoldTheLoop() throws {
            weak var weakHandler: ClosureHandler?
            let (a, b) = try Socket.pair()
            defer { a.close(); b.close() }
            do {
                let loop = try EventLoop()
                let handler = ClosureHandler { _ in loop.stop() }
                weakHandler = handler
                _ = try loop.register(a.fd, interest: .readable, handler: handler)
                loop.close()
            }
            #expect(weakHandler == nil)
        }

        @Test func loopDoesNotLeakDescriptors() throws {
            try expectNoDescriptorLeak {
                let loop = try EventLoop()
                try loop.onSignal(SIGUSR2) {}
                loop.stopHandle.stop()
                try loop.run()
                loop.close()
            }
        }
    }
}
