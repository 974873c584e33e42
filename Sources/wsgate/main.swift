import Gateway
import Glibc
import Reactor

// Reserved first words select a subcommand; a program with such a name is reachable as ./client.
if CommandLine.arguments.count > 1 {
    let rest = Array(CommandLine.arguments.dropFirst(2))
    switch CommandLine.arguments[1] {
    case "bench": exit(runBench(rest))
    case "client": exit(runClient(rest))
    case "send": exit(runSend(rest))
    case "check": exit(runCheck(rest))
    case "help": print(usage, terminator: ""); exit(0)
    case "version": print(version); exit(0)
    default: break
    }
}

do {
    switch try parseCommandLine(Array(CommandLine.arguments.dropFirst())) {
    case .help: print(usage, terminator: "")
    case .version: print(version)
    case .license: print(license, terminator: "")
    case .serve(var configuration):
        try takeServiceEnvironment(into: &configuration)
        Allocator.retainFreedMemory()
        // The default soft limit (often 1024) is not the administrator's choice; the hard one is.
        _ = try? ResourceLimits.raiseOpenFilesToHardLimit()
        let server: GatewayServer
        do {
            server = try GatewayServer(configuration: configuration)
        } catch {
            // Start-up failures read like the command line's: one line, status 2.
            printError("wsgate: \(error)\n")
            exit(2)
        }
        do {
            try server.run()
        } catch {
            configuration.log.fatal("server.error", [("error", "\(error)")])
            exit(1)
        }
        // --once: the session's program's status, or for a route without one, its close.
        switch server.onceOutcome {
        case .program(let status): exit(exitStatus(of: status))
        case .closed(let code): exit(exitStatus(forClose: code))
        case nil: break
        }
    }
} catch {
    printError("wsgate: \(error)\n")
    exit(2)
}
