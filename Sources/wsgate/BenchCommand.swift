import Client
import Glibc

/// `wsgate bench URL [-c N] [-n N | -d DUR] [-s SIZE] [-p N] [--text|--binary] [--churn] [--json]`
func runBench(_ arguments: [String]) -> Int32 {
    let commandLine = benchCommandLine
    var options: LoadGenerator.Options?
    var json = false
    let status = withCommandLine(commandLine, arguments) { parsed throws(OptionParser.Failure) in
        guard parsed.positional.count <= 1 else {
            throw OptionParser.Failure(description: "bench: unexpected argument '\(parsed.positional[1])'")
        }
        guard let text = parsed.positional.first else {
            throw OptionParser.Failure(description: "bench: no URL (see wsgate bench --help)")
        }
        let url: WebSocketURL
        do {
            url = try WebSocketURL(text)
        } catch {
            throw OptionParser.Failure(description: "bench: \(error)")
        }
        var built = LoadGenerator.Options(url: url)
        func integer(_ flag: String, _ range: ClosedRange<Int>) throws(OptionParser.Failure) -> Int? {
            guard let value = parsed.value(flag) else { return nil }
            return try OptionParser.integer(value, flag: flag, range: range)
        }
        built.connections = try integer("--connections", 1...100_000) ?? 1
        built.messages = try integer("--messages", 1...Int.max)
        built.inFlight = try integer("--in-flight", 1...100_000) ?? 1
        if let value = parsed.value("--duration") { built.duration = try OptionParser.duration(value, flag: "--duration") }
        if let value = parsed.value("--size") { built.size = try OptionParser.size(value, flag: "--size") }
        // The last of --text and --binary wins.
        built.binary = parsed.flags.last { $0.name == "--text" || $0.name == "--binary" }?.name == "--binary"
        built.churn = parsed.has("--churn")
        if url.secure { built.tls = try tlsContext(parsed) }
        if parsed.has("--compression") { built.compression = .clientDefaults }
        json = parsed.has("--json")
        if isatty(STDERR_FILENO) == 1 && !json {
            let unit = built.churn ? "sessions" : "messages"
            built.progress = { done, elapsed in
                printError("\r\(done) \(unit) in \(format(elapsed.inSeconds, 1)) s ")
            }
        }
        options = built
        return 0
    }
    guard let options else { return status }
    do {
        let result = try LoadGenerator(options: options).run()
        if isatty(STDERR_FILENO) == 1 && !json { printError("\r\u{1B}[K") }
        print(json ? benchJSON(result, options) : benchSummary(result, options))
        return result.errors.isEmpty ? 0 : 1
    } catch {
        printError("wsgate bench: \(error)\n")
        return 1
    }
}

func benchSummary(_ result: LoadGenerator.Result, _ options: LoadGenerator.Options) -> String {
    let unit = options.churn ? "sessions" : "messages"
    let mode = options.binary ? "binary" : "text"
    let churn = options.churn ? " churn" : ""
    let header = "\(options.url) connections=\(options.connections) in_flight=\(options.churn ? 1 : options.inFlight) "
        + "size=\(options.size) \(mode)\(churn)"
    let seconds = format(result.elapsed.inSeconds, 2)
    let rate = format(result.perSecond, 0)
    let throughput = format(result.megabytesPerSecond, 2)
    let totals = "\(result.completed) \(unit) in \(seconds) s: \(rate) \(unit)/s, \(throughput) MB/s"
    let p50 = result.percentile(50), p90 = result.percentile(90), p99 = result.percentile(99)
    let latency = "latency us: p50=\(p50) p90=\(p90) p99=\(p99) max=\(result.latencies.last ?? 0)"
    var lines = [header, totals, latency, "errors: \(result.errors.count)"]
    lines.append(contentsOf: result.errors.prefix(5).map { "  \($0)" })
    return lines.joined(separator: "\n")
}

func benchJSON(_ result: LoadGenerator.Result, _ options: LoadGenerator.Options) -> String {
    func quoted(_ text: String) -> String {
        "\"" + text.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
    }
    let fields: [(String, String)] = [
        ("url", quoted(options.url.description)), ("mode", quoted(options.churn ? "churn" : "echo")),
        ("connections", "\(options.connections)"), ("in_flight", "\(options.inFlight)"), ("size", "\(options.size)"),
        ("binary", "\(options.binary)"), ("completed", "\(result.completed)"),
        ("seconds", format(result.elapsed.inSeconds, 3)), ("per_second", format(result.perSecond, 1)),
        ("mb_per_second", format(result.megabytesPerSecond, 3)), ("wire_bytes", "\(result.wireBytes)"),
        ("latency_us", "{\"p50\":\(result.percentile(50)),\"p90\":\(result.percentile(90)),"
            + "\"p99\":\(result.percentile(99)),\"max\":\(result.latencies.last ?? 0)}"),
        ("errors", "[" + result.errors.map(quoted).joined(separator: ",") + "]"),
    ]
    return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
}

func format(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = Double(Int64(value * scale + 0.5)) / scale
    var text = String(rounded)
    if decimals == 0, text.hasSuffix(".0") { text.removeLast(2) }
    return text
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        self.split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

let benchCommandLine = ClientCommandLine(
    command: "bench", synopsis: "URL [flags]",
    description: """
        Measures an echo endpoint: each connection keeps -p messages in flight and sends the next
        one as each echo returns. With -n, exactly N round trips are made in all (however many
        connections and messages in flight), and the run ends when the last echo is back. With
        --churn, each connection repeats connect, handshake, one round trip and close, and the
        figures (and -n) count sessions. Exit status: 0, or 1 when any connection failed.
        """,
    flags: [
        ClientFlag("-c", "--connections", value: "N", help: "connections at once (default 1)"),
        ClientFlag("-n", "--messages", value: "N", help: "make exactly N round trips in all (default: run for --duration)"),
        ClientFlag("-d", "--duration", value: "DUR", help: "how long to run without -n (default 5s)"),
        ClientFlag("-s", "--size", value: "SIZE", help: "message size (default 32)"),
        ClientFlag("-p", "--in-flight", value: "N", help: "messages outstanding per connection (default 1)"),
        ClientFlag("--text", help: "send text messages (the default)"),
        ClientFlag("--binary", help: "send binary messages"),
        ClientFlag("--churn", help: "connect-churn mode"),
        ClientFlag("--compression", help: "offer permessage-deflate (RFC 7692), as browsers do"),
        ClientFlag("--json", help: "one JSON object instead of the summary"),
    ] + ClientFlag.tls + [ClientFlag.help])
