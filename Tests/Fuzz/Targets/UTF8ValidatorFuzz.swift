import WebSocket

/// The incremental UTF-8 validator against the standard library's decoder.
///
/// Input: two 16-bit split points, then the bytes. Properties:
/// - `isValid` is true exactly when `String(validating:as:)` accepts the bytes;
/// - fed whole, or in three pieces cut at the fuzzer's points, `feed` fails at the same offset, the
///   first byte that no valid continuation could follow (`ReferenceUTF8`, from the standard
///   library's parser and a search for completions); when nothing fails, `isComplete` tells whether
///   the bytes end between characters, and `count` is the number of bytes fed.
/// The pieces are slices of libFuzzer's own buffer, not copies: the last one ends where the buffer
/// does, so a 32- or 8-byte load of the ASCII fast path reading past it hits AddressSanitizer's redzone.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUTF8Validator(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(UnsafeRawBufferPointer(start: data, count: size))
    let firstSeed = input.uint16()
    let secondSeed = input.uint16()
    let bytes = input.body

    let expectedValid = ReferenceUTF8.isValid(bytes)
    require(UTF8Validator.isValid(bytes) == expectedValid, "isValid is \(!expectedValid) for \(describe(bytes))")
    require(UTF8Validator.isValid(Array(bytes)) == expectedValid, "isValid([UInt8]) disagrees for \(describe(bytes))")
    let expected = ReferenceUTF8.firstImpossibleByte(bytes)

    var whole = UTF8Validator()
    let wholeFailure = whole.feed(bytes)
    check(whole, failure: wholeFailure, fed: bytes.count, expected: expected, bytes, "whole")

    let (first, rest) = split(bytes, at: firstSeed)
    let (second, third) = split(rest, at: secondSeed)
    var pieces = UTF8Validator()
    var piecesFailure: Int?
    var fed = 0
    for piece in [first, second, third] {
        piecesFailure = pieces.feed(piece)
        if piecesFailure != nil { break }
        fed += piece.count
    }
    check(pieces, failure: piecesFailure, fed: fed, expected: expected, bytes,
          "in pieces of \(first.count), \(second.count), \(third.count)")
    return 0
}

func check(_ validator: UTF8Validator, failure: Int?, fed: Int, expected: (offset: Int?, endsInside: Bool),
           _ bytes: UnsafeRawBufferPointer, _ how: String) {
    require(failure == expected.offset,
            "\(how): fails at \(String(describing: failure)), expected \(String(describing: expected.offset)) for \(describe(bytes))")
    guard failure == nil else { return }
    require(validator.isComplete == !expected.endsInside, "\(how): isComplete \(validator.isComplete) for \(describe(bytes))")
    require(validator.count == fed, "\(how): count \(validator.count) after \(fed) bytes")
}
