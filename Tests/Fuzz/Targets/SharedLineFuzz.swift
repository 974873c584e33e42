import WebSocket

/// The `shared` line protocol: commands a program writes, events wsgate writes, and the escaping.
///
/// Input: a line of program output (a NUL byte splits off a second part used as message text).
/// Properties:
/// - every command that parses, encoded again by `encode(_:)` below (written from the protocol's doc
///   comment), parses to the same command;
/// - `unescape` undoes `appendEscaped` for any text, and escaped text has no line break;
/// - the events wsgate writes are one line each, and their text and bytes read back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSharedLine(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let line = UnsafeRawBufferPointer(start: data, count: size)

    if let command = try? SharedLineProtocol.parse(line) {
        let encoded = encode(command)
        let again = encoded.withUnsafeBytes { bytes in Result { () throws(SharedProtocolError) in try SharedLineProtocol.parse(bytes) } }
        switch again {
        case .success(let reparsed):
            require(reparsed == command, "\(describe(line)) is \(command), encoded as \(describe(encoded)), which is \(reparsed)")
        case .failure(let error):
            require(false, "\(describe(line)) is \(command), encoded as \(describe(encoded)), which fails: \(error)")
        }
    }

    let text = String(decoding: line.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false).last ?? [], as: UTF8.self)
    var escaped: [UInt8] = []
    SharedLineProtocol.appendEscaped(text, to: &escaped)
    require(!escaped.contains(0x0A) && !escaped.contains(0x0D), "escaped text \(describe(escaped)) breaks the line")
    let unescaped = escaped.withUnsafeBytes { SharedLineProtocol.unescape($0) }
    require(unescaped == text, "\(describe(Array(text.utf8))) escapes to \(describe(escaped)), which unescapes to \(describe(Array(unescaped.utf8)))")

    let id = 1 + size
    checkEvent(.message(id: id, .text(text)), "msg \(id) ", rest: { SharedLineProtocol.unescape($0) == text })
    let bytes = Array(line)
    checkEvent(.message(id: id, .binary(bytes)), "bin \(id) ", rest: { Base64.decode(String(decoding: $0, as: UTF8.self)) == bytes })
    checkEvent(.close(id: id, code: UInt16(truncatingIfNeeded: size)), "close \(id) \(UInt16(truncatingIfNeeded: size))", rest: \.isEmpty)
    return 0
}

/// The event as wsgate writes it: one line, starting with `prefix`, the rest checked by `rest`.
func checkEvent(_ event: SharedEvent, _ prefix: String, rest: (UnsafeRawBufferPointer) -> Bool) {
    var output: [UInt8] = []
    SharedEncoding.lines.encode(event, into: &output)
    require(output.last == 0x0A && output.firstIndex(of: 0x0A) == output.count - 1, "\(event) is not one line: \(describe(output))")
    require(output.starts(with: prefix.utf8), "\(event) is written as \(describe(output))")
    let body = output[prefix.utf8.count..<(output.count - 1)]
    require(Array(body).withUnsafeBytes(rest), "\(event) does not read back from \(describe(output))")
}

/// A command as a program writes it: `send IDS TEXT`, `bin IDS BASE64`, `all TEXT`, `others IDS TEXT`,
/// `close IDS CODE [REASON]`.
func encode(_ command: SharedCommand) -> [UInt8] {
    func ids(_ ids: [Int]) -> String { ids.map(String.init).joined(separator: ",") }
    func escaped(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": bytes += Array("\\\\".utf8)
            case "\n": bytes += Array("\\n".utf8)
            case "\r": bytes += Array("\\r".utf8)
            default: bytes += Array(String(scalar).utf8)
            }
        }
        return bytes
    }
    switch command {
    case .send(let to, .text(let text)): return Array("send \(ids(to)) ".utf8) + escaped(text)
    case .send(let to, .binary(let bytes)): return Array("bin \(ids(to)) \(Base64.encode(bytes))".utf8)
    case .all(.text(let text)): return Array("all ".utf8) + escaped(text)
    case .others(let except, .text(let text)): return Array("others \(ids(except)) ".utf8) + escaped(text)
    case .close(let to, let code, let reason): return Array("close \(ids(to)) \(code.rawValue) ".utf8) + escaped(reason)
    case .all(.binary), .others(_, .binary):
        require(false, "the line protocol has no binary broadcast, yet it parsed \(command)")
        return []
    }
}
