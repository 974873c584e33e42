/// The outcome of a non-blocking operation: it did something, or it would have blocked.
///
/// EAGAIN is not an error on a non-blocking descriptor, so it is not thrown.
public enum IOResult<T> {
    case processed(T)
    case wouldBlock
}

extension IOResult: Sendable where T: Sendable {}
extension IOResult: Equatable where T: Equatable {}
