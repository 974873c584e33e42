import COpenSSL
import Glibc

/// An OpenSSL `SSL_CTX`: the certificate, key and verification settings that connections share.
///
/// Immutable once made, so a reload makes a new one and swaps it in: a connection keeps the context
/// it started with (OpenSSL counts the references), so live connections never notice a reload.
/// TLS 1.2 and 1.3 only; renegotiation and compression are off; idle connections release OpenSSL's
/// record buffers (`SSL_MODE_RELEASE_BUFFERS`).
public final class TLSContext: @unchecked Sendable {
    /// Which end of the connection the context is for.
    public enum Side: Sendable { case server, client }

    let pointer: OpaquePointer
    public let side: Side
    /// Whether the client verifies the server's certificate (and name).
    let verifiesPeer: Bool

    private init(side: Side, verifiesPeer: Bool) throws(TLSError) {
        guard let pointer = SSL_CTX_new(side == .server ? TLS_server_method() : TLS_client_method()) else {
            throw .openSSL("SSL_CTX_new failed")
        }
        self.pointer = pointer
        self.side = side
        self.verifiesPeer = verifiesPeer
        _ = wsgate_SSL_CTX_set_min_proto_version(pointer, WSGATE_TLS1_2_VERSION)
        _ = wsgate_SSL_CTX_set_max_proto_version(pointer, WSGATE_TLS1_3_VERSION)
        // Partial writes and a moving buffer: a write is retried from wherever the send queue is now.
        _ = wsgate_SSL_CTX_set_mode(pointer, WSGATE_SSL_MODE_RELEASE_BUFFERS | WSGATE_SSL_MODE_ENABLE_PARTIAL_WRITE
                                        | WSGATE_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER)
        _ = wsgate_SSL_CTX_set_options(pointer, WSGATE_SSL_OP_NO_RENEGOTIATION | WSGATE_SSL_OP_NO_COMPRESSION)
    }

    deinit {
        SSL_CTX_free(self.pointer)
    }

    /// A server context: the certificate chain (the leaf first, then intermediates) and its key, and
    /// with `clientCAFile`, mutual TLS: a client must present a certificate that CA signed.
    /// - Throws: a one-line reason naming the file when a file is missing or unreadable, is not
    ///   PEM, or the key does not match the certificate.
    public static func server(certificateFile: String, keyFile: String, clientCAFile: String? = nil) throws(TLSError)
        -> TLSContext
    {
        let context = try TLSContext(side: .server, verifiesPeer: clientCAFile != nil)
        let pointer = context.pointer
        // Tickets resume sessions without a server-side cache, which would hold memory per client.
        _ = wsgate_SSL_CTX_set_session_cache_mode(pointer, WSGATE_SSL_SESS_CACHE_OFF)
        try Self.checkReadable(certificateFile, "certificate")
        try Self.checkReadable(keyFile, "key")
        guard SSL_CTX_use_certificate_chain_file(pointer, certificateFile) == 1 else {
            throw .openSSL("cannot load certificate \(certificateFile)")
        }
        try Self.useKey(pointer, keyFile, certificateFile)
        wsgate_SSL_CTX_use_http11_alpn(pointer)
        if let clientCAFile {
            try Self.checkReadable(clientCAFile, "CA")
            guard SSL_CTX_load_verify_locations(pointer, clientCAFile, nil) == 1,
                let names = SSL_load_client_CA_file(clientCAFile)
            else { throw .openSSL("cannot load CA \(clientCAFile)") }
            SSL_CTX_set_client_CA_list(pointer, names)
            SSL_CTX_set_verify(pointer, WSGATE_SSL_VERIFY_PEER | WSGATE_SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
        return context
    }

    /// A client context. By default the server is verified against the system's CA store
    /// (`SSL_CTX_set_default_verify_paths`), or against `caFile` alone when given; `verify: false`
    /// skips verification (curl's `--insecure`). A client certificate and key are for mutual TLS.
    public static func client(caFile: String? = nil, verify: Bool = true, certificateFile: String? = nil,
                              keyFile: String? = nil) throws(TLSError) -> TLSContext
    {
        let context = try TLSContext(side: .client, verifiesPeer: verify)
        let pointer = context.pointer
        if verify {
            if let caFile {
                try Self.checkReadable(caFile, "CA")
                guard SSL_CTX_load_verify_locations(pointer, caFile, nil) == 1 else {
                    throw .openSSL("cannot load CA \(caFile)")
                }
            } else if SSL_CTX_set_default_verify_paths(pointer) != 1 {
                throw .openSSL("cannot load the system's CA certificates")
            }
            SSL_CTX_set_verify(pointer, WSGATE_SSL_VERIFY_PEER, nil)
        } else {
            SSL_CTX_set_verify(pointer, WSGATE_SSL_VERIFY_NONE, nil)
        }
        if let certificateFile {
            try Self.checkReadable(certificateFile, "certificate")
            guard SSL_CTX_use_certificate_chain_file(pointer, certificateFile) == 1 else {
                throw .openSSL("cannot load certificate \(certificateFile)")
            }
            let keyFile = keyFile ?? certificateFile
            try Self.checkReadable(keyFile, "key")
            try Self.useKey(pointer, keyFile, certificateFile)
        }
        // ALPN "http/1.1": the upgrade is an HTTP/1.1 request (RFC 8441 would be h2).
        let http11: [UInt8] = [8] + Array("http/1.1".utf8)
        _ = http11.withUnsafeBufferPointer { SSL_CTX_set_alpn_protos(pointer, $0.baseAddress, UInt32($0.count)) }
        return context
    }

    /// Loads the key of the certificate already loaded; a key of another certificate is refused
    /// with a message that says so (OpenSSL's own is "key values mismatch").
    private static func useKey(_ pointer: OpaquePointer, _ keyFile: String, _ certificateFile: String) throws(TLSError) {
        let mismatch = TLSError("key \(keyFile) does not match certificate \(certificateFile)")
        guard SSL_CTX_use_PrivateKey_file(pointer, keyFile, SSL_FILETYPE_PEM) == 1 else {
            let reason = TLSError.takeOpenSSLReason()
            if reason.contains("mismatch") { throw mismatch }
            throw TLSError(reason.isEmpty ? "cannot load key \(keyFile)" : "cannot load key \(keyFile): \(reason)")
        }
        guard SSL_CTX_check_private_key(pointer) == 1 else {
            _ = TLSError.takeOpenSSLReason()
            throw mismatch
        }
    }

    /// OpenSSL's messages for a missing file are "system lib"; name the file and errno instead.
    private static func checkReadable(_ path: String, _ what: String) throws(TLSError) {
        guard let file = fopen(path, "r") else {
            let reason = String(cString: strerror(errno))
            throw TLSError("cannot read \(what) \(path): \(reason)")
        }
        fclose(file)
    }
}
