import Reactor
import TLS

/// The files of `--ssl`: websocketd's `--sslcert` and `--sslkey`, and `--sslca` for mutual TLS.
public struct TLSSettings: Sendable {
    /// PEM: the server's certificate first, then any intermediates (a chain file).
    public var certificateFile: String
    /// PEM: the certificate's private key.
    public var keyFile: String
    /// PEM: with it, clients must present a certificate this CA signed (mutual TLS); without it,
    /// none is asked for.
    public var clientCAFile: String?

    public init(certificateFile: String, keyFile: String, clientCAFile: String? = nil) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
    }
}

extension GatewayServer {
    static func makeTLSContext(_ settings: TLSSettings) throws(StartupError) -> TLSContext {
        do {
            return try TLSContext.server(certificateFile: settings.certificateFile, keyFile: settings.keyFile,
                                         clientCAFile: settings.clientCAFile)
        } catch {
            throw StartupError(description: error.description)
        }
    }

    /// SIGHUP: loads the certificate, key and CA again from the same paths. New handshakes use the
    /// new context; live sessions keep the one they started with (each holds a reference), so none
    /// is dropped. A reload that fails is logged and the old context stays.
    func reloadTLS() {
        guard let settings = self.configuration.tls else { return }
        do {
            self.tlsContext = try Self.makeTLSContext(settings)
            if self.speaksForProcess { self.configuration.log.info("tls.reloaded", [("cert", settings.certificateFile)]) }
        } catch {
            if self.speaksForProcess { self.configuration.log.error("tls.reload_failed", [("error", error.description)]) }
        }
    }
}

extension Session {
    /// What a program learns of the TLS connection; nil over plain TCP.
    var tlsPeer: CGIEnvironment.TLSPeer? {
        guard let tls = self.transport as? TLSTransport else { return nil }
        return CGIEnvironment.TLSPeer(subject: tls.connection.peerSubject, verify: tls.connection.peerVerification)
    }
}
