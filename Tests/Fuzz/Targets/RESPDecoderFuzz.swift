/// The RESP2 decoder Redis replies and pub/sub pushes go through.
///
/// Input: a byte of bounds (bits 0–1: the array count bound 1, 2, 4 or 1024; bits 2–3: the depth
/// bound 1–4; bits 4–5: the bulk bound 0, 16, 256 or 16 MiB; bit 6: a value bound of 512 bytes),
/// two bytes that pick a split point, then the stream a server sends.
/// Properties:
/// - chunking invariance: the same values and the same error whole, split in two, and a byte at a time;
/// - the bounds hold: no value has a longer bulk string, a longer array or deeper nesting than its
///   bounds, and after the values are taken, no more than the value bound is held;
/// - each value re-encodes to bytes that decode to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRESPDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(UnsafeRawBufferPointer(start: data, count: size))
    let options = input.byte()
    let splitSeed = input.uint16()
    var limits = RESPLimits()
    limits.maxArrayCount = [1, 2, 4, 1024][Int(options & 0x3)]
    limits.maxDepth = Int((options >> 2) & 0x3) + 1
    limits.maxBulkLength = [0, 16, 256, 16 << 20][Int((options >> 4) & 0x3)]
    limits.maxLineLength = 64
    if options & 0x40 != 0 { limits.maxValueBytes = 512 }
    let bytes = input.body

    let whole = Decoded(limits: limits, [bytes])
    let (first, second) = split(bytes, at: splitSeed)
    let pieces = Decoded(limits: limits, [first, second])
    require(pieces == whole, "split at \(first.count): \(pieces) vs whole \(whole)")
    if bytes.count <= 2048 {
        let trickle = Decoded(limits: limits, bytes.indices.map { UnsafeRawBufferPointer(rebasing: bytes[$0...$0]) })
        require(trickle == whole, "byte at a time: \(trickle) vs whole \(whole)")
    }
    for value in whole.values {
        checkBounds(value, limits: limits, depth: 0)
        var encoded: [UInt8] = []
        RESPEncoder.append(value, to: &encoded)
        var decoder = RESPDecoder(limits: RESPLimits())
        decoder.feed(encoded)
        let again = try? decoder.next()
        require(again == value, "\(value) re-encoded as \(describe(encoded)) decodes as \(String(describing: again))")
    }
    return 0
}

/// What a decoder gives for some chunks of input.
struct Decoded: Equatable, CustomStringConvertible {
    var values: [RESPValue] = []
    var error: RESPError?

    init(limits: RESPLimits, _ chunks: [UnsafeRawBufferPointer]) {
        var decoder = RESPDecoder(limits: limits)
        for chunk in chunks {
            decoder.feed(chunk)
            do {
                while let value = try decoder.next() { self.values.append(value) }
            } catch {
                self.error = error
                return
            }
            require(decoder.pendingCount <= limits.maxValueBytes,
                    "\(decoder.pendingCount) bytes held with a value bound of \(limits.maxValueBytes)")
        }
    }

    var description: String { "\(self.values.count) values \(self.values.prefix(4)), error \(String(describing: self.error))" }
}

func checkBounds(_ value: RESPValue, limits: RESPLimits, depth: Int) {
    switch value {
    case .bulk(let bytes?):
        require(bytes.count <= limits.maxBulkLength, "bulk of \(bytes.count) with a bound of \(limits.maxBulkLength)")
    case .array(let elements?):
        require(depth < limits.maxDepth, "nesting \(depth + 1) with a bound of \(limits.maxDepth)")
        require(elements.count <= limits.maxArrayCount, "array of \(elements.count) with a bound of \(limits.maxArrayCount)")
        for element in elements { checkBounds(element, limits: limits, depth: depth + 1) }
    case .simple(let text), .error(let text):
        require(text.utf8.count <= limits.maxLineLength * 3, "line of \(text.utf8.count) bytes")
    default:
        break
    }
}
