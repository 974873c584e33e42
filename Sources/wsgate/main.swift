import Gateway
import Glibc
import Reactor

do {
    switch try parseCommandLine(Array(CommandLine.arguments.dropFirst())) {
    case .help: print(usage, terminator: "")
    case .version: print(version)
    case .serve(let configuration):
        do {
            try GatewayServer(configuration: configuration).run()
        } catch {
            configuration.log.fatal("server.error", [("error", "\(error)")])
            exit(1)
        }
    }
} catch {
    printError("wsgate: \(error)\n")
    exit(2)
}
