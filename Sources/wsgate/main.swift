import Gateway
import Glibc
import Reactor

if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "bench" {
    exit(runBench(Array(CommandLine.arguments.dropFirst(2))))
}

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
