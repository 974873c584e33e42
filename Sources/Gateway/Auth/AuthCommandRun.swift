import Reactor

/// One run of an `auth = command:PROGRAM` check, on the loop thread: reads the first line of the
/// program's stdout, waits for its exit, and kills its process group if it is still running after
/// the timeout. The program was started off the loop thread (`SpawnWorkers`); stdin is /dev/null,
/// stderr goes to wsgate's own.
final class AuthCommandRun {
    /// How a run ended: the exit status (nil after the timeout) and the first stdout line.
    struct Outcome {
        var status: ChildProcess.ExitStatus?
        var firstLine: String
    }

    /// The most of stdout that is kept; the rest is read and dropped.
    static let outputLimit = 4096

    private let child: ChildProcess
    private let output: PipeWatcher?
    private let loop: EventLoop
    private var bytes: [UInt8] = []
    private var timer: TimerID?
    private var timedOut = false
    private var completion: ((Outcome) -> Void)?

    /// Watches `child` on `loop`; `completion` runs once, on the loop thread.
    init(child: ChildProcess, loop: EventLoop, timeout: Duration, completion: @escaping (Outcome) -> Void) {
        self.child = child
        self.loop = loop
        self.output = child.standardOutput.map(PipeWatcher.init)
        self.completion = completion
        self.output?.onReady = { [unowned self] _ in self.readOutput() }
        do {
            try self.output?.watch(in: loop, .readable)
            try child.onExit(in: loop) { [self] _ in self.exited() }
        } catch {
            // Not watched: kill it and wait here, which is brief after SIGKILL.
            try? child.signalGroup(.kill)
            _ = try? child.waitForExit()
            self.output?.close(in: loop)
            child.close()
            loop.runSoon { completion(Outcome(status: nil, firstLine: "")) }
            self.completion = nil
            return
        }
        self.timer = loop.schedule(after: timeout) { [self] in
            self.timer = nil
            self.timedOut = true
            try? self.child.signalGroup(.kill)
        }
    }

    private func readOutput() {
        guard let output = self.output, !output.isClosed else { return }
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let result = try? scratch.withUnsafeMutableBytes { try output.end.read(into: $0) }
            switch result {
            case .processed(let count) where count > 0:
                self.bytes += scratch[..<min(count, max(0, Self.outputLimit - self.bytes.count))]
            case .wouldBlock:
                return
            default:  // end of output, or an error: nothing more to read
                output.close(in: self.loop)
                return
            }
        }
    }

    private func exited() {
        // Whatever the program wrote before exiting is in the pipe now; a background process that
        // still holds stdout open is not waited for.
        self.readOutput()
        self.output?.close(in: self.loop)
        if let timer = self.timer { self.loop.cancel(timer) }
        let status = self.timedOut ? nil : self.child.exitStatus
        self.child.close()
        let line = self.bytes.split(separator: UInt8(ascii: "\n"), maxSplits: 1, omittingEmptySubsequences: false).first
        self.completion?(Outcome(status: status, firstLine: String(decoding: line ?? [], as: UTF8.self)))
        self.completion = nil
    }

    var pid: Int32 { self.child.pid }
}
