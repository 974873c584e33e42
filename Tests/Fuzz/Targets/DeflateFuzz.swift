import WebSocket

/// permessage-deflate (RFC 7692): the offer parser and negotiation, the inflating receive path, and
/// the compress → inflate round trip.
///
/// Input: one option byte, two bytes that pick a split point, then a body. Bits 0–1 of the option
/// pick the mode:
/// - 0, negotiation: the body is a `Sec-WebSocket-Extensions` header value. An accepted offer gives
///   window sizes zlib can use (9–15 for the server's, 8–15 for the client's), a response that
///   parses back to itself, and the same answer a second time.
/// - 1, receiving: the body is bytes from a client to a server that agreed on permessage-deflate.
///   Properties: chunking invariance (whole, or split in two with events taken in between, give the
///   same events, output and state), and no message larger than `maxMessageSize` is delivered, so
///   a deflate bomb is stopped by the limit.
/// - 2 and 3, round trip: the body is a message a client compresses and a server inflates, twice
///   (the second time with whatever context the first left); the server gets it back byte for byte.
/// Bits 2–3 pick the agreement's context takeover, bits 4–6 the window and the size limit.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDeflate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(UnsafeRawBufferPointer(start: data, count: size))
    let options = input.byte()
    let splitSeed = input.uint16()
    let windows = [15, 9, 10, 12, 15, 11, 14, 13]
    let limits = [1 << 20, 1, 64, 1000, 4096, 125, 126, 65536]
    var agreement = PerMessageDeflate.Agreement()
    agreement.serverNoContextTakeover = options & 4 == 0
    agreement.clientNoContextTakeover = options & 8 == 0
    agreement.clientMaxWindowBits = windows[Int(options >> 4 & 7)]
    let limit = limits[Int(options >> 4 & 7)]

    switch options & 3 {
    case 0: checkNegotiation(String(decoding: input.body, as: UTF8.self))
    case 1: checkReceiving(input.body, agreement: agreement, limit: limit, splitSeed: splitSeed)
    default: checkRoundTrip(input.body, agreement: agreement)
    }
    return 0
}

private func checkNegotiation(_ header: String) {
    let offers = ExtensionOffer.parse([header])
    let configuration = PerMessageDeflate.Configuration()
    guard let (agreement, response) = PerMessageDeflate.negotiate(offers: offers, configuration: configuration) else {
        return
    }
    require((9...15).contains(agreement.serverMaxWindowBits), "server window \(agreement.serverMaxWindowBits)")
    require((8...15).contains(agreement.clientMaxWindowBits), "client window \(agreement.clientMaxWindowBits)")
    require(ExtensionOffer.parse([response.headerValue]) == [response],
            "response \(response.headerValue) does not parse back to itself")
    let again = PerMessageDeflate.negotiate(offers: offers, configuration: configuration)
    require(again?.agreement == agreement && again?.response == response, "a second negotiation differs")
}

private func server(_ agreement: PerMessageDeflate.Agreement, limit: Int) -> Connection {
    Connection(side: .server, configuration: .init(maxMessageSize: limit),
               extensions: [PerMessageDeflate(side: .server, agreement: agreement)])
}

private func checkReceiving(_ bytes: UnsafeRawBufferPointer, agreement: PerMessageDeflate.Agreement, limit: Int,
                            splitSeed: UInt16) {
    let whole = server(agreement, limit: limit)
    whole.receive(bytes)
    let wholeEvents = whole.takeEvents()
    let wholeOutput = flatten(whole.takeOutput())

    let (first, second) = split(bytes, at: splitSeed)
    let pieces = server(agreement, limit: limit)
    pieces.receive(first)
    var events = pieces.takeEvents()
    var output = pieces.takeOutput()
    pieces.receive(second)
    events += pieces.takeEvents()
    output += pieces.takeOutput()
    let piecesOutput = flatten(output)
    require(events == wholeEvents, "split at \(first.count): \(events) vs whole \(wholeEvents)")
    require(piecesOutput.bytes == wholeOutput.bytes && piecesOutput.ended == wholeOutput.ended,
            "split at \(first.count): output differs")
    require(pieces.state == whole.state, "split at \(first.count): state \(pieces.state) vs \(whole.state)")

    for event in wholeEvents {
        switch event {
        case .text(let text): require(text.utf8.count <= limit, "text of \(text.utf8.count) bytes over \(limit)")
        case .binary(let data): require(data.count <= limit, "binary of \(data.count) bytes over \(limit)")
        default: break
        }
    }
}

/// The bytes written, in order, however they were cut into outputs, and whether the stream ended.
private func flatten(_ outputs: [Connection.Output]) -> (bytes: [UInt8], ended: Bool) {
    var bytes: [UInt8] = []
    var ended = false
    for output in outputs {
        switch output {
        case .bytes(let more): bytes += more
        case .endOfStream: ended = true
        }
    }
    return (bytes, ended)
}

private func checkRoundTrip(_ body: UnsafeRawBufferPointer, agreement: PerMessageDeflate.Agreement) {
    let message = Array(body)
    // Threshold 0: every message is compressed, however short.
    let compressing = PerMessageDeflate.Configuration(windowBits: agreement.clientMaxWindowBits,
                                                      contextTakeover: !agreement.clientNoContextTakeover,
                                                      threshold: 0)
    let client = Connection(side: .client, configuration: .init(maskingKeys: .fixed(MaskingKey(1, 2, 3, 4))),
                            extensions: [PerMessageDeflate(side: .client, agreement: agreement,
                                                           configuration: compressing)])
    let receiver = server(agreement, limit: 1 << 20)
    for round in 1...2 {
        do {
            try client.send(binary: message)
        } catch {
            require(false, "round \(round): send failed: \(error)")
        }
        for case .bytes(let bytes) in client.takeOutput() { receiver.receive(bytes) }
        let events = receiver.takeEvents()
        require(events == [.binary(message)],
                "round \(round): \(describe(message)) came back as \(events)")
    }
}
