import WebSocket

/// The `shared-json` protocol and the JSON parser under it.
///
/// Input: a line of program output (a NUL byte splits off a second part used as text). Properties:
/// - `JSONValue.parse` never crashes, whatever the bytes (it reads libFuzzer's own buffer, so a read
///   past the end hits AddressSanitizer's redzone); a value it returns, written again by `write`
///   below, parses to the same value;
/// - `JSONValue.appendString` gives a JSON string with no raw control character, that parses back to
///   the same text;
/// - every command that parses, written again as JSON by this harness, parses to the same command;
/// - the events wsgate writes are one line each, JSON objects whose fields read back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSharedJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let line = UnsafeRawBufferPointer(start: data, count: size)

    if let value = try? JSONValue.parse(line) {
        let written = write(value)
        let again = Result { () throws(JSONValue.Invalid) in try JSONValue.parse(written) }
        require((try? again.get()) == value, "\(describe(line)) is \(value), written as \(written), which is \(again)")
    }

    let text = String(decoding: line.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false).last ?? [], as: UTF8.self)
    var string: [UInt8] = []
    JSONValue.appendString(text, to: &string)
    require(!string.contains(where: { $0 < 0x20 }), "\(describe(Array(text.utf8))) is written with a raw control character")
    let parsedString = string.withUnsafeBytes { bytes in Result { () throws(JSONValue.Invalid) in try JSONValue.parse(bytes) } }
    require((try? parsedString.get()) == .string(text), "\(describe(string)) parses to \(parsedString), not the text")

    if let command = try? SharedJSONProtocol.parse(line) {
        let written = encode(command)
        let again = Array(written.utf8).withUnsafeBytes { bytes in
            Result { () throws(SharedProtocolError) in try SharedJSONProtocol.parse(bytes) }
        }
        require((try? again.get()) == command, "\(describe(line)) is \(command), written as \(written), which is \(again)")
    }

    let id = 1 + size
    let bytes = Array(line)
    let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    var environment = ["REMOTE_ADDR": text]
    environment[parts[0]] = parts.last!
    checkEvent(.open(id: id, requestURI: text, path: String(text.reversed()), remote: text, environment: environment),
               ["event": .string("open"), "id": .number(Double(id)), "uri": .string(text),
                "path": .string(String(text.reversed())), "remote": .string(text),
                "env": .object(environment.mapValues { .string($0) })])
    checkEvent(.message(id: id, .text(text)), ["event": .string("msg"), "id": .number(Double(id)), "text": .string(text)])
    checkEvent(.message(id: id, .binary(bytes)),
               ["event": .string("bin"), "id": .number(Double(id)), "data": .string(Base64.encode(bytes))])
    checkEvent(.close(id: id, code: 1006), ["event": .string("close"), "id": .number(Double(id)), "code": .number(1006)])
    return 0
}

/// The event as wsgate writes it must be one line holding exactly `fields`.
func checkEvent(_ event: SharedEvent, _ fields: [String: JSONValue]) {
    var output: [UInt8] = []
    SharedEncoding.json.encode(event, into: &output)
    require(output.last == 0x0A && output.firstIndex(of: 0x0A) == output.count - 1, "\(event) is not one line: \(describe(output))")
    let parsed = output.dropLast().withUnsafeBytes { bytes in Result { () throws(JSONValue.Invalid) in try JSONValue.parse(bytes) } }
    require((try? parsed.get()) == .object(fields), "\(event) is written as \(describe(output)), which is \(parsed)")
}

/// A JSON text for `value`, written apart from the gateway's encoder (numbers in Swift's shortest
/// round-trip form, which is JSON for every finite Double).
func write(_ value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case .bool(let flag): return flag ? "true" : "false"
    case .number(let number): return "\(number)"
    case .string(let text): return quoted(text)
    case .array(let elements): return "[" + elements.map(write).joined(separator: ",") + "]"
    case .object(let members):
        return "{" + members.keys.sorted().map { quoted($0) + ":" + write(members[$0]!) }.joined(separator: ",") + "}"
    }
}

/// RFC 8259 §7: every control character as \u00XX, quote and backslash escaped, the rest as it is.
func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\u{0}"..."\u{1F}": result += "\\u00" + hex(UInt8(scalar.value))
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

/// A command as a program writes it, ids always as an array.
func encode(_ command: SharedCommand) -> String {
    func ids(_ ids: [Int]) -> String { "[" + ids.map(String.init).joined(separator: ",") + "]" }
    func message(_ message: Message) -> String {
        switch message {
        case .text(let text): "\"text\":" + quoted(text)
        case .binary(let bytes): "\"data\":" + quoted(Base64.encode(bytes))
        }
    }
    switch command {
    case .send(let to, let payload): return "{\"cmd\":\"send\",\"to\":\(ids(to)),\(message(payload))}"
    case .all(let payload): return "{\"cmd\":\"all\",\(message(payload))}"
    case .others(let except, let payload): return "{\"cmd\":\"others\",\"except\":\(ids(except)),\(message(payload))}"
    case .close(let to, let code, let reason):
        return "{\"cmd\":\"close\",\"to\":\(ids(to)),\"code\":\(code.rawValue),\"reason\":\(quoted(reason))}"
    }
}
