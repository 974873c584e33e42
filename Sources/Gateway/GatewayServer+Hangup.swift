import Reactor

extension GatewayServer {
    /// SIGHUP (`systemctl reload`): the configuration file (with `--config`; see
    /// GatewayServer+Reload.swift), the TLS files and the credential files are read again. Live
    /// sessions keep what they started with; a file that fails to load is logged and the old one stays.
    /// systemd hears RELOADING=1 before and READY=1 after (Type=notify-reload waits for them).
    func reloadOnHangup() {
        self.notifier?.notifyReloading()
        self.reloadOnSignal()  // the configuration file, and the TLS files
        self.reloadAuthFiles()
        self.sendToOtherLoops(.hangup)  // with --threads; each loop reloads the same files
        self.notifier?.notify("READY=1")
    }
}
