/// Something went wrong talking to Redis.
///
/// Meant for both programs and people: `code` says what kind of failure it
/// was; `command`, `endpoint`, `osError` and `message` are the context (what
/// was sent, where, what the operating system or the server said).
/// `description` states what went wrong in one line and gives no advice:
/// what a person should do about it depends on the program they ran, so
/// programs add that themselves.
public struct RedisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of failure. An open set: compare with the static values.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// No connection could be made (refused, unreachable, timed out, DNS).
        public static let connectFailed = Code(name: "connectFailed")
        /// AUTH or SELECT was refused while connecting (`command` says which).
        public static let authenticationFailed = Code(name: "authenticationFailed")
        /// The server answered the command with an error reply (`message`).
        public static let server = Code(name: "server")
        /// The connection broke while the command was in flight: it may or may not have run.
        public static let connectionLost = Code(name: "connectionLost")
        /// No reply within the configured command timeout (the server is
        /// frozen or unreachable): the connection was dropped and the next
        /// command makes a new one. The command may or may not have run.
        public static let timedOut = Code(name: "timedOut")
        /// The client was closed.
        public static let closed = Code(name: "closed")
        /// The command's keys lie in different slots: a Redis Cluster would
        /// refuse it, so the client refused it before sending it (always
        /// with a cluster, in debug builds with a single server too). A
        /// programming error: give the keys one hash tag, or split the command.
        public static let crossSlot = Code(name: "crossSlot")
    }

    /// The kind of failure.
    public var code: Code
    /// The command's name (`GET`, `EVALSHA`, …), or what was being done (`connect`).
    public var command: String
    /// The server's error reply, or what went wrong in words.
    public var message: String
    /// The server's `host:port`, when the failure involved it.
    public var endpoint: String?
    /// The operating system's error number (`ECONNREFUSED`, `ETIMEDOUT`, …)
    /// when the failure came from a system call.
    public var osError: Int32?

    /// An error; `endpoint` and `osError` are optional context.
    public init(code: Code, command: String, message: String, endpoint: String? = nil, osError: Int32? = nil) {
        self.code = code
        self.command = command
        self.message = message
        self.endpoint = endpoint
        self.osError = osError
    }

    /// The error prefix Redis uses (`NOSCRIPT`, `WRONGTYPE`, `ERR`, …) for server errors.
    public var serverErrorKind: String? {
        guard code == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    /// One line: what failed, where, and what the server or system said.
    public var description: String {
        let server = "Redis at \(endpoint ?? "an unknown address")"
        return switch code {
        case .server: "Redis \(command) failed: \(message)"
        case .connectFailed: "cannot connect to \(server): \(message)"
        case .authenticationFailed where command == "AUTH": "cannot authenticate to \(server): \(message)"
        case .authenticationFailed: "\(server) refused \(command): \(message)"
        case .connectionLost: "Redis \(command): the connection to \(server) was lost (\(message)); the command may or may not have run"
        case .timedOut: "Redis \(command): no reply from \(server) \(message); the connection was dropped and the command may or may not have run"
        default: "Redis \(command): \(message)"
        }
    }
}
