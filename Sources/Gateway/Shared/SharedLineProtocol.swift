import WebSocket

/// The `shared` line protocol, made to be read and written from `sh` with `read -r event id rest`.
///
///     wsgate → program                       program → wsgate
///     open ID REQUEST_URI REMOTE_ADDR:PORT   send IDS TEXT
///     msg ID TEXT                            bin IDS BASE64
///     bin ID BASE64                          all TEXT
///     close ID CODE                          others IDS TEXT
///                                            close IDS CODE [REASON]
///
/// IDS is one decimal id or a comma list (`3,5,9`). TEXT is escaped so a message is always one
/// line: `\` as `\\`, newline as `\n`, carriage return as `\r`; nothing else. Unescaping is lenient
/// where it cannot be ambiguous: a backslash before any other character stays as it is.
enum SharedLineProtocol {
    static func encode(_ event: SharedEvent, into output: inout [UInt8]) {
        switch event {
        case .open(let id, let requestURI, _, let remote, _):
            output.append(contentsOf: "open \(id) \(requestURI) \(remote)\n".utf8)
        case .message(let id, .text(let text)):
            output.append(contentsOf: "msg \(id) ".utf8)
            Self.appendEscaped(text, to: &output)
            output.append(0x0A)
        case .message(let id, .binary(let bytes)):
            output.append(contentsOf: "bin \(id) ".utf8)
            output.append(contentsOf: Base64.encode(bytes).utf8)
            output.append(0x0A)
        case .close(let id, let code):
            output.append(contentsOf: "close \(id) \(code)\n".utf8)
        }
    }

    /// Appends `text` with `\`, newline and carriage return escaped.
    static func appendEscaped(_ text: String, to output: inout [UInt8]) {
        let utf8 = text.utf8
        // Almost every message needs no escape: copy it whole.
        guard utf8.contains(where: { $0 == 0x5C || $0 == 0x0A || $0 == 0x0D }) else {
            output.append(contentsOf: utf8)
            return
        }
        for byte in utf8 {
            switch byte {
            case 0x5C: output.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            default: output.append(byte)
            }
        }
    }

    /// The text behind escaped bytes; bytes that are not UTF-8 become U+FFFD.
    static func unescape(_ bytes: UnsafeRawBufferPointer) -> String {
        guard bytes.contains(0x5C) else { return String(decoding: bytes, as: UTF8.self) }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x5C, index + 1 < bytes.count {
                switch bytes[index + 1] {
                case 0x5C: output.append(0x5C); index += 2; continue
                case UInt8(ascii: "n"): output.append(0x0A); index += 2; continue
                case UInt8(ascii: "r"): output.append(0x0D); index += 2; continue
                default: break
                }
            }
            output.append(byte)
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func parse(_ line: UnsafeRawBufferPointer) throws(SharedProtocolError) -> SharedCommand {
        var words = Words(line)
        let verb = words.next()
        switch String(decoding: verb, as: UTF8.self) {
        case "send":
            let ids = try Self.ids(words.next())
            return .send(to: ids, .text(Self.unescape(words.rest)))
        case "bin":
            let ids = try Self.ids(words.next())
            guard let bytes = Base64.decode(String(decoding: words.rest, as: UTF8.self)) else {
                throw SharedProtocolError("bin: invalid base64")
            }
            return .send(to: ids, .binary(bytes))
        case "all":
            return .all(.text(Self.unescape(words.rest)))
        case "others":
            let ids = try Self.ids(words.next())
            return .others(except: ids, .text(Self.unescape(words.rest)))
        case "close":
            let ids = try Self.ids(words.next())
            let code = words.next()
            guard let value = Int(String(decoding: code, as: UTF8.self)) else {
                throw SharedProtocolError("close: expected a close code")
            }
            return .close(ids: ids, code: try SharedProtocolError.checkedCloseCode(value), reason: Self.unescape(words.rest))
        case "":
            throw SharedProtocolError("empty line")
        default:
            throw SharedProtocolError("unknown command")
        }
    }

    /// `3` or `3,5,9`: positive decimal ids.
    static func ids(_ word: UnsafeRawBufferPointer) throws(SharedProtocolError) -> [Int] {
        guard !word.isEmpty else { throw SharedProtocolError("expected session ids") }
        var ids: [Int] = []
        for part in word.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            guard part.count <= 18, !part.isEmpty, part.allSatisfy({ (0x30...0x39).contains($0) }),
                  let id = Int(String(decoding: part, as: UTF8.self)), id > 0
            else {
                throw SharedProtocolError("invalid session id list '\(String(decoding: word, as: UTF8.self))'")
            }
            ids.append(id)
        }
        return ids
    }

    /// Splits a line at single spaces: each `next()` takes a word, `rest` is everything after the
    /// space that ended the last word (a message's text keeps its own spaces).
    struct Words {
        let line: UnsafeRawBufferPointer
        var index = 0

        init(_ line: UnsafeRawBufferPointer) {
            self.line = line
        }

        mutating func next() -> UnsafeRawBufferPointer {
            let start = self.index
            while self.index < self.line.count, self.line[self.index] != 0x20 { self.index += 1 }
            let word = UnsafeRawBufferPointer(rebasing: self.line[start..<self.index])
            if self.index < self.line.count { self.index += 1 }
            return word
        }

        var rest: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: self.line[self.index...]) }
    }
}
