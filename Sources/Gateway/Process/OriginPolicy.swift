import WebSocket

/// websocketd's `--origin` and `--sameorigin` checks, on the request's Origin header.
///
/// A request without Origin (not a browser) counts as origin "file:", which has no host, so it is
/// refused whenever a policy is set, as websocketd does.
struct OriginPolicy {
    let allowed: [String]?
    let sameOrigin: Bool
    /// Served over TLS: a Host without a port means 443.
    var tls = false

    var isActive: Bool { self.allowed != nil || self.sameOrigin }

    /// nil when the request may connect, else why not.
    func refusal(for request: HTTPHead) -> String? {
        guard self.isActive else { return nil }
        let origin = request["Origin"] ?? "file:"
        let (scheme, hostPart) = Self.split(origin)
        let (originHost, originPort) = CGIEnvironment.hostAndPort(hostPart, tls: scheme == "https", fallbackPort: 80)
        if originHost.isEmpty { return "origin '\(origin)' not allowed" }
        if self.sameOrigin {
            let (host, port) = CGIEnvironment.hostAndPort(request["Host"] ?? "", tls: self.tls, fallbackPort: 80)
            if host.lowercased() != originHost.lowercased() || port != originPort {
                return "origin '\(origin)' is not the same origin as host '\(request["Host"] ?? "")'"
            }
        }
        if let allowed = self.allowed {
            let matches = allowed.contains { entry in
                let (entryScheme, entryHost) = Self.split(entry)
                if !entryScheme.isEmpty && entryScheme != scheme { return false }
                let (host, port) = CGIEnvironment.hostAndPort(entryHost, tls: false, fallbackPort: 80)
                let portGiven = entryHost.hasSuffix(":\(port)")
                return host.lowercased() == originHost.lowercased() && (!portGiven || port == originPort)
            }
            if !matches { return "origin '\(origin)' is not in the allowed list" }
        }
        return nil
    }

    /// "https://example.com:8443/x" → ("https", "example.com:8443"); "example.com" → ("", "example.com").
    static func split(_ text: String) -> (scheme: String, host: String) {
        let parts = text.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            return text.hasSuffix(":") ? (String(text.dropLast()).lowercased(), "") : ("", text)
        }
        return (parts[0].lowercased(), String(parts[1].prefix { $0 != "/" }))
    }
}
