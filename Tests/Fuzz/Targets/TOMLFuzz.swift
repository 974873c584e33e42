/// The configuration file's TOML subset: `TOMLParser` and `TOMLWriter`.
///
/// Input: a document. Properties:
/// - no crash, no hang, whatever the bytes;
/// - a refusal names a line of the input (1 up to its number of lines);
/// - every key of an accepted document has a line of the input;
/// - an accepted document, written back, parses to an equal document, and writing that again
///   gives the same text (the writer and the parser agree on every value the parser accepts).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTOML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    let lines = bytes.count { $0 == 0x0A } + 1
    let document: TOMLTable
    do throws(TOMLError) {
        document = try TOMLParser.parse(bytes)
    } catch {
        require((1...lines).contains(error.line), "error on line \(error.line) of \(lines): \(error) in \(describe(bytes))")
        return 0
    }
    checkLines(document, lines: lines, in: bytes)
    let written = TOMLWriter.render(document)
    do throws(TOMLError) {
        let again = try TOMLParser.parse(written)
        require(again == document, "written back as \(describe(Array(written.utf8))), it reads differently")
        require(TOMLWriter.render(again) == written, "writing \(describe(Array(written.utf8))) again changes it")
    } catch {
        require(false, "written back as \(describe(Array(written.utf8))), it is refused: \(error)")
    }
    return 0
}

func checkLines(_ table: TOMLTable, lines: Int, in bytes: [UInt8]) {
    require((1...lines).contains(table.line), "a table on line \(table.line) of \(lines) in \(describe(bytes))")
    for entry in table.entries {
        require((1...lines).contains(entry.line), "key '\(entry.key)' on line \(entry.line) of \(lines) in \(describe(bytes))")
        checkLines(entry.value, lines: lines, in: bytes)
    }
}

func checkLines(_ value: TOMLValue, lines: Int, in bytes: [UInt8]) {
    switch value {
    case .table(let table): checkLines(table, lines: lines, in: bytes)
    case .array(let elements): for element in elements { checkLines(element, lines: lines, in: bytes) }
    default: break
    }
}
