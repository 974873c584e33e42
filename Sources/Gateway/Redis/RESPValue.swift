/// One RESP2 value: a reply, or a pub/sub push (an array whose first element names its kind).
///
/// RESP2 is what every Redis (and Valkey, KeyDB) speaks without `HELLO 3`. Its five types are the
/// whole of it; RESP3's maps, doubles and attributes are deliberately not parsed, since wsgate never
/// asks for RESP3.
enum RESPValue: Equatable, Sendable {
    /// `+OK\r\n`
    case simple(String)
    /// `-ERR unknown command\r\n`; the text's first word is the error's kind (ERR, WRONGPASS, NOAUTH…).
    case error(String)
    /// `:42\r\n`
    case integer(Int64)
    /// `$3\r\nfoo\r\n`; nil is RESP2's null bulk string `$-1\r\n`.
    case bulk([UInt8]?)
    /// `*2\r\n…`; nil is RESP2's null array `*-1\r\n`.
    case array([RESPValue]?)

    /// The bytes of a bulk or simple string.
    var bytes: [UInt8]? {
        switch self {
        case .bulk(let bytes): bytes
        case .simple(let text): Array(text.utf8)
        default: nil
        }
    }
}

/// The bounds a decoder holds a peer to. Redis itself refuses bulk strings over 512 MiB; a gateway
/// needs far less, and one bound per dimension keeps a broken or hostile server from making it
/// allocate without limit.
struct RESPLimits: Equatable, Sendable {
    /// The longest bulk string (a published message with its header).
    var maxBulkLength = 16 << 20
    /// The most elements in one array (a pub/sub push has 3 or 4).
    var maxArrayCount = 1024
    /// How deep arrays may nest; 1 is a flat array.
    var maxDepth = 4
    /// The longest simple string, error or length line, CRLF excluded.
    var maxLineLength = 4096
    /// The most bytes an incomplete value may hold in the decoder's buffer: what bounds its memory
    /// whatever the shape of the value (many arrays of many bulks are each within the bounds above).
    var maxValueBytes = (16 << 20) + 64 * 1024
}

/// What a Redis server sent that RESP2 forbids or the limits refuse. The reasons are short and
/// lower-case, for logs.
enum RESPError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownType(UInt8)
    case badLength
    case badInteger
    case missingLineFeed
    case bulkTooLong(Int, limit: Int)
    case arrayTooLong(Int, limit: Int)
    case tooDeep(limit: Int)
    case lineTooLong(limit: Int)
    case valueTooLong(limit: Int)

    var description: String {
        switch self {
        case .unknownType(let byte): "unknown type byte 0x\(String(byte, radix: 16))"
        case .badLength: "bad length"
        case .badInteger: "bad integer"
        case .missingLineFeed: "CR not followed by LF"
        case .bulkTooLong(let length, let limit): "bulk string of \(length) bytes (limit \(limit))"
        case .arrayTooLong(let count, let limit): "array of \(count) elements (limit \(limit))"
        case .tooDeep(let limit): "arrays nested deeper than \(limit)"
        case .lineTooLong(let limit): "line longer than \(limit) bytes"
        case .valueTooLong(let limit): "value longer than \(limit) bytes"
        }
    }
}
