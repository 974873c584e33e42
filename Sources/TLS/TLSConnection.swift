import COpenSSL

/// The BIO method of every connection, made once per process (globals initialise once, atomically).
nonisolated(unsafe) private let bioMethod: OpaquePointer = wsgate_tls_bio_method_new()!

/// One TLS connection, sans-I/O: ciphertext in and out, plaintext in and out, no descriptor.
///
/// The caller hands it the ciphertext it read (`setInput`), which OpenSSL reads in place, without a
/// copy; whatever OpenSSL produces (handshake messages, records, alerts, close_notify) is appended
/// to `pendingOutput` for the caller to write and `consumeOutput`. Writes into it never fail for
/// want of room, so OpenSSL never answers `SSL_ERROR_WANT_WRITE`: the caller bounds what it
/// encrypts by not writing more plaintext until `pendingOutput` has drained. Input the caller gave
/// that OpenSSL has not read yet stays where the caller put it; `keepInput` copies it aside when
/// that memory is about to be reused.
///
/// The handshake runs inside the first reads and writes (`SSL_set_accept_state` or
/// `SSL_set_connect_state`), as in python's `ssl.MemoryBIO` design.
public final class TLSConnection {
    /// What a read or a write came to.
    public enum Result: Equatable {
        /// Plaintext bytes read or written.
        case bytes(Int)
        /// OpenSSL needs more ciphertext first.
        case wantsInput
        /// The peer sent close_notify: the end of its stream.
        case closed
        case failed(String)
    }

    let ssl: OpaquePointer
    private let io: UnsafeMutablePointer<wsgate_tls_io>
    /// Input copied aside by `keepInput`, which `io.input` points into while any of it is left.
    private var keptInput: UnsafeMutableRawBufferPointer?
    public let context: TLSContext

    /// - Parameter serverName: for a client, the server's name: sent as SNI (RFC 6066 §3, never an
    ///   IP address) and checked against the certificate when the context verifies.
    public init(context: TLSContext, serverName: String? = nil) throws(TLSError) {
        guard let ssl = SSL_new(context.pointer) else { throw .openSSL("SSL_new failed") }
        self.ssl = ssl
        self.context = context
        self.io = .allocate(capacity: 1)
        self.io.initialize(to: wsgate_tls_io(input: nil, input_length: 0, output: nil, output_length: 0,
                                             output_capacity: 0, failed: 0))
        guard wsgate_tls_attach(ssl, bioMethod, self.io) == 1 else {
            SSL_free(ssl)
            self.io.deallocate()
            throw .openSSL("BIO_new failed")
        }
        switch context.side {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let serverName {
                let isAddress = serverName.contains(":") || serverName.allSatisfy { $0.isNumber || $0 == "." }
                if !isAddress { _ = wsgate_SSL_set_tlsext_host_name(ssl, serverName) }
                if context.verifiesPeer {
                    if isAddress {
                        _ = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName)
                    } else {
                        _ = SSL_set1_host(ssl, serverName)
                    }
                }
            }
        }
    }

    deinit {
        SSL_free(self.ssl)  // frees the BIO too
        free(self.io.pointee.output)
        self.io.deallocate()
        self.keptInput?.deallocate()
    }

    // MARK: Ciphertext

    /// Gives OpenSSL ciphertext to read. The memory must stay valid, unchanged, until every byte is
    /// read (`hasInput` is false) or `keepInput` is called.
    public func setInput(_ bytes: UnsafeRawBufferPointer) {
        precondition(self.io.pointee.input_length == 0, "input given before the last was read")
        self.releaseKeptInput()
        self.io.pointee.input = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        self.io.pointee.input_length = bytes.count
    }

    /// Whether ciphertext given to `setInput` is still unread.
    public var hasInput: Bool { self.io.pointee.input_length > 0 }

    /// Copies the input not read yet into memory of the connection's own, so the caller can reuse its buffer.
    public func keepInput() {
        let length = self.io.pointee.input_length
        guard length > 0, self.keptInput == nil else { return }
        let kept = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 1)
        kept.copyMemory(from: UnsafeRawBufferPointer(start: self.io.pointee.input, count: length))
        self.keptInput = kept
        self.io.pointee.input = UnsafePointer(kept.baseAddress!.assumingMemoryBound(to: UInt8.self))
    }

    private func releaseKeptInput() {
        guard let kept = self.keptInput, self.io.pointee.input_length == 0 else { return }
        kept.deallocate()
        self.keptInput = nil
    }

    /// Ciphertext OpenSSL produced, for the socket.
    public var pendingOutput: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: self.io.pointee.output, count: self.io.pointee.output_length)
    }

    public var hasPendingOutput: Bool { self.io.pointee.output_length > 0 }

    /// Drops `count` bytes written from the front of `pendingOutput`; an emptied buffer is freed.
    public func consumeOutput(_ count: Int) {
        wsgate_tls_io_consume(self.io, count)
    }

    // MARK: Plaintext

    /// Decrypts into `buffer`: as many records as fit, until the input runs out.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Result {
        var total = 0
        while total < buffer.count {
            let count = SSL_read(self.ssl, buffer.baseAddress! + total, Int32(min(buffer.count - total, Int(Int32.max))))
            if count > 0 {
                total += Int(count)
                continue
            }
            // With plaintext in hand, it goes first: a close or an error that follows is sticky,
            // and the next read reports it.
            if total > 0 { break }
            self.releaseKeptInput()
            return self.failure(count)
        }
        self.releaseKeptInput()
        return .bytes(total)
    }

    /// Encrypts `bytes` into `pendingOutput`; before the handshake is done, may need input first.
    public func write(_ bytes: UnsafeRawBufferPointer) -> Result {
        guard !bytes.isEmpty else { return .bytes(0) }
        let count = SSL_write(self.ssl, bytes.baseAddress!, Int32(min(bytes.count, Int(Int32.max))))
        if count > 0 { return .bytes(Int(count)) }
        return self.failure(count)
    }

    /// Queues close_notify (RFC 8446 §6.1) in `pendingOutput`; does not wait for the peer's.
    public func shutdown() {
        guard SSL_is_init_finished(self.ssl) == 1 else { return }
        _ = SSL_shutdown(self.ssl)
        _ = TLSError.takeOpenSSLReason()
    }

    private func failure(_ returned: Int32) -> Result {
        let code = SSL_get_error(self.ssl, returned)
        switch code {
        case SSL_ERROR_WANT_READ:
            return .wantsInput
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        default:
            if self.io.pointee.failed != 0 { return .failed("out of memory for TLS output") }
            var reason = TLSError.takeOpenSSLReason()
            let verify = SSL_get_verify_result(self.ssl)
            if verify != X509_V_OK, let text = X509_verify_cert_error_string(verify) {
                reason = "certificate verify failed: \(String(cString: text))"
            }
            return .failed(reason.isEmpty ? "TLS error \(code)" : reason)
        }
    }

    // MARK: What was agreed

    /// Whether the handshake has finished.
    public var isEstablished: Bool { SSL_is_init_finished(self.ssl) == 1 }

    /// Whether plaintext or unread ciphertext is held: a read would return something without new input.
    public var hasBufferedInput: Bool { self.io.pointee.input_length > 0 || SSL_pending(self.ssl) > 0 }

    /// "TLSv1.3".
    public var protocolVersion: String { String(cString: SSL_get_version(self.ssl)) }

    /// The ALPN protocol agreed, "http/1.1", or nil.
    public var alpnProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(self.ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The peer certificate's subject in RFC 2253 form ("CN=alice,O=Example"), as Apache's
    /// SSL_CLIENT_S_DN and nginx's $ssl_client_s_dn give it; nil without a certificate.
    public var peerSubject: String? {
        guard let certificate = SSL_get0_peer_certificate(self.ssl), let name = X509_get_subject_name(certificate),
            let bio = BIO_new(BIO_s_mem())
        else { return nil }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, WSGATE_XN_FLAG_RFC2253) >= 0 else { return nil }
        var data: UnsafeMutablePointer<CChar>?
        let length = wsgate_BIO_get_mem_data(bio, &data)
        guard let data, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    /// Whether the peer presented a certificate that verified: "SUCCESS", or "NONE" without one
    /// (the values of Apache's SSL_CLIENT_VERIFY and nginx's $ssl_client_verify).
    public var peerVerification: String {
        guard SSL_get0_peer_certificate(self.ssl) != nil else { return "NONE" }
        let result = SSL_get_verify_result(self.ssl)
        if result == X509_V_OK { return "SUCCESS" }
        return "FAILED:" + (X509_verify_cert_error_string(result).map { String(cString: $0) } ?? String(result))
    }
}
