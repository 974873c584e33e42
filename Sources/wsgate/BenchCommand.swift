import Client
import Glibc

/// `wsgate bench URL [-c N] [-n N | -d DUR] [-s SIZE] [-p N] [--text|--binary] [--churn] [--json]`
func runBench(_ arguments: [String]) -> Int32 {
    var url: WebSocketURL?
    var options: LoadGenerator.Options?
    var json = false
    var connections = 1, inFlight = 1, size = 32
    var messages: Int?
    var duration: Duration = .seconds(5)
    var binary = false, churn = false
    var rest = arguments[...]
    do {
        while let argument = rest.popFirst() {
            func value() throws(OptionParser.Failure) -> String {
                guard let value = rest.popFirst() else { throw OptionParser.Failure(description: "\(argument) needs a value") }
                return value
            }
            switch argument {
            case "-c", "--connections": connections = try OptionParser.integer(try value(), flag: argument, range: 1...100_000)
            case "-n", "--messages": messages = try OptionParser.integer(try value(), flag: argument, range: 1...Int.max)
            case "-d", "--duration": duration = try OptionParser.duration(try value(), flag: argument)
            case "-s", "--size": size = try OptionParser.size(try value(), flag: argument)
            case "-p", "--in-flight": inFlight = try OptionParser.integer(try value(), flag: argument, range: 1...100_000)
            case "--text": binary = false
            case "--binary": binary = true
            case "--churn": churn = true
            case "--json": json = true
            case "-h", "--help":
                print(benchUsage, terminator: "")
                return 0
            default:
                guard url == nil, !argument.hasPrefix("-") else {
                    throw OptionParser.Failure(description: "bench: unexpected argument '\(argument)'")
                }
                do {
                    url = try WebSocketURL(argument)
                } catch {
                    throw OptionParser.Failure(description: "bench: \(error)")
                }
            }
        }
        guard let url else { throw OptionParser.Failure(description: "bench: no URL (see wsgate bench --help)") }
        var built = LoadGenerator.Options(url: url)
        built.connections = connections
        built.messages = messages
        built.duration = duration
        built.size = size
        built.inFlight = inFlight
        built.binary = binary
        built.churn = churn
        if isatty(STDERR_FILENO) == 1 && !json {
            let unit = churn ? "sessions" : "messages"
            built.progress = { done, elapsed in
                printError("\r\(done) \(unit) in \(format(elapsed.inSeconds, 1)) s ")
            }
        }
        options = built
    } catch {
        printError("wsgate: \(error)\n")
        return 2
    }
    do {
        let result = try LoadGenerator(options: options!).run()
        if isatty(STDERR_FILENO) == 1 && !json { printError("\r\u{1B}[K") }
        print(json ? benchJSON(result, options!) : benchSummary(result, options!))
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
        ("mb_per_second", format(result.megabytesPerSecond, 3)),
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

let benchUsage = """
    usage: wsgate bench URL [flags]

    Measures an echo endpoint: each connection keeps -p messages in flight and sends the next
    one as each echo returns. With --churn, each connection repeats connect, handshake, one
    round trip and close, and the figures are sessions.

      -c, --connections N   connections at once (default 1)
      -n, --messages N      stop after N round trips in all (default: run for --duration)
      -d, --duration DUR    how long to run (default 5s)
      -s, --size SIZE       message size (default 32)
      -p, --in-flight N     messages outstanding per connection (default 1)
      --text | --binary     message type (default text)
      --churn               connect-churn mode
      --json                one JSON object instead of the summary

    """
