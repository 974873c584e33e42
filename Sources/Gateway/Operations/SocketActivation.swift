/// systemd's socket activation (sd_listen_fds(3)): the listening sockets a service manager opened
/// and passed as descriptors 3, 4, …, named by `LISTEN_FDS`, `LISTEN_PID` and, optionally,
/// `LISTEN_FDNAMES`. Sans-I/O: the variables in, the descriptors out.
public enum SocketActivation {
    /// A listening socket passed in, and the name the unit gave it (`FileDescriptorName=`).
    public struct PassedSocket: Equatable, Sendable {
        public var fd: Int32
        public var name: String?
    }

    /// sd_listen_fds' SD_LISTEN_FDS_START.
    public static let firstDescriptor: Int32 = 3

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// The sockets passed to the process `pid`, or nil when the variables are not for it (unset,
    /// or `LISTEN_PID` names another process, which happens when they leaked into a child).
    /// - Throws: `Invalid` when they name this process but make no sense (a count that is not a
    ///   positive number, more names than descriptors).
    public static func passedSockets(listenPID: String?, listenFDs: String?, names: String?, pid: Int32)
        throws(Invalid) -> [PassedSocket]?
    {
        guard let listenPID, let listenFDs, Int32(listenPID) == pid else { return nil }
        guard let count = Int32(listenFDs), count > 0, count < 4096 else {
            throw Invalid(description: "LISTEN_FDS=\(listenFDs): not a number of descriptors")
        }
        let named = names.map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
        guard named.count <= Int(count) else {
            throw Invalid(description: "LISTEN_FDNAMES names \(named.count) sockets, LISTEN_FDS passes \(count)")
        }
        return (0..<count).map { index in
            let name = Int(index) < named.count && !named[Int(index)].isEmpty ? named[Int(index)] : nil
            return PassedSocket(fd: Self.firstDescriptor + index, name: name)
        }
    }
}
