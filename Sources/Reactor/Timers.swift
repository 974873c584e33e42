/// Identifies a scheduled timer so it can be cancelled. Cancelling one that already fired
/// or was cancelled does nothing.
public struct TimerID: Hashable, Sendable {
    @usableFromInline
    let slot: UInt32
    @usableFromInline
    let generation: UInt32
}

/// Timers as a binary min-heap keyed by deadline, with lazy cancellation.
///
/// The heap holds small plain entries; the actions live in a slot table indexed by
/// `TimerID.slot`, with a free list. Cancelling frees the slot at once and leaves the heap
/// entry behind; its generation no longer matches, so it is dropped when it reaches the
/// top. When dead entries outnumber live ones the heap is filtered and rebuilt in place
/// (amortised O(1) per cancel), so a connection that re-arms its keepalive timer on every
/// message cannot grow the heap without bound. Scheduling allocates nothing beyond the
/// closure once the arrays have grown to their working size.
///
/// Deadlines are nanoseconds since the loop's epoch, so comparisons are plain Int64.
/// Equal deadlines fire in scheduling order.
struct TimerQueue {
    struct Entry {
        var deadline: Int64
        var sequence: UInt64
        var slot: UInt32
        var generation: UInt32

        @inline(__always)
        func fires(before other: Entry) -> Bool {
            self.deadline < other.deadline || (self.deadline == other.deadline && self.sequence < other.sequence)
        }
    }

    struct Slot {
        var generation: UInt32 = 0
        var action: (() -> Void)?
    }

    private var heap: [Entry] = []
    private var slots: [Slot] = []
    private var freeSlots: [UInt32] = []
    /// Heap entries whose slot was cancelled.
    private var dead = 0
    private(set) var nextSequence: UInt64 = 0

    /// Timers scheduled and neither fired nor cancelled.
    var count: Int {
        self.heap.count - self.dead
    }

    mutating func schedule(deadline: Int64, _ action: @escaping () -> Void) -> TimerID {
        let slot: UInt32
        if let free = self.freeSlots.popLast() {
            slot = free
            self.slots[Int(slot)].action = action
        } else {
            slot = UInt32(self.slots.count)
            self.slots.append(Slot(generation: 0, action: action))
        }
        let generation = self.slots[Int(slot)].generation
        let entry = Entry(deadline: deadline, sequence: self.nextSequence, slot: slot, generation: generation)
        self.nextSequence &+= 1
        self.heap.append(entry)
        self.siftUp(self.heap.count - 1)
        return TimerID(slot: slot, generation: generation)
    }

    mutating func cancel(_ id: TimerID) {
        let index = Int(id.slot)
        guard index < self.slots.count, self.slots[index].generation == id.generation,
            self.slots[index].action != nil
        else { return }
        self.release(index)
        self.dead += 1
        if self.dead > 64 && self.dead * 2 > self.heap.count {
            self.compact()
        }
    }

    /// The earliest live deadline, dropping dead entries on top.
    mutating func earliestDeadline() -> Int64? {
        while let top = self.heap.first {
            if self.isLive(top) {
                return top.deadline
            }
            self.removeTop()
            self.dead -= 1
        }
        return nil
    }

    /// Removes and returns the action of the earliest timer due at `now`, if it was
    /// scheduled before `sequenceLimit`. The limit keeps a timer that re-arms itself with a
    /// zero delay from starving the loop: it fires in the next iteration.
    mutating func popExpired(now: Int64, sequenceLimit: UInt64) -> (() -> Void)? {
        while let top = self.heap.first, top.deadline <= now, top.sequence < sequenceLimit {
            self.removeTop()
            guard self.isLive(top) else {
                self.dead -= 1
                continue
            }
            let action = self.slots[Int(top.slot)].action
            self.release(Int(top.slot))
            return action
        }
        return nil
    }

    @inline(__always)
    private func isLive(_ entry: Entry) -> Bool {
        self.slots[Int(entry.slot)].generation == entry.generation
    }

    private mutating func release(_ slot: Int) {
        self.slots[slot].action = nil
        self.slots[slot].generation &+= 1
        self.freeSlots.append(UInt32(slot))
    }

    private mutating func compact() {
        let slots = self.slots
        self.heap.removeAll { slots[Int($0.slot)].generation != $0.generation }
        self.dead = 0
        var index = self.heap.count / 2
        while index > 0 {
            index -= 1
            self.siftDown(index)
        }
    }

    private mutating func removeTop() {
        let last = self.heap.removeLast()
        if !self.heap.isEmpty {
            self.heap[0] = last
            self.siftDown(0)
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        let entry = self.heap[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard entry.fires(before: self.heap[parent]) else { break }
            self.heap[child] = self.heap[parent]
            child = parent
        }
        self.heap[child] = entry
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let entry = self.heap[parent]
        let count = self.heap.count
        while true {
            var child = 2 * parent + 1
            guard child < count else { break }
            if child + 1 < count && self.heap[child + 1].fires(before: self.heap[child]) {
                child += 1
            }
            guard self.heap[child].fires(before: entry) else { break }
            self.heap[parent] = self.heap[child]
            parent = child
        }
        self.heap[parent] = entry
    }
}

extension EventLoop {
    /// Runs `action` on the loop thread once `delay` has passed, measured from the loop's
    /// cached `now`.
    ///
    /// The loop wakes no earlier than the deadline (epoll's millisecond timeout is rounded
    /// up), so a timer fires up to about a millisecond late, never early. Timers fire after
    /// the iteration's I/O events and before `runSoon` actions.
    /// - Returns: an identifier for `cancel`.
    @discardableResult
    public func schedule(after delay: Duration, _ action: @escaping () -> Void) -> TimerID {
        self.assertOnLoopThread()
        return self.timers.schedule(deadline: self.nowNanoseconds.addingSaturating(delay.saturatingNanoseconds), action)
    }

    /// Runs `action` on the loop thread at `deadline` (or in the next iteration if it has passed).
    @discardableResult
    public func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping () -> Void) -> TimerID {
        self.assertOnLoopThread()
        return self.timers.schedule(deadline: (deadline - self.epoch).saturatingNanoseconds, action)
    }

    /// Cancels a timer; nothing happens if it already fired or was cancelled.
    public func cancel(_ id: TimerID) {
        self.assertOnLoopThread()
        self.timers.cancel(id)
    }

    /// Timers scheduled and neither fired nor cancelled.
    public var pendingTimerCount: Int {
        self.timers.count
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to the Int64 range (about 292 years).
    var saturatingNanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow {
            return seconds < 0 ? .min : .max
        }
        return scaled.addingSaturating(attoseconds / 1_000_000_000)
    }
}

extension Int64 {
    func addingSaturating(_ other: Int64) -> Int64 {
        let (sum, overflow) = self.addingReportingOverflow(other)
        if overflow {
            return other < 0 ? .min : .max
        }
        return sum
    }
}
