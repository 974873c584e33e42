import WebSocket

/// The HTTP head parser and the server's handshake validation.
///
/// Input: one option byte (bit 0: parse a response rather than a request; bits 1–3 pick the head
/// size bound), two bytes that pick a split point, then the bytes from the peer. Properties:
/// - chunking invariance: whole, split in two, and a byte at a time give the same head, the same bytes
///   after it, or the same failure;
/// - a parsed head serializes to bytes that parse back to the same head (for a response, one with a
///   status of at least 100);
/// - `ServerHandshake.accept` says yes exactly when a check written here from RFC 6455 §4.2.1 (its own
///   header lookup, token lists and canonical Base64) says the request is a valid upgrade;
/// - an accepted handshake's 101 parses and satisfies `ClientHandshake.validate` for the same key and
///   offered subprotocols, which selects the same subprotocol; a refusal is a complete response with
///   one of the status codes DESIGN.md names.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPHandshake(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(UnsafeRawBufferPointer(start: data, count: size))
    let options = input.byte()
    let splitSeed = input.uint16()
    let kind: HTTPHeadParser.Kind = options & 1 == 0 ? .request : .response
    let bounds = [HTTPHeadParser.defaultMaxSize, 0, 1, 16, 64, 256, 1024, 65536]
    let maxSize = bounds[Int(options >> 1 & 7)]
    let bytes = input.body

    var parser = HTTPHeadParser(kind: kind, maxSize: maxSize)
    let whole = Outcome(feeding: [bytes], to: &parser)
    var splitParser = HTTPHeadParser(kind: kind, maxSize: maxSize)
    let (first, second) = split(bytes, at: splitSeed)
    let pieces = Outcome(feeding: [first, second], to: &splitParser)
    require(pieces == whole, "split at \(first.count): \(pieces) vs whole \(whole) for \(describe(bytes))")
    if bytes.count <= 2048 {
        var trickleParser = HTTPHeadParser(kind: kind, maxSize: maxSize)
        let trickle = Outcome(feeding: bytes.indices.map { UnsafeRawBufferPointer(rebasing: bytes[$0...$0]) },
                              to: &trickleParser)
        require(trickle == whole, "byte at a time: \(trickle) vs whole \(whole) for \(describe(bytes))")
    }

    guard case .head(let head, _) = whole else { return 0 }
    // "HTTP/1.1 011 x" parses as status 11, written back as "11", which is not three digits: a status
    // under 100 is no HTTP status, and a client refuses anything but 101, so the round trip starts at 100.
    if case .response(_, let status, _) = head.startLine, status < 100 { return 0 }
    var again = HTTPHeadParser(kind: kind, maxSize: Int.max)
    let serialized = head.serialized()
    let reparsed = Outcome(feeding: [UnsafeRawBufferPointer(start: serialized, count: serialized.count)], to: &again)
    require(reparsed == .head(head, []), "\(head) serializes to \(describe(serialized)), which parses to \(reparsed)")

    if kind == .request { checkHandshake(head) }
    return 0
}

/// What feeding a parser came to; the bytes fed after the head count as bytes after it.
enum Outcome: Equatable {
    case incomplete
    case head(HTTPHead, [UInt8])
    case failed(HTTPHeadParser.Failure)

    init(feeding chunks: [UnsafeRawBufferPointer], to parser: inout HTTPHeadParser) {
        self = .incomplete
        for chunk in chunks {
            switch self {
            case .failed: return
            case .head(let head, let rest):
                self = .head(head, rest + chunk)
                continue
            case .incomplete:
                break
            }
            do {
                if let (head, rest) = try parser.feed(chunk) { self = .head(head, rest) }
            } catch {
                self = .failed(error)
            }
        }
    }
}

let subprotocols = ["chat", "superchat", "Chat"]

func checkHandshake(_ request: HTTPHead) {
    let result = ServerHandshake(subprotocols: subprotocols).accept(request)
    let valid = isValidUpgrade(request)
    switch result {
    case .success(let accepted):
        require(valid, "accepted a request the RFC check refuses: \(request)")
        var parser = HTTPHeadParser(kind: .response)
        let bytes = accepted.response.serialized()
        guard case .head(let response, let rest) = Outcome(feeding: [UnsafeRawBufferPointer(start: bytes, count: bytes.count)],
                                                           to: &parser), rest.isEmpty
        else { return require(false, "the 101 does not parse: \(describe(bytes))") }
        let key = Base64.decode(request.values(of: "Sec-WebSocket-Key")[0])!
        let offered = request.listElements(of: "Sec-WebSocket-Protocol")
        let client = ClientHandshake(host: "x", subprotocols: offered, keyBytes: key)
        do {
            let selected = try client.validate(response)
            require(selected == accepted.subprotocol, "the client sees subprotocol \(String(describing: selected))")
            require(selected == subprotocols.first(where: offered.contains), "selected \(String(describing: selected)) from \(offered)")
        } catch {
            require(false, "the client refuses the 101: \(error)")
        }
    case .failure(let failure):
        require(!valid, "refused a request the RFC check accepts (\(failure)): \(request)")
        let response = failure.response
        require([400, 403, 404, 405, 426, 431, 505].contains(response.status), "refusal with status \(response.status)")
        var parser = HTTPHeadParser(kind: .response)
        let bytes = response.serialized()
        guard case .head(let head, let body) = Outcome(feeding: [UnsafeRawBufferPointer(start: bytes, count: bytes.count)],
                                                       to: &parser)
        else { return require(false, "the refusal does not parse: \(describe(bytes))") }
        require(head.values(of: "Content-Length") == [String(body.count)], "refusal body length: \(describe(bytes))")
    }
}

/// RFC 6455 §4.2.1, written apart from `ServerHandshake` and `HTTPHead`'s helpers.
func isValidUpgrade(_ request: HTTPHead) -> Bool {
    func values(_ name: String) -> [String] {
        let wanted = Array(name.utf8).map(asciiLowercase)
        return request.headers.filter { Array($0.name.utf8).map(asciiLowercase) == wanted }.map(\.value)
    }
    func elements(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",", omittingEmptySubsequences: true) }
            .map { String(decoding: Array($0.utf8).trimmed(), as: UTF8.self) }
            .filter { !$0.isEmpty }
            .map { String(decoding: $0.utf8.map(asciiLowercase), as: UTF8.self) }
    }
    guard case .request(let method, let target, let version) = request.startLine else { return false }
    // "An HTTP/1.1 or higher GET request, including a Request-URI": wsgate takes exactly HTTP/1.1.
    guard method == "GET", version == "HTTP/1.1" else { return false }
    guard values("Content-Length").isEmpty, values("Transfer-Encoding").isEmpty else { return false }
    guard target.hasPrefix("/") || isAbsoluteHTTP(target) else { return false }
    let hosts = values("Host")
    guard hosts.count == 1, !hosts[0].isEmpty else { return false }
    guard elements("Upgrade").contains("websocket"), elements("Connection").contains("upgrade") else { return false }
    let keys = values("Sec-WebSocket-Key")
    guard keys.count == 1, isNonce(keys[0]) else { return false }
    return values("Sec-WebSocket-Version") == ["13"]
}

/// "http://host/…" or "https://host…", scheme in any case: RFC 9112 §3.2.2 absolute-form.
func isAbsoluteHTTP(_ target: String) -> Bool {
    let lower = String(decoding: target.utf8.map(asciiLowercase), as: UTF8.self)
    return lower.hasPrefix("http://") || lower.hasPrefix("https://")
}

/// 16 bytes in canonical Base64: 22 characters, then one of the four whose low bits are 0, then "==".
func isNonce(_ key: String) -> Bool {
    let bytes = Array(key.utf8)
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    return bytes.count == 24 && bytes[..<21].allSatisfy(alphabet.contains) && Array("AQgw".utf8).contains(bytes[21])
        && bytes[22...] == [0x3D, 0x3D]
}

func asciiLowercase(_ byte: UInt8) -> UInt8 {
    (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
}

extension Array where Element == UInt8 {
    /// Without leading and trailing spaces and tabs (RFC 9110 OWS).
    func trimmed() -> ArraySlice<UInt8> {
        var slice = self[...]
        while let first = slice.first, first == 0x20 || first == 0x09 { slice.removeFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice.removeLast() }
        return slice
    }
}
