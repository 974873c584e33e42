import WebSocket

/// The frame decoder and message assembly: a `Connection` fed arbitrary bytes.
///
/// Input: one option byte (bits 0–2 pick `maxMessageSize`, bit 3 turns `autoPong` off, bit 4 makes
/// the connection a client), two bytes that pick a split point, then the bytes from the peer.
/// Properties:
/// - chunking invariance: the events, the output bytes and the final state are the same whether the
///   bytes come whole (`receive(mutating:)`), in two pieces with the output taken in between, or one
///   byte at a time, and when messages are lent (`receive(mutating:lendingMessages:)`) in two pieces;
/// - the events and the close code agree with `PeerModel`, a plain re-reading of RFC 6455 §5 written
///   for this harness (frames one after the other, whole buffers, no streaming);
/// - what the connection writes is valid for the other side: a peer `Connection` decodes it into
///   exactly the pongs owed and the close frame sent, and answers with the same close code.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConnection(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(UnsafeRawBufferPointer(start: data, count: size))
    let options = input.byte()
    let splitSeed = input.uint16()
    let sizes = [1 << 20, 0, 1, 2, 16, 125, 126, 4096]
    let configuration = Connection.Configuration(maxMessageSize: sizes[Int(options & 7)], autoPong: options & 8 == 0,
                                                 maskingKeys: .fixed(MaskingKey(0x37, 0xFA, 0x21, 0x3D)))
    let side: Connection.Side = options & 16 == 0 ? .server : .client
    let bytes = input.body

    let whole = Connection(side: side, configuration: configuration)
    var copy = Array(bytes)
    copy.withUnsafeMutableBytes { whole.receive(mutating: $0) }
    let wholeRun = Run(whole)

    let (first, second) = split(bytes, at: splitSeed)
    let pieces = Connection(side: side, configuration: configuration)
    pieces.receive(first)
    var piecesRun = Run(pieces)
    pieces.receive(second)
    piecesRun.append(Run(pieces))
    require(piecesRun == wholeRun, "split at \(first.count) differs: \(piecesRun) vs whole \(wholeRun)")

    // Lending: the same events when messages whole in the caller's buffer are lent, each taken
    // while that buffer is intact, which is then overwritten (a lent message read later would show it).
    let lending = Connection(side: side, configuration: configuration)
    var lentEvents: [Connection.Event] = []
    for piece in [Array(first), Array(second)] {
        var buffer = piece
        buffer.withUnsafeMutableBytes { raw in
            lending.receive(mutating: raw, lendingMessages: true)
            while let lent = lending.nextLentEvent() {
                switch lent {
                case .text(let payload): lentEvents.append(.text(String(decoding: payload, as: UTF8.self)))
                case .binary(let payload): lentEvents.append(.binary(Array(payload)))
                case .other(let event): lentEvents.append(event)
                }
            }
            for index in raw.indices { raw[index] = 0xEE }
        }
    }
    var lentRun = Run(lending)
    lentRun.events = lentEvents
    require(lentRun == wholeRun, "lending split at \(first.count) differs: \(lentRun) vs whole \(wholeRun)")

    if bytes.count <= 1024 {
        let trickle = Connection(side: side, configuration: configuration)
        for index in bytes.indices { trickle.receive(CollectionOfOne(bytes[index])) }
        let trickleRun = Run(trickle)
        require(trickleRun == wholeRun, "byte at a time differs: \(trickleRun) vs whole \(wholeRun)")
    }

    var model = PeerModel(side: side, maxMessageSize: configuration.maxMessageSize, autoPong: configuration.autoPong)
    model.read(bytes)
    require(wholeRun.events == model.events, "events \(wholeRun.events) but the model expects \(model.events)")
    require(whole.closeSent.map { $0.code } == model.closeSent,
            "close sent \(String(describing: whole.closeSent)) but the model expects \(String(describing: model.closeSent))")
    require(wholeRun.endOfStream == model.endsStream, "end of stream \(wholeRun.endOfStream), model \(model.endsStream)")

    checkPeerReads(wholeRun, of: whole, model: model)
    return 0
}

/// What a connection produced: its events, its output bytes in order, and its state after.
struct Run: Equatable, CustomStringConvertible {
    var events: [Connection.Event]
    var output: [UInt8]
    var endOfStream: Bool
    var state: Connection.State
    var closeReceived: String
    var closeSent: String

    init(_ connection: Connection) {
        self.events = connection.takeEvents()
        self.output = []
        self.endOfStream = false
        for output in connection.takeOutput() {
            switch output {
            case .bytes(let bytes):
                require(!self.endOfStream, "bytes after the end of stream")
                self.output += bytes
            case .endOfStream:
                require(!self.endOfStream, "two ends of stream")
                self.endOfStream = true
            }
        }
        self.state = connection.state
        self.closeReceived = String(describing: connection.closeReceived)
        self.closeSent = String(describing: connection.closeSent)
    }

    mutating func append(_ later: Run) {
        require(!self.endOfStream || (later.output.isEmpty && !later.endOfStream), "output after the end of stream")
        self.events += later.events
        self.output += later.output
        self.endOfStream = self.endOfStream || later.endOfStream
        self.state = later.state
        self.closeReceived = later.closeReceived
        self.closeSent = later.closeSent
    }

    var description: String {
        "events \(self.events.count) \(self.events.prefix(4)), output \(describe(self.output, limit: 40)), "
            + "end \(self.endOfStream), \(self.state), received \(self.closeReceived), sent \(self.closeSent)"
    }
}

/// Feeds what the connection wrote to a connection of the other side: it must see the pongs owed,
/// then the close frame, and nothing it would reject.
func checkPeerReads(_ run: Run, of connection: Connection, model: PeerModel) {
    let peer = Connection(side: connection.side == .server ? .client : .server)
    peer.receive(run.output)
    var expected = model.pongs.map { Connection.Event.pong($0) }
    // A client echoes the 1012–1014 that a server may send (IANA codes newer than RFC 6455), and a
    // server takes them as a protocol error, as the conformance suite expects of it.
    let echoRejected = connection.side == .client && (1012...1014).contains(connection.closeSent?.code?.rawValue ?? 0)
    if let sent = connection.closeSent, !echoRejected {
        expected.append(.close(sent.code, sent.reason))
    }
    let events = peer.takeEvents()
    require(events == expected, "the peer reads \(events) from \(describe(run.output)), expected \(expected)")
    _ = peer.takeOutput()
    if let sent = connection.closeSent, !echoRejected {
        require(peer.closeSent?.code == sent.code, "the peer answers the close with \(String(describing: peer.closeSent))")
    }
}

/// RFC 6455 §5 as a reader of whole buffers: what a conforming endpoint reports for these bytes.
///
/// It fails a header as soon as the byte that makes it invalid is there (the first byte, then the
/// second, then the whole 64-bit length), and text as soon as a byte cannot continue valid UTF-8,
/// even in a frame whose payload has not all arrived: so does the connection, which streams.
struct PeerModel {
    let side: Connection.Side
    let maxMessageSize: Int
    let autoPong: Bool
    var events: [Connection.Event] = []
    var pongs: [[UInt8]] = []
    var closeSent: CloseCode?? = nil
    var endsStream = false
    private var message: (opcode: UInt8, bytes: [UInt8])?

    init(side: Connection.Side, maxMessageSize: Int, autoPong: Bool) {
        self.side = side
        self.maxMessageSize = maxMessageSize
        self.autoPong = autoPong
    }

    mutating func read(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        while index < bytes.count {
            guard let next = self.frame(bytes, at: index) else { return }
            index = next
        }
    }

    private mutating func fail(_ code: CloseCode) -> Int? {
        self.closeSent = .some(code)
        self.endsStream = self.side == .server
        return nil
    }

    /// Reads the frame at `start`; returns where the next one starts, or nil when reading stops.
    private mutating func frame(_ bytes: UnsafeRawBufferPointer, at start: Int) -> Int? {
        let available = bytes.count - start
        let first = bytes[start]
        let opcode = first & 0x0F
        let fin = first & 0x80 != 0
        let isControl = opcode >= 8
        guard [0, 1, 2, 8, 9, 10].contains(opcode) else { return self.fail(.protocolError) }
        guard first & 0x70 == 0 else { return self.fail(.protocolError) }  // no extension here
        guard !isControl || fin else { return self.fail(.protocolError) }
        guard available >= 2 else { return nil }
        let second = bytes[start + 1]
        let masked = second & 0x80 != 0
        guard masked == (self.side == .server) else { return self.fail(.protocolError) }
        var length = UInt64(second & 0x7F)
        guard !isControl || length <= 125 else { return self.fail(.protocolError) }
        var header = 2
        if length == 126 || length == 127 {
            let width = length == 126 ? 2 : 8
            guard available >= 2 + width else { return nil }
            length = 0
            for offset in 0..<width { length = length << 8 | UInt64(bytes[start + 2 + offset]) }
            guard length >> 63 == 0 else { return self.fail(.protocolError) }
            header += width
        }
        var key: [UInt8] = [0, 0, 0, 0]
        if masked {
            guard available >= header + 4 else { return nil }
            key = Array(bytes[(start + header)..<(start + header + 4)])
            header += 4
        }
        switch opcode {
        case 0: guard self.message != nil else { return self.fail(.protocolError) }
        case 1, 2: guard self.message == nil else { return self.fail(.protocolError) }
        default: break
        }
        if !isControl {
            let soFar = UInt64(self.message?.bytes.count ?? 0)
            guard length + soFar <= UInt64(self.maxMessageSize) else { return self.fail(.messageTooBig) }
        }
        let payloadStart = start + header
        let present = min(UInt64(bytes.count - payloadStart), length)
        var payload = Array(bytes[payloadStart..<(payloadStart + Int(present))])
        for index in payload.indices { payload[index] ^= key[index % 4] }
        let complete = present == length

        if isControl {
            guard complete else { return nil }
            return self.control(opcode, payload) ? payloadStart + Int(length) : nil
        }
        let messageOpcode = self.message?.opcode ?? opcode
        let assembled = (self.message?.bytes ?? []) + payload
        if messageOpcode == 1 {
            let check = assembled.withUnsafeBytes { ReferenceUTF8.firstImpossibleByte($0) }
            if check.offset != nil { return self.fail(.invalidData) }
            if complete && fin && check.endsInside { return self.fail(.invalidData) }
        }
        guard complete else { return nil }
        if fin {
            self.message = nil
            self.events.append(messageOpcode == 1
                ? .text(String(decoding: assembled, as: UTF8.self)) : .binary(assembled))
        } else {
            self.message = (messageOpcode, assembled)
        }
        return payloadStart + Int(length)
    }

    /// Handles a whole control frame; false when reading stops after it.
    private mutating func control(_ opcode: UInt8, _ payload: [UInt8]) -> Bool {
        switch opcode {
        case 9:
            self.events.append(.ping(payload))
            if self.autoPong { self.pongs.append(payload) }
            return true
        case 10:
            self.events.append(.pong(payload))
            return true
        default:
            break
        }
        if payload.count == 1 { return self.fail(.protocolError) != nil }
        var code: CloseCode?
        var reason = ""
        if payload.count >= 2 {
            let received = UInt16(payload[0]) << 8 | UInt16(payload[1])
            // RFC 6455 §7.4.1 and §7.4.2; a client also takes the IANA codes 1012–1014 from a server.
            var allowed = (1000...1003).contains(received) || (1007...1011).contains(received)
                || (3000...4999).contains(received)
            if self.side == .client { allowed = allowed || (1012...1014).contains(received) }
            guard allowed else { return self.fail(.protocolError) != nil }
            guard ReferenceUTF8.isValid(payload[2...]) else { return self.fail(.invalidData) != nil }
            code = CloseCode(received)
            reason = String(decoding: payload[2...], as: UTF8.self)
        }
        self.events.append(.close(code, reason))
        self.closeSent = .some(code)
        self.endsStream = self.side == .server
        return false
    }
}
