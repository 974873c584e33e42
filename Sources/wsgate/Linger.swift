/// The wait between end of input and our close frame.
///
/// A server that answers a close at once (python-websockets does) sends nothing after it, so
/// closing right at end of input would lose the replies to the last lines. After the last message
/// sent, the client waits until none has arrived for `quietPeriod`, 10 s at most.
struct Linger {
    let quietPeriod: Duration
    private var quietUntil: ContinuousClock.Instant?
    private var hardDeadline: ContinuousClock.Instant?

    init(quietPeriod: Duration) {
        self.quietPeriod = quietPeriod
    }

    mutating func messageSent() {
        guard self.quietPeriod > .zero else { return }
        self.quietUntil = .now + self.quietPeriod
        self.hardDeadline = .now + .seconds(10)
    }

    mutating func messageArrived() {
        if self.quietUntil != nil { self.quietUntil = .now + self.quietPeriod }
    }

    /// Whether the client may close now.
    var isOver: Bool {
        guard let quietUntil = self.quietUntil, let hardDeadline = self.hardDeadline else { return true }
        let now = ContinuousClock.now
        return now >= quietUntil || now >= hardDeadline
    }

    /// How long `poll` may wait before the linger must be checked again; nil when not lingering.
    var timeout: Duration? {
        guard let quietUntil = self.quietUntil, let hardDeadline = self.hardDeadline, !self.isOver else { return nil }
        return min(quietUntil, hardDeadline) - .now
    }
}
