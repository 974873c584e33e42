extension GatewayServer {
    /// SIGHUP (`systemctl reload`): the TLS files and the credential files are read again. Live
    /// sessions are untouched; a file that fails to load is logged and the old one stays.
    func reloadOnHangup() {
        self.reloadTLS()
        self.reloadAuthFiles()
    }
}
