extension PerMessageDeflate {
    /// The parameters of one permessage-deflate offer or response, as written (RFC 7692 §7.1).
    public struct Parameters: Equatable, Sendable {
        /// `client_max_window_bits` may come without a value in an offer (RFC 7692 §7.1.2.2).
        public enum ClientWindowBits: Equatable, Sendable {
            case absent, withoutValue, value(Int)
        }

        public var serverNoContextTakeover = false
        public var clientNoContextTakeover = false
        public var serverMaxWindowBits: Int?
        public var clientMaxWindowBits = ClientWindowBits.absent

        public init() {}

        /// Reads a permessage-deflate element, or returns nil when the RFC makes it unacceptable:
        /// an unknown parameter, a parameter given twice, or a bad value (RFC 7692 §7: "the server
        /// MUST decline an extension negotiation offer" with any of them; a client fails instead).
        public init?(_ element: ExtensionOffer) {
            guard element.name == "permessage-deflate" else { return nil }
            var seen: Set<String> = []
            for parameter in element.parameters {
                guard seen.insert(parameter.name).inserted else { return nil }
                switch (parameter.name, parameter.value) {
                case ("server_no_context_takeover", nil): self.serverNoContextTakeover = true
                case ("client_no_context_takeover", nil): self.clientNoContextTakeover = true
                case ("server_max_window_bits", let value?):
                    guard let bits = Self.windowBits(value) else { return nil }
                    self.serverMaxWindowBits = bits
                case ("client_max_window_bits", nil): self.clientMaxWindowBits = .withoutValue
                case ("client_max_window_bits", let value?):
                    guard let bits = Self.windowBits(value) else { return nil }
                    self.clientMaxWindowBits = .value(bits)
                default: return nil
                }
            }
        }

        /// RFC 7692 §7.1.2.1: "a decimal integer value … in the range between 8 to 15, inclusive",
        /// with no leading zeros, sign or spaces.
        static func windowBits(_ text: String) -> Int? {
            guard let bits = Int(text), (8...15).contains(bits), String(bits) == text else { return nil }
            return bits
        }
    }

    /// The server's answer to a request's permessage-deflate offers: the first acceptable one, as
    /// what was agreed and the `Sec-WebSocket-Extensions` value; nil declines them all.
    ///
    /// Choices where the RFC leaves them to the server: it announces `server_no_context_takeover`
    /// whenever it resets its context, so the client can drop its inflate window too; it asks for
    /// `client_no_context_takeover` and a smaller client window only as configured (a smaller
    /// `client_max_window_bits` only when the offer has that parameter, as §7.1.2.2 requires).
    public static func negotiate(offers: [ExtensionOffer], configuration: Configuration)
        -> (agreement: Agreement, response: ExtensionOffer)?
    {
        for offer in offers where offer.name == "permessage-deflate" {
            guard let parameters = Parameters(offer) else { continue }
            // zlib cannot produce raw DEFLATE with an 8-bit window, and compressing with a larger
            // window than agreed is not allowed: an offer that allows only 8 is declined.
            if let bits = parameters.serverMaxWindowBits, bits < 9 { continue }
            var agreement = Agreement()
            var response = ExtensionOffer(name: "permessage-deflate")
            // RFC 7692 §7.1.1.1: a server accepting server_no_context_takeover "MUST include" it.
            if parameters.serverNoContextTakeover || !configuration.contextTakeover {
                agreement.serverNoContextTakeover = true
                response.parameters.append(.init("server_no_context_takeover"))
            }
            if parameters.clientNoContextTakeover || configuration.peerNoContextTakeover {
                agreement.clientNoContextTakeover = true
                response.parameters.append(.init("client_no_context_takeover"))
            }
            let serverBits = min(parameters.serverMaxWindowBits ?? 15, configuration.windowBits)
            agreement.serverMaxWindowBits = serverBits
            // §7.1.2.1: accepting an offer with server_max_window_bits, the response "MUST include" it.
            if parameters.serverMaxWindowBits != nil || serverBits < 15 {
                response.parameters.append(.init("server_max_window_bits", String(serverBits)))
            }
            switch parameters.clientMaxWindowBits {
            case .absent:
                // §7.1.2.2: without the parameter in the offer, the response must not have it.
                agreement.clientMaxWindowBits = 15
            case .withoutValue:
                agreement.clientMaxWindowBits = configuration.peerWindowBits
                if configuration.peerWindowBits < 15 {
                    response.parameters.append(.init("client_max_window_bits", String(configuration.peerWindowBits)))
                }
            case .value(let offered):
                let bits = min(offered, configuration.peerWindowBits)
                agreement.clientMaxWindowBits = bits
                response.parameters.append(.init("client_max_window_bits", String(bits)))
            }
            return (agreement, response)
        }
        return nil
    }

    /// The client's offer for `configuration`: `client_max_window_bits` always (this client can
    /// live with any window the server picks, sending uncompressed at 8 bits), the rest as configured.
    public static func offer(configuration: Configuration) -> ExtensionOffer {
        var offer = ExtensionOffer(name: "permessage-deflate")
        if !configuration.contextTakeover { offer.parameters.append(.init("client_no_context_takeover")) }
        if configuration.peerNoContextTakeover { offer.parameters.append(.init("server_no_context_takeover")) }
        if configuration.peerWindowBits < 15 {
            offer.parameters.append(.init("server_max_window_bits", String(max(9, configuration.peerWindowBits))))
        }
        offer.parameters.append(configuration.windowBits < 15
            ? .init("client_max_window_bits", String(configuration.windowBits)) : .init("client_max_window_bits"))
        return offer
    }

    /// Checks the server's answer to `offer(configuration:)` and returns what was agreed, or nil
    /// when the answer is not one that offer allows (the client must then fail the connection,
    /// RFC 7692 §7.1).
    public static func agreement(accepting response: ExtensionOffer, offered configuration: Configuration)
        -> Agreement?
    {
        let offer = Self.offer(configuration: configuration)
        guard let offered = Parameters(offer), let answer = Parameters(response) else { return nil }
        var agreement = Agreement()
        agreement.serverNoContextTakeover = answer.serverNoContextTakeover
        agreement.clientNoContextTakeover = answer.clientNoContextTakeover
        // §7.1.1.1: a server accepting server_no_context_takeover must say so.
        if offered.serverNoContextTakeover && !answer.serverNoContextTakeover { return nil }
        if let limit = offered.serverMaxWindowBits {
            guard let bits = answer.serverMaxWindowBits, bits <= limit else { return nil }
        }
        agreement.serverMaxWindowBits = answer.serverMaxWindowBits ?? 15
        switch answer.clientMaxWindowBits {
        case .absent:
            if case .value(let bits) = offered.clientMaxWindowBits { agreement.clientMaxWindowBits = bits }
        case .withoutValue:
            return nil  // §7.1.2.2: a response's client_max_window_bits has a value
        case .value(let bits):
            if case .value(let limit) = offered.clientMaxWindowBits, bits > limit { return nil }
            agreement.clientMaxWindowBits = bits
        }
        return agreement
    }
}
