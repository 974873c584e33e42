/// Writes RESP2: commands as a client sends them (an array of bulk strings, binary-safe), and any
/// value (for tests, fuzzing, and a fake server).
enum RESPEncoder {
    /// Appends `arguments` as one command: `*N\r\n` then `$len\r\nbytes\r\n` per argument.
    static func appendCommand(_ arguments: [[UInt8]], to buffer: inout [UInt8]) {
        Self.appendHeader(UInt8(ascii: "*"), arguments.count, to: &buffer)
        for argument in arguments { Self.appendBulk(argument, to: &buffer) }
    }

    /// A command from text arguments, for the ones that are all text (AUTH, SELECT, SUBSCRIBE).
    static func command(_ arguments: String...) -> [UInt8] {
        var buffer: [UInt8] = []
        Self.appendCommand(arguments.map { Array($0.utf8) }, to: &buffer)
        return buffer
    }

    static func appendBulk(_ bytes: [UInt8], to buffer: inout [UInt8]) {
        Self.appendHeader(UInt8(ascii: "$"), bytes.count, to: &buffer)
        buffer.append(contentsOf: bytes)
        buffer.append(contentsOf: [0x0D, 0x0A])
    }

    /// Appends `value` in its canonical form. A simple string or error must not hold CR or LF.
    static func append(_ value: RESPValue, to buffer: inout [UInt8]) {
        switch value {
        case .simple(let text):
            buffer.append(UInt8(ascii: "+"))
            Self.appendLine(text.utf8, to: &buffer)
        case .error(let text):
            buffer.append(UInt8(ascii: "-"))
            Self.appendLine(text.utf8, to: &buffer)
        case .integer(let number):
            buffer.append(UInt8(ascii: ":"))
            Self.appendLine(String(number).utf8, to: &buffer)
        case .bulk(nil):
            buffer.append(contentsOf: Array("$-1\r\n".utf8))
        case .bulk(let bytes?):
            Self.appendBulk(bytes, to: &buffer)
        case .array(nil):
            buffer.append(contentsOf: Array("*-1\r\n".utf8))
        case .array(let elements?):
            Self.appendHeader(UInt8(ascii: "*"), elements.count, to: &buffer)
            for element in elements { Self.append(element, to: &buffer) }
        }
    }

    static func appendHeader(_ type: UInt8, _ count: Int, to buffer: inout [UInt8]) {
        buffer.append(type)
        Self.appendLine(String(count).utf8, to: &buffer)
    }

    private static func appendLine(_ text: String.UTF8View, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: text)
        buffer.append(contentsOf: [0x0D, 0x0A])
    }
}
