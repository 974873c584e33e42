import Client
import Gateway
import Testing
import WebSocket

@Suite("Built-in echo over loopback")
struct EchoTests {
    @Test(arguments: [0, 1, 125, 126, 65535, 65536, 1 << 20])
    func echoesTextAndBinaryOfEverySize(size: Int) throws {
        let server = try TestServer(routes: [Route("/echo", .echo)])
        let client = try server.connect("/echo")
        let text = String(repeating: "é", count: size / 2) + String(repeating: "a", count: size % 2)
        try client.send(text: text)
        #expect(try client.receiveMessage() == .text(text))
        let binary = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try client.send(binary: binary)
        #expect(try client.receiveMessage() == .binary(binary))
        try client.close()
        #expect(try client.waitForClose()?.code == .normalClosure)
    }

    @Test func serverAnswersUnknownPathWith404() throws {
        let server = try TestServer(routes: [Route("/echo", .echo)])
        let response = try rawHTTP(port: server.port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 404 "))
    }
}
