import Gateway
import Glibc
import Reactor

/// Takes what a service manager put in the environment: sockets passed by socket activation
/// (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES) and where to report readiness (NOTIFY_SOCKET). The
/// variables are removed, so that no program inherits them (sd_listen_fds' unset_environment).
func takeServiceEnvironment(into configuration: inout GatewayServer.Configuration) throws(OptionParser.Failure) {
    let names = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET"]
    let values = names.map { ProcessEnvironment.value(of: $0) }
    for name in names { ProcessEnvironment.remove(name) }
    do {
        configuration.passedSockets = try SocketActivation.passedSockets(
            listenPID: values[0], listenFDs: values[1], names: values[2], pid: getpid())
    } catch {
        throw OptionParser.Failure(description: "socket activation: \(error)")
    }
    if let target = values[3], !target.isEmpty { configuration.notifySocket = target }
}
