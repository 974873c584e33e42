/// The permessage-deflate extension (RFC 7692) on one connection, after negotiation.
///
/// It compresses whole messages and marks them with RSV1; the frame layer only learns that RSV1 is
/// claimed. Memory is the design constraint, since a deflate stream costs up to 256 KiB:
///
/// - A direction without context takeover keeps no window between messages, so its zlib stream can
///   be shared by every connection of a loop (`SharedStreams`), reset before each message.
/// - A direction with context takeover owns its stream, created on the first compressed message.
///
/// Deliberately not done: compressing fragmented sends (a message sent with `fin: false` goes out
/// uncompressed, which RFC 7692 allows), and streaming inflate across frames (the compressed
/// message is assembled first, bounded by the size limit, then inflated chunk by chunk).
public final class PerMessageDeflate: Extension {
    public let name = "permessage-deflate"
    public let reservedBits = Frame.ReservedBits.rsv1
    /// What the handshake agreed.
    public let agreement: Agreement
    public let side: Connection.Side
    public let configuration: Configuration
    private let shared: SharedStreams?
    private var ownDeflater: Deflater?
    private var ownInflater: Inflater?

    /// What the two endpoints agreed in the handshake, with the RFC's defaults filled in.
    public struct Agreement: Equatable, Sendable {
        public var serverNoContextTakeover = false
        public var clientNoContextTakeover = false
        /// The largest window the server may compress with (8...15).
        public var serverMaxWindowBits = 15
        /// The largest window the client may compress with (8...15).
        public var clientMaxWindowBits = 15

        public init(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                    serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15) {
            self.serverNoContextTakeover = serverNoContextTakeover
            self.clientNoContextTakeover = clientNoContextTakeover
            self.serverMaxWindowBits = serverMaxWindowBits
            self.clientMaxWindowBits = clientMaxWindowBits
        }
    }

    /// How this endpoint compresses and what it asks of the peer. Every default is here.
    public struct Configuration: Equatable, Sendable {
        /// zlib's level, 1 (fastest) to 9 (smallest).
        public var level: Int
        /// zlib's memLevel for compressors, 1...9.
        public var memoryLevel: Int
        /// The window this endpoint compresses with at most, 9...15 (zlib cannot do 8).
        public var windowBits: Int
        /// The window asked of the peer when its offer (or the server's answer) allows, 8...15.
        public var peerWindowBits: Int
        /// Keep the compression context across messages: better ratios, one deflate stream per
        /// connection. Off by default: then one stream per loop serves every connection.
        public var contextTakeover: Bool
        /// Ask the peer to reset its context after each message, so no inflate window is kept per
        /// connection.
        public var peerNoContextTakeover: Bool
        /// Messages shorter than this are sent uncompressed.
        public var threshold: Int

        public init(level: Int = 6, memoryLevel: Int = 8, windowBits: Int = 15, peerWindowBits: Int = 15,
                    contextTakeover: Bool = false, peerNoContextTakeover: Bool = false, threshold: Int = 64) {
            self.level = level
            self.memoryLevel = memoryLevel
            self.windowBits = windowBits
            self.peerWindowBits = peerWindowBits
            self.contextTakeover = contextTakeover
            self.peerNoContextTakeover = peerNoContextTakeover
            self.threshold = threshold
        }
    }

    /// zlib streams that connections without context takeover share: keep one per thread (loop).
    ///
    /// A stream is reset before each message, so sharing is invisible to the peers. Not thread-safe.
    public final class SharedStreams {
        private var deflaters: [DeflaterKey: Deflater] = [:]
        private var inflaters: [Int: Inflater] = [:]

        struct DeflaterKey: Hashable {
            var windowBits: Int, level: Int, memoryLevel: Int
        }

        public init() {}

        func deflater(windowBits: Int, level: Int, memoryLevel: Int) -> Deflater {
            let key = DeflaterKey(windowBits: windowBits, level: level, memoryLevel: memoryLevel)
            if let deflater = self.deflaters[key] { return deflater }
            let deflater = Deflater(windowBits: windowBits, level: level, memoryLevel: memoryLevel)
            self.deflaters[key] = deflater
            return deflater
        }

        func inflater(windowBits: Int) -> Inflater {
            if let inflater = self.inflaters[windowBits] { return inflater }
            let inflater = Inflater(windowBits: windowBits)
            self.inflaters[windowBits] = inflater
            return inflater
        }
    }

    /// - Parameters:
    ///   - shared: where streams without context takeover come from; nil gives this connection its own.
    public init(side: Connection.Side, agreement: Agreement, configuration: Configuration = .init(),
                shared: SharedStreams? = nil) {
        self.side = side
        self.agreement = agreement
        self.configuration = configuration
        self.shared = shared
    }

    /// The window this side compresses with: the configured one within what was agreed.
    public var outgoingWindowBits: Int {
        let agreed = self.side == .server ? self.agreement.serverMaxWindowBits : self.agreement.clientMaxWindowBits
        return min(agreed, self.configuration.windowBits)
    }

    /// Whether this side keeps its compression context across messages.
    public var outgoingContextTakeover: Bool {
        let reset = self.side == .server ? self.agreement.serverNoContextTakeover
            : self.agreement.clientNoContextTakeover
        return !reset && self.configuration.contextTakeover
    }

    var incomingWindowBits: Int {
        self.side == .server ? self.agreement.clientMaxWindowBits : self.agreement.serverMaxWindowBits
    }

    var incomingContextTakeover: Bool {
        !(self.side == .server ? self.agreement.clientNoContextTakeover : self.agreement.serverNoContextTakeover)
    }

    /// Whether messages are compressed at all: an agreed 8-bit window is one zlib cannot produce, so
    /// this side then sends every message uncompressed, which RFC 7692 permits.
    public var compresses: Bool { self.outgoingWindowBits >= 9 }

    /// What decides the compressed bytes of a message when no context is kept between messages.
    public struct SharingKey: Hashable, Sendable {
        public var windowBits: Int
        public var level: Int
        public var memoryLevel: Int
        public var threshold: Int
    }

    /// When every connection with the same key would compress a message to the same bytes (no
    /// context takeover), the key; nil when the compressed bytes depend on this connection's history.
    /// Broadcast uses it to compress a message once for many receivers.
    public var sharingKey: SharingKey? {
        guard self.compresses, !self.outgoingContextTakeover else { return nil }
        return SharingKey(windowBits: self.outgoingWindowBits, level: self.configuration.level,
                          memoryLevel: self.configuration.memoryLevel, threshold: self.configuration.threshold)
    }

    public func decode(message: [UInt8], reservedBits: Frame.ReservedBits, maxSize: Int) throws(ProtocolViolation)
        -> [UInt8]
    {
        let inflater: Inflater
        if !self.incomingContextTakeover, let shared = self.shared {
            inflater = shared.inflater(windowBits: self.incomingWindowBits)
        } else {
            inflater = self.ownInflater ?? Inflater(windowBits: self.incomingWindowBits)
            self.ownInflater = inflater
        }
        if !self.incomingContextTakeover { inflater.reset() }
        do {
            return try inflater.inflate(message, limit: maxSize)
        } catch {
            // The connection fails; a shared stream must not carry this message's state to another.
            if !self.incomingContextTakeover { inflater.reset() }
            switch error {
            case .tooBig: throw .messageTooBig(limit: maxSize)
            case .invalid(let what): throw .invalidCompressedData(what)
            }
        }
    }

    public func encode(message: [UInt8], opcode: Opcode) -> (payload: [UInt8], reservedBits: Frame.ReservedBits) {
        message.withUnsafeBytes { bytes in
            guard let compressed = self.compress(bytes) else { return (message, []) }
            return (compressed, .rsv1)
        }
    }

    /// The compressed payload for `message`, or nil to send it uncompressed: below the threshold,
    /// when this side cannot compress, or (without context takeover) when compressing does not pay.
    public func compress(_ message: UnsafeRawBufferPointer) -> [UInt8]? {
        guard self.compresses, message.count >= self.configuration.threshold else { return nil }
        let deflater: Deflater
        if !self.outgoingContextTakeover, let shared = self.shared {
            deflater = shared.deflater(windowBits: self.outgoingWindowBits, level: self.configuration.level,
                                       memoryLevel: self.configuration.memoryLevel)
        } else {
            deflater = self.ownDeflater ?? Deflater(windowBits: self.outgoingWindowBits,
                                                     level: self.configuration.level,
                                                     memoryLevel: self.configuration.memoryLevel)
            self.ownDeflater = deflater
        }
        // With context takeover the peer's window must see every compressed message, so the result
        // is sent even when it is larger; without, a message that does not shrink goes as it is.
        guard !self.outgoingContextTakeover else { return deflater.compress(message) }
        deflater.reset()
        let compressed = deflater.compress(message)
        return compressed.count < message.count ? compressed : nil
    }
}

extension PerMessageDeflate.Configuration {
    /// What a client offers and does, as browsers do: it keeps its context and compresses every
    /// message (a client has one connection, so memory is not what limits it).
    public static let clientDefaults = PerMessageDeflate.Configuration(contextTakeover: true, threshold: 0)
}
