/// Sends every message back as it came, text as text and binary as binary.
final class EchoHandler: SessionHandler {
    func session(_ session: Session, didReceive message: Message) {
        switch message {
        case .text(let text): session.send(text: text)
        case .binary(let bytes): session.send(binary: bytes)
        }
    }

    func session(_ session: Session, didReceive bytes: UnsafeRawBufferPointer, isText: Bool) {
        if isText {
            session.send(textUTF8: bytes)
        } else {
            session.send(binaryBytes: bytes)
        }
    }
}
