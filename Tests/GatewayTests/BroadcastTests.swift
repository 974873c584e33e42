import Client
import Foundation
import Gateway
import Testing
import WebSocket

@Suite("Built-in broadcast over loopback")
struct BroadcastTests {
    /// Every member gets every other member's messages, each sender's in the order sent, and never its own.
    @Test func broadcastReachesFiftyClientsInOrderPerSender() throws {
        let server = try TestServer(routes: [Route("/room", .broadcast)])
        let count = 50
        let perSender = 10
        let clients = try (0..<count).map { _ in try server.connect("/room") }
        for round in 0..<perSender {
            for (sender, client) in clients.enumerated() {
                try client.send(text: "\(sender):\(round)")
            }
        }
        for (receiver, client) in clients.enumerated() {
            var next = [Int](repeating: 0, count: count)
            for _ in 0..<((count - 1) * perSender) {
                guard case .text(let text) = try client.receiveMessage() else {
                    Issue.record("client \(receiver) got a binary message")
                    return
                }
                let parts = text.split(separator: ":").compactMap { Int($0) }
                try #require(parts.count == 2, "bad message \(text)")
                let (sender, round) = (parts[0], parts[1])
                #expect(sender != receiver, "client \(receiver) got its own message")
                #expect(round == next[sender], "client \(receiver): from \(sender) got \(round), expected \(next[sender])")
                next[sender] = round + 1
            }
            #expect(throws: BlockingClient.Failure.self) { try client.receiveMessage(timeout: .milliseconds(20)) }
        }
    }

    @Test func broadcastCarriesBinaryAndStaysWithinOnePath() throws {
        let server = try TestServer(routes: [Route("/chat/*", .broadcast)])
        let a1 = try server.connect("/chat/a")
        let a2 = try server.connect("/chat/a")
        let b1 = try server.connect("/chat/b")
        try a1.send(binary: [0, 1, 2, 255])
        #expect(try a2.receiveMessage() == .binary([0, 1, 2, 255]))
        try b1.send(text: "only b")
        try a2.send(text: "only a")
        #expect(try a1.receiveMessage() == .text("only a"))
        #expect(throws: BlockingClient.Failure.self) { try b1.receiveMessage(timeout: .milliseconds(100)) }
    }

    @Test func broadcastSkipsMembersWhoLeft() throws {
        let server = try TestServer(routes: [Route("/room", .broadcast)])
        let stays = try server.connect("/room")
        let leaves = try server.connect("/room")
        let sender = try server.connect("/room")
        try leaves.close()
        #expect(try leaves.waitForClose()?.code == .normalClosure)
        try sender.send(text: "after")
        #expect(try stays.receiveMessage() == .text("after"))
        try leaves.waitForEOF()
        #expect(eventually { server.log.filter { $0.contains("event=session.close") }.count == 1 })
    }

    /// A member that never reads is closed with 1008 once `maxQueuedBytes` are waiting for it; the others
    /// keep receiving everything, and the gateway never queued more than the bound for it.
    @Test func broadcastDropsSlowReaderWith1008() throws {
        let limit = 64 * 1024
        let server = try TestServer(routes: [Route("/room", .broadcast)]) {
            $0.maxQueuedBytes = limit
            // Long enough for the close frame to wait in the queue until the slow member reads at last.
            $0.closeTimeout = .seconds(10)
        }
        let slow = try RawClient(port: server.port, receiveBuffer: 4096)
        let early = try slow.upgrade("/room")
        let sender = try server.connect("/room")
        let reader = try server.connect("/room")
        let payload = [UInt8](repeating: 0x5a, count: 4096)
        // 16 MiB, far beyond what the slow member's socket buffers hold (loopback autotuning lets the
        // kernel take a few MiB for it, on top of the gateway's own queue).
        let messages = 4096
        for index in 0..<messages {
            var message = payload
            message[0] = UInt8(truncatingIfNeeded: index)
            try sender.send(binary: message)
            #expect(try reader.receiveMessage() == .binary(message))
        }
        // The bound is checked below from the gateway's own account (queued_bytes when it dropped the
        // member), not from this process's resident size: other suites run beside this one in the same
        // process, and their allocations are noise of the same size as the flood.
        // The slow member gets what fitted in the buffers, then the close frame.
        let events = try slow.receiveUntilClose(after: early)
        #expect(events.last == .close(.policyViolation, "slow consumer: more than \(limit) bytes queued"))
        #expect(events.dropLast().allSatisfy { if case .binary = $0 { true } else { false } })
        #expect(events.count - 1 < messages, "the slow member cannot have received every message")
        try slow.send(clientFrame(0x88, closePayload(1008)))
        #expect(try slow.receiveUntilEOF(timeout: 2).isEmpty)

        let drops = server.log.filter { $0.contains("event=session.slow_consumer") }
        #expect(drops.count == 1)
        for line in drops {
            let queued = line.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("queued_bytes=") }.flatMap {
                Int($0.dropFirst("queued_bytes=".count))
            }
            #expect(queued.map { $0 <= limit } == true, "\(line)")
        }
        // The others are unaffected.
        try sender.send(text: "after")
        #expect(try reader.receiveMessage() == .text("after"))
    }
}
