import Testing

@testable import Gateway

@Suite("Socket activation: LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES (sd_listen_fds(3))")
struct SocketActivationTests {
    @Test func passedSocketsStartAtThreeWithTheirNames() throws {
        let passed = try SocketActivation.passedSockets(listenPID: "42", listenFDs: "3", names: "web::local", pid: 42)
        #expect(passed == [.init(fd: 3, name: "web"), .init(fd: 4, name: nil), .init(fd: 5, name: "local")])
        #expect(try SocketActivation.passedSockets(listenPID: "42", listenFDs: "2", names: nil, pid: 42)
            == [.init(fd: 3, name: nil), .init(fd: 4, name: nil)])
    }

    /// Variables meant for another process (leaked into a child) or absent are not for us.
    @Test(arguments: [("41", "1"), (nil, "1"), ("42", nil), ("x", "1")] as [(String?, String?)])
    func variablesForAnotherProcessAreIgnored(pid: String?, fds: String?) throws {
        #expect(try SocketActivation.passedSockets(listenPID: pid, listenFDs: fds, names: nil, pid: 42) == nil)
    }

    @Test(arguments: [("0", nil), ("-1", nil), ("many", nil), ("1", "a:b")] as [(String, String?)])
    func nonsenseForThisProcessIsAnError(fds: String, names: String?) {
        #expect(throws: SocketActivation.Invalid.self) {
            try SocketActivation.passedSockets(listenPID: "42", listenFDs: fds, names: names, pid: 42)
        }
    }
}
