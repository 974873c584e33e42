import Reactor

/// How a program is stopped once its session is over, as a table (websocketd's shape).
///
/// Each step waits its grace, plus `--closems`, for the whole process group to be gone before the
/// next. The first step, closing stdin, already happened when the step list starts; a program that
/// exits on end of input never sees a signal. The timings are websocketd's: 100 ms, 250 ms, 500 ms.
/// Unlike websocketd, the signals go to the program's process group, so a script's own children
/// (`sleep 1000 &`) are stopped with it.
struct TerminationPlan {
    enum Step: Equatable {
        case signal(Signal)
    }

    let steps: [(step: Step, graceBefore: Duration)]

    static func standard(closeGrace: Duration) -> TerminationPlan {
        TerminationPlan(steps: [
            (.signal(.interrupt), .milliseconds(100) + closeGrace),
            (.signal(.terminate), .milliseconds(250) + closeGrace),
            (.signal(.kill), .milliseconds(500) + closeGrace),
        ])
    }
}
