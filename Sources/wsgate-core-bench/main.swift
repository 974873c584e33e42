// Throughput of the protocol core alone: no sockets, no syscalls. A benchmark, not a test: run it
// in a release build, `swift run -c release wsgate-core-bench`.
import Glibc
import WebSocket

/// Runs `body` repeatedly for about `seconds` and returns (iterations, elapsed seconds).
func measure(seconds: Double = 1.0, _ body: () -> Void) -> (Int, Double) {
    for _ in 0..<3 { body() }  // warm up caches and the allocator
    let clock = ContinuousClock()
    let start = clock.now
    var iterations = 0
    var elapsed = 0.0
    repeat {
        body()
        iterations += 1
        let duration = clock.now - start
        elapsed = Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    } while elapsed < seconds
    return (iterations, elapsed)
}

func report(_ name: String, frames: Int, payloadBytes: Int, iterations: Int, elapsed: Double) {
    let framesPerSecond = Double(frames * iterations) / elapsed
    let megabytesPerSecond = Double(payloadBytes * iterations) / elapsed / 1e6
    let nanosecondsPerFrame = 1e9 / framesPerSecond
    let line = name + String(repeating: " ", count: max(1, 34 - name.count))
        + "\(format(framesPerSecond / 1e6, 2)) M frames/s  \(format(megabytesPerSecond, 0)) MB/s  "
        + "\(format(nanosecondsPerFrame, 1)) ns/frame"
    print(line)
}

func format(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = Double(Int(value * scale + 0.5)) / scale
    var text = String(rounded)
    if decimals == 0, text.hasSuffix(".0") { text.removeLast(2) }
    return text
}

/// A buffer of `count` masked client frames of `size` bytes, as a server reads them.
func maskedFrames(count: Int, size: Int, opcode: Opcode) -> [UInt8] {
    let payload = [UInt8](repeating: UInt8(ascii: "a"), count: size)
    var buffer: [UInt8] = []
    for index in 0..<count {
        let key = MaskingKey(UInt8(index & 0xFF), 0x5A, 0xC3, 0x17)
        payload.withUnsafeBytes { FrameEncoder.append(opcode: opcode, payload: $0, mask: key, to: &buffer) }
    }
    return buffer
}

func benchDecode(size: Int, count: Int, opcode: Opcode) {
    let wire = maskedFrames(count: count, size: size, opcode: opcode)
    var scratch = wire
    let connection = Connection(side: .server, configuration: .init(maxMessageSize: 1 << 24))
    var received = 0
    let (iterations, elapsed) = measure {
        scratch.withUnsafeMutableBytes { scratchBytes in
            wire.withUnsafeBytes { scratchBytes.copyMemory(from: $0) }
            connection.receive(mutating: scratchBytes)
        }
        received += connection.takeEvents().count
    }
    precondition(received == iterations * count + 3 * count, "every frame decoded")
    report("decode+unmask \(opcode) \(size) B", frames: count, payloadBytes: count * size, iterations: iterations,
           elapsed: elapsed)
}

func benchEncode(size: Int, count: Int, side: Connection.Side) {
    let text = String(repeating: "a", count: size)
    let connection = Connection(side: side)
    var written = 0
    let (iterations, elapsed) = measure {
        for _ in 0..<count { try! connection.send(text: text) }
        for case .bytes(let bytes) in connection.takeOutput() { written += bytes.count }
    }
    precondition(written > 0)
    let what = side == .server ? "encode server (unmasked)" : "encode client (masked)"
    report("\(what) \(size) B", frames: count, payloadBytes: count * size, iterations: iterations, elapsed: elapsed)
}

let only = CommandLine.arguments.dropFirst().first  // "handshake": that benchmark alone
if only == "handshake" {
    benchHandshake()
    exit(0)
}
print("wsgate-core-bench: the protocol core alone, one thread, payloads in memory")
benchDecode(size: 32, count: 10_000, opcode: .binary)
benchDecode(size: 32, count: 10_000, opcode: .text)
benchDecode(size: 64 * 1024, count: 16, opcode: .binary)
benchDecode(size: 64 * 1024, count: 16, opcode: .text)
benchEncode(size: 32, count: 10_000, side: .server)
benchEncode(size: 32, count: 10_000, side: .client)
benchEncode(size: 64 * 1024, count: 16, side: .server)
benchEncode(size: 64 * 1024, count: 16, side: .client)
benchHandshake()

/// The server's handshake alone: parse a browser-like request head, check it, build and serialize the 101.
func benchHandshake() {
    let request = Array(("GET /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
        + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        + "Origin: http://127.0.0.1:8080\r\nSec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate\r\n"
        + "Cache-Control: no-cache\r\n\r\n").utf8)
    let handshake = ServerHandshake()
    var written = 0
    // Thread CPU time, not wall time: the figure holds on a machine busy with other work.
    func cpuSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
    let iterations = 200
    let start = cpuSeconds()
    for _ in 0..<iterations {
        for _ in 0..<1000 {
            var parser = HTTPHeadParser(kind: .request)
            guard let (head, _) = try? parser.feed(request), case .success(let accepted) = handshake.accept(head)
            else { fatalError("handshake refused") }
            written += accepted.response.serialized().count + (head.path?.utf8.count ?? 0)
        }
    }
    let elapsed = cpuSeconds() - start
    precondition(written > 0)
print("handshake (parse, accept, 101)     \(format(elapsed / Double(iterations * 1000) * 1e9, 0)) ns each")
}
