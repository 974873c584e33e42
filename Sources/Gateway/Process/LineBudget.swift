/// A token bucket for log lines: `perSecond` on average, `burst` at once. A program that floods
/// its stderr gets its first lines logged and the rest counted, so it cannot cost wsgate
/// unbounded disk or CPU. Time is passed in, so the rule is a pure function of its inputs.
struct LineBudget {
    let perSecond: Int
    let burst: Int
    private var tokens: Double
    private var last: ContinuousClock.Instant?

    init(perSecond: Int, burst: Int) {
        precondition(perSecond > 0 && burst > 0)
        self.perSecond = perSecond
        self.burst = burst
        self.tokens = Double(burst)
    }

    /// Takes one line's token if there is one.
    mutating func allow(at now: ContinuousClock.Instant) -> Bool {
        self.refill(at: now)
        guard self.tokens >= 1 else { return false }
        self.tokens -= 1
        return true
    }

    /// Whether no line could be logged at `now`.
    mutating func isExhausted(at now: ContinuousClock.Instant) -> Bool {
        self.refill(at: now)
        return self.tokens < 1
    }

    private mutating func refill(at now: ContinuousClock.Instant) {
        if let last = self.last {
            let elapsed = now - last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            self.tokens = min(Double(self.burst), self.tokens + seconds * Double(self.perSecond))
        }
        self.last = now
    }
}
