import WebSocket

/// The `shared-json` protocol: the `shared` events and commands as one JSON object per line.
///
///     wsgate → program
///     {"event":"open","id":7,"path":"/chat/lobby","uri":"/chat/lobby?x=1","remote":"127.0.0.1:50312","env":{…}}
///     {"event":"msg","id":7,"text":"hello"}
///     {"event":"bin","id":7,"data":"aGVsbG8="}
///     {"event":"close","id":7,"code":1000}
///
///     program → wsgate ("to" and "except" take an id or an array of ids; "data" instead of
///     "text" sends a binary message, base64-encoded)
///     {"cmd":"send","to":[7,9],"text":"hi"}
///     {"cmd":"all","text":"hi"}
///     {"cmd":"others","except":7,"text":"hi"}
///     {"cmd":"close","to":[7],"code":1000,"reason":"bye"}
///
/// `env` holds the whole CGI environment a per-session program of the route would get.
enum SharedJSONProtocol {
    static func encode(_ event: SharedEvent, into output: inout [UInt8]) {
        switch event {
        case .open(let id, let requestURI, let path, let remote, let environment):
            output.append(contentsOf: "{\"event\":\"open\",\"id\":\(id),\"path\":".utf8)
            JSONValue.appendString(path, to: &output)
            output.append(contentsOf: ",\"uri\":".utf8)
            JSONValue.appendString(requestURI, to: &output)
            output.append(contentsOf: ",\"remote\":".utf8)
            JSONValue.appendString(remote, to: &output)
            output.append(contentsOf: ",\"env\":{".utf8)
            for (index, name) in environment.keys.sorted().enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                JSONValue.appendString(name, to: &output)
                output.append(UInt8(ascii: ":"))
                JSONValue.appendString(environment[name]!, to: &output)
            }
            output.append(contentsOf: "}}\n".utf8)
        case .message(let id, .text(let text)):
            output.append(contentsOf: "{\"event\":\"msg\",\"id\":\(id),\"text\":".utf8)
            JSONValue.appendString(text, to: &output)
            output.append(contentsOf: "}\n".utf8)
        case .message(let id, .binary(let bytes)):
            output.append(contentsOf: "{\"event\":\"bin\",\"id\":\(id),\"data\":\"".utf8)
            output.append(contentsOf: Base64.encode(bytes).utf8)
            output.append(contentsOf: "\"}\n".utf8)
        case .close(let id, let code):
            output.append(contentsOf: "{\"event\":\"close\",\"id\":\(id),\"code\":\(code)}\n".utf8)
        }
    }

    static func parse(_ line: UnsafeRawBufferPointer) throws(SharedProtocolError) -> SharedCommand {
        let object: JSONValue
        do {
            object = try JSONValue.parse(line)
        } catch {
            throw SharedProtocolError("invalid JSON: \(error)")
        }
        guard case .object = object else { throw SharedProtocolError("not a JSON object") }
        guard let command = object["cmd"]?.stringValue else { throw SharedProtocolError("no \"cmd\"") }
        switch command {
        case "send":
            return .send(to: try Self.ids(object, "to"), try Self.message(object))
        case "all":
            return .all(try Self.message(object))
        case "others":
            return .others(except: try Self.ids(object, "except"), try Self.message(object))
        case "close":
            let ids = try Self.ids(object, "to")
            guard let code = object["code"]?.intValue else { throw SharedProtocolError("close: \"code\" must be an integer") }
            let reason: String
            switch object["reason"] {
            case nil, .null?: reason = ""
            case .string(let text)?: reason = text
            default: throw SharedProtocolError("close: \"reason\" must be a string")
            }
            return .close(ids: ids, code: try SharedProtocolError.checkedCloseCode(code), reason: reason)
        default:
            throw SharedProtocolError("unknown command \"\(command)\"")
        }
    }

    /// `"to": 7` or `"to": [7, 9]`: positive integer ids.
    static func ids(_ object: JSONValue, _ key: String) throws(SharedProtocolError) -> [Int] {
        let values: [JSONValue]
        switch object[key] {
        case .array(let array)?: values = array
        case let single?: values = [single]
        case nil: throw SharedProtocolError("no \"\(key)\"")
        }
        guard !values.isEmpty else { throw SharedProtocolError("\"\(key)\" is empty") }
        var ids: [Int] = []
        for value in values {
            guard let id = value.intValue, id > 0 else { throw SharedProtocolError("\"\(key)\" must hold positive integer ids") }
            ids.append(id)
        }
        return ids
    }

    /// `"text"` for a text message, or `"data"` (base64) for a binary one.
    static func message(_ object: JSONValue) throws(SharedProtocolError) -> Message {
        if let text = object["text"] {
            guard let string = text.stringValue else { throw SharedProtocolError("\"text\" must be a string") }
            return .text(string)
        }
        if let data = object["data"] {
            guard let encoded = data.stringValue, let bytes = Base64.decode(encoded) else {
                throw SharedProtocolError("\"data\" must be base64")
            }
            return .binary(bytes)
        }
        throw SharedProtocolError("no \"text\" or \"data\"")
    }
}
