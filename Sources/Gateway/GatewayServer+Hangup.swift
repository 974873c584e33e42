import Reactor

extension GatewayServer {
    /// SIGHUP (`systemctl reload`): the TLS files and the credential files are read again. Live
    /// sessions are untouched; a file that fails to load is logged and the old one stays.
    /// systemd hears RELOADING=1 before and READY=1 after (Type=notify-reload waits for them).
    func reloadOnHangup() {
        self.notifier?.notifyReloading()
        self.reloadTLS()
        self.reloadAuthFiles()
        self.notifier?.notify("READY=1")
    }
}
