import Testing

@testable import Gateway

/// The configuration file's TOML subset: every accepted form, and every refusal with its line.
@Suite("TOML subset parser")
struct TOMLParserTests {
    static func parse(_ text: String) throws -> TOMLTable { try TOMLParser.parse(text) }

    static func table(_ pairs: [(String, TOMLValue)]) -> TOMLValue {
        var table = TOMLTable(line: 1, origin: .inline)
        table.entries = pairs.map { .init(key: $0.0, value: $0.1, line: 1) }
        return .table(table)
    }

    /// (text, key, expected value) for a single `key = value` document.
    static let values: [(String, TOMLValue)] = [
        (#"a = "plain""#, .string("plain")),
        (#"a = """#, .string("")),
        (#"a = "tab\there \"q\" back\\slash""#, .string("tab\there \"q\" back\\slash")),
        (#"a = "\b\f\n\r""#, .string("\u{08}\u{0C}\n\r")),
        (#"a = "\u00E9\U0001F600""#, .string("é😀")),
        ("a = \"raw\ttab\"", .string("raw\ttab")),
        (#"a = 'C:\path\no escapes'"#, .string(#"C:\path\no escapes"#)),
        ("a = ''", .string("")),
        ("a = \"日本\"", .string("日本")),
        ("a = 0", .integer(0)),
        ("a = 42", .integer(42)),
        ("a = +7", .integer(7)),
        ("a = -17", .integer(-17)),
        ("a = -0", .integer(0)),
        ("a = 1_000_000", .integer(1_000_000)),
        ("a = 9223372036854775807", .integer(Int.max)),
        ("a = -9223372036854775808", .integer(Int.min)),
        ("a = true", .boolean(true)),
        ("a = false", .boolean(false)),
        ("a = []", .array([])),
        ("a = [1, 2, 3]", .array([.integer(1), .integer(2), .integer(3)])),
        ("a = [\"x\", 'y', ]", .array([.string("x"), .string("y")])),
        ("a = [1, \"mixed\", [true]]", .array([.integer(1), .string("mixed"), .array([.boolean(true)])])),
        ("a = [\n  1, # one\n\n  2 # two\n]", .array([.integer(1), .integer(2)])),
        ("a = {}", table([])),
        ("a = { x = 1, \"y z\" = 'w' }", table([("x", .integer(1)), ("y z", .string("w"))])),
        ("a = { x.y = 1 }", table([("x", table([("y", .integer(1))]))])),
        ("a = [{ p = 1 }, { p = 2 }]", .array([table([("p", .integer(1))]), table([("p", .integer(2))])])),
        ("a=1#tight", .integer(1)),
        ("  a   =   \"spaced\"   # comment", .string("spaced")),
        ("\"a\" = 1", .integer(1)),
        ("'a' = 1", .integer(1)),
    ]

    @Test(arguments: values)
    func acceptsValue(_ text: String, _ expected: TOMLValue) throws {
        let document = try Self.parse(text)
        #expect(document.keys == ["a"])
        #expect(document["a"]?.value == expected)
        // Written back and read again, it is the same document.
        #expect(try Self.parse(TOMLWriter.render(document)) == document)
    }

    @Test func acceptsTablesArraysOfTablesAndLines() throws {
        let text = """
            # a comment line
            port = 8080\r
            name = "gw"

            [logging]
            level = "info"

            [[route]]
            path = "/a"
            env = { A = "1" }

            [[route]]   # second
            path = "/b"
            [route.env]
            B = "2"

            [deep.er]
            x.y = 1
            x.z = 2
            """
        let document = try Self.parse(text)
        #expect(document.keys == ["port", "name", "logging", "route", "deep"])
        #expect(document["port"]?.line == 2)
        #expect(document["logging"]?.line == 5)
        guard case .array(let routes) = document["route"]?.value, routes.count == 2,
              case .table(let first) = routes[0], case .table(let second) = routes[1]
        else {
            Issue.record("route is not an array of two tables")
            return
        }
        #expect(first.line == 8 && second.line == 12)
        #expect(first["path"]?.value == .string("/a") && first["path"]?.line == 9)
        #expect(first["env"]?.value == Self.table([("A", .string("1"))]))
        #expect(second["env"]?.value == Self.table([("B", .string("2"))]))
        #expect(second["env"]?.line == 14)
        guard case .table(let deep) = document["deep"]?.value, case .table(let er) = deep["er"]?.value else {
            Issue.record("deep.er is not a table")
            return
        }
        #expect(er["x"]?.value == Self.table([("y", .integer(1)), ("z", .integer(2))]))
        #expect(try Self.parse(TOMLWriter.render(document)) == document)
    }

    @Test func acceptsAnImplicitTableDefinedLater() throws {
        let document = try Self.parse("[a.b]\nx = 1\n[a]\ny = 2\n")
        guard case .table(let a) = document["a"]?.value else { throw TestFailure("no a") }
        #expect(a.keys == ["b", "y"])
        #expect(try Self.parse("").entries.isEmpty)
        #expect(try Self.parse("\n\n# only comments\n").entries.isEmpty)
    }

    /// (text, line of the error, words the message contains).
    static let errors: [(String, Int, String)] = [
        ("a = 1\na = 2", 2, "duplicate key 'a' (first set on line 1)"),
        ("a.b = 1\na.b = 2", 2, "duplicate key 'a.b'"),
        ("[t]\n[t]", 2, "[t]: the table is already defined (line 1)"),
        ("a = 1\n[a]", 2, "'a' is already an integer (line 1)"),
        ("a = 1\n[[a]]", 2, "'a' is already an integer"),
        ("[t]\n[[t]]", 2, "[[t]]: the table is already defined"),
        ("a = []\n[[a]]", 2, "'a' is already an array"),
        ("a = [{x = 1}]\n[[a]]", 2, "'a' is already an array"),
        ("a = {x = 1}\n[a.b]", 2, "cannot add to the table 'a'"),
        ("a = {x = 1}\na.y = 2", 2, "cannot add to the table 'a'"),
        ("[a]\nb = 1\n[a.b.c]", 3, "'b' is already an integer"),
        ("[a.b]\n[a]\nb.c = 1", 3, "cannot add to the table 'b'"),
        ("a.b = 1\n[a]", 2, "[a]: the table is already defined"),
        ("a = ", 1, "expected a value, found the end of the file"),
        ("a = \n", 1, "expected a value, found the end of the line"),
        ("a", 1, "expected '=' after the key 'a'"),
        ("a b = 1", 1, "expected '=' after the key 'a'"),
        ("= 1", 1, "expected a key, found '='"),
        ("a. = 1", 1, "expected a key"),
        ("x = 1\na = 1 2", 2, "expected the end of the line, found '2'"),
        ("a = \"open", 1, "the string is not closed on its line"),
        ("a = \"open\nb = 1", 1, "the string is not closed on its line"),
        ("a = 'open", 1, "the string is not closed on its line"),
        (#"a = "\q""#, 1, #"unknown escape '\q'"#),
        (#"a = "\u12""#, 1, #"\u needs 4 hexadecimal digits"#),
        (#"a = "\uD800""#, 1, "is not a Unicode scalar value"),
        (#"a = "\U00110000""#, 1, "is not a Unicode scalar value"),
        ("a = \"bell\u{07}\"", 1, "control character 0x07 in a string"),
        ("a = 'bell\u{07}'", 1, "control character 0x07 in a literal string"),
        ("a = 1 # bell\u{07}", 1, "control character 0x07 in a comment"),
        ("\n\na = \"\"\"multi\"\"\"", 3, "multi-line strings are not supported"),
        ("a = '''multi'''", 1, "multi-line strings are not supported"),
        ("a = 1.5", 1, "floats are not supported"),
        ("a = 1e5", 1, "floats are not supported"),
        ("a = inf", 1, "floats are not supported"),
        ("a = -nan", 1, "floats are not supported"),
        ("a = 1979-05-27", 1, "dates and times are not supported"),
        ("a = 07:32:00", 1, "dates and times are not supported"),
        ("a = 0xFF", 1, "only decimal integers are supported"),
        ("a = 0o7", 1, "only decimal integers are supported"),
        ("a = 007", 1, "no leading zeros"),
        ("a = 1__0", 1, "'_' only between digits"),
        ("a = 10_", 1, "'_' only between digits"),
        ("a = -", 1, "is not an integer"),
        ("a = 9223372036854775808", 1, "out of range"),
        ("a = tru", 1, "expected a value, found 'tru'"),
        ("a = yes", 1, "expected a value, found 'y'"),
        ("a = [1 2]", 1, "expected ',' or ']' in the array, found '2'"),
        ("a = [1,\n2,\n", 1, "the array opened on this line is not closed"),
        ("a = [,]", 1, "expected a value, found ','"),
        ("a = { x = 1", 1, "an inline table must be closed on the line it opens"),
        ("a = { x = 1,\n y = 2 }", 1, "expected a key, found the end of the line"),
        ("a = { x = 1 y = 2 }", 1, "expected ',' or '}' in the inline table, found 'y'"),
        ("a = { x = 1, x = 2 }", 1, "duplicate key 'x'"),
        ("[t", 1, "expected ']' to end the header [t]"),
        ("[[t]", 1, "expected ']]' to end the header [[t]]"),
        ("[]", 1, "expected a key, found ']'"),
        ("[t] x = 1", 1, "expected the end of the line, found 'x'"),
        ("a = 1\rb = 2", 1, "expected the end of the line"),
        ("a = 1\n\u{FF} = 1", 2, "expected a key, found 0xC3"),
    ]

    @Test(arguments: errors)
    func refuses(_ text: String, _ line: Int, _ message: String) {
        do throws(TOMLError) {
            let document = try TOMLParser.parse(text)
            Issue.record("accepted \(text.debugDescription) as \(TOMLWriter.render(document))")
        } catch {
            #expect(error.line == line, "\(text.debugDescription): \(error)")
            #expect(error.message.contains(message), "\(text.debugDescription): \(error)")
        }
    }

    @Test func invalidUTF8IsRefusedWithItsLine() {
        let bytes: [UInt8] = Array("a = 1\nb = \"".utf8) + [0xC3, 0x28] + Array("\"\n".utf8)
        #expect(throws: TOMLError(line: 2, "the file is not valid UTF-8")) { try TOMLParser.parse(bytes) }
    }

    @Test func writerEscapesWhatItMust() throws {
        let text = "a = \"q\\\" b\\\\ c\\u0001 d\\u007F e\\n\"\n"
        let document = try Self.parse(text)
        #expect(TOMLWriter.render(document) == text)
    }
}
