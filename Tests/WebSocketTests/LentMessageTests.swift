import Testing
@testable import WebSocket

/// `receive(mutating:lendingMessages:)`: a message whole in the caller's buffer is lent, never one
/// that lives in the connection's own memory (a stashed header, an assembled or decoded message).
@Suite("Lent messages")
struct LentMessageTests {
    /// Feeds `bytes` through a buffer of the test's own and returns the events, each lent one
    /// checked to point into that buffer and copied out while the buffer is still intact.
    static func lentEvents(_ connection: Connection, _ bytes: [UInt8]) -> [(lent: Bool, event: Connection.Event)] {
        var buffer = bytes
        var events: [(lent: Bool, event: Connection.Event)] = []
        buffer.withUnsafeMutableBytes { raw in
            connection.receive(mutating: raw, lendingMessages: true)
            let range = UInt(bitPattern: raw.baseAddress!)..<UInt(bitPattern: raw.baseAddress! + raw.count)
            while let lent = connection.nextLentEvent() {
                switch lent {
                case .text(let payload):
                    #expect(range.contains(UInt(bitPattern: payload.baseAddress!)))
                    events.append((true, .text(String(decoding: payload, as: UTF8.self))))
                case .binary(let payload):
                    #expect(payload.isEmpty || range.contains(UInt(bitPattern: payload.baseAddress!)))
                    events.append((true, .binary(Array(payload))))
                case .other(let event):
                    events.append((false, event))
                }
            }
        }
        return events
    }

    @Test func wholeFramesAreLentInOrderWithControlFramesBetween() {
        let server = Connection(side: .server)
        let bytes = incoming(Frame(.text, "Hello"), Frame(opcode: .ping, payload: [1]), Frame(opcode: .binary, payload: [0xFF, 0x00]),
                             to: .server)
        let events = Self.lentEvents(server, bytes)
        #expect(events.map(\.lent) == [true, false, true])
        #expect(events.map(\.event) == [.text("Hello"), .ping([1]), .binary([0xFF, 0x00])])
        #expect(server.takeOutput() == [.bytes(outgoing(Frame(opcode: .pong, payload: [1]), from: .server))])
    }

    /// `nextEvent` still copies: a caller that does not take lent events gets what it got before.
    @Test func nextEventCopiesALentMessage() {
        let server = Connection(side: .server)
        var buffer = incoming(Frame(.text, "Hello"), Frame(opcode: .binary, payload: [7]), to: .server)
        let events = buffer.withUnsafeMutableBytes { raw in
            server.receive(mutating: raw, lendingMessages: true)
            return server.takeEvents()
        }
        #expect(events == [.text("Hello"), .binary([7])])
    }

    @Test func aFragmentedMessageIsAssembledNotLent() {
        let server = Connection(side: .server)
        let bytes = incoming(Frame(.text, "Hel", fin: false), Frame(.continuation, "lo"), to: .server)
        let events = Self.lentEvents(server, bytes)
        #expect(events.map(\.lent) == [false])
        #expect(events.map(\.event) == [.text("Hello")])
    }

    /// A frame whose header was cut by the previous read is completed in the connection's own
    /// buffer: a small frame parsed there whole must not be lent, since that buffer changes.
    @Test func aFrameCompletedInTheStashIsNotLent() {
        let server = Connection(side: .server)
        let bytes = incoming(Frame(.text, "Hi"), Frame(.text, "there"), to: .server)
        #expect(Self.lentEvents(server, Array(bytes[0..<1])).isEmpty)
        let events = Self.lentEvents(server, Array(bytes[1...]))
        #expect(events.map(\.event) == [.text("Hi"), .text("there")])
        #expect(events.map(\.lent) == [false, true])
    }

    @Test func invalidUTF8IsStillRefusedBeforeLending() {
        let server = Connection(side: .server)
        let events = Self.lentEvents(server, incoming(Frame(opcode: .text, payload: [0xC3, 0x28]), to: .server))
        #expect(events.isEmpty)
        #expect(sentCloseCode(server.takeOutput(), from: .server) == 1007)
    }

    @Test func withoutLendingNothingIsLent() {
        let server = Connection(side: .server)
        var buffer = incoming(Frame(.text, "Hello"), to: .server)
        buffer.withUnsafeMutableBytes { server.receive(mutating: $0, lendingMessages: false) }
        guard case .other(.text("Hello")) = server.nextLentEvent() else {
            Issue.record("expected a copied text event")
            return
        }
    }

    /// `takePendingOutput(recycling:)` encodes the next frames into the caller's emptied array.
    @Test func recycledArrayTakesTheNextFrames() {
        let server = Connection(side: .server)
        try? server.send(text: "one")
        let first = server.takePendingOutput().data
        var spare = first
        spare.removeAll(keepingCapacity: true)
        let capacity = spare.capacity
        try? server.send(text: "two")
        _ = server.takePendingOutput(recycling: &spare)  // "two" was encoded before: a fresh array
        #expect(spare.capacity == 0)  // taken
        try? server.send(text: "three")
        let output = server.takePendingOutput()
        #expect(output.data == outgoing(Frame(.text, "three"), from: .server))
        #expect(output.data.capacity == capacity)
    }
}
