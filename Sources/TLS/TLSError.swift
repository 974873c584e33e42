import COpenSSL

/// Why OpenSSL refused something: a file it could not load, a handshake it failed, a record it rejected.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    /// `what`, then OpenSSL's own reason from this thread's error queue (which it clears), if any.
    static func openSSL(_ what: String) -> TLSError {
        let reason = Self.takeOpenSSLReason()
        return TLSError(reason.isEmpty ? what : "\(what): \(reason)")
    }

    /// The last error on this thread's OpenSSL error queue, "" if none; the queue is cleared, so a
    /// failure on one connection never shows up in another's message.
    static func takeOpenSSLReason() -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
            wsgate_tls_last_error(buffer.baseAddress!, buffer.count)
            // "error:0A00010B:SSL routines::wrong version number" → "wrong version number"
            let text = String(cString: buffer.baseAddress!)
            let fields = text.split(separator: ":", maxSplits: 4, omittingEmptySubsequences: false)
            return fields.count == 5 ? String(fields[4]) : text
        }
    }
}
