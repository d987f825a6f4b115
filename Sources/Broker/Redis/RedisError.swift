/// Something went wrong talking to Redis.
public struct RedisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of failure. An open set: compare with the static values.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// No connection could be made (refused, unreachable, timed out).
        public static let connectFailed = Code(name: "connectFailed")
        /// AUTH or SELECT was refused.
        public static let authenticationFailed = Code(name: "authenticationFailed")
        /// The server answered the command with an error reply (`message`).
        public static let server = Code(name: "server")
        /// The connection broke while the command was in flight: it may or may not have run.
        public static let connectionLost = Code(name: "connectionLost")
        /// The client was closed.
        public static let closed = Code(name: "closed")
    }

    public var code: Code
    /// The command's name (`GET`, `EVALSHA`, …), or what was being done.
    public var command: String
    /// The server's error text, or what went wrong.
    public var message: String

    public init(code: Code, command: String, message: String) {
        self.code = code
        self.command = command
        self.message = message
    }

    /// The error prefix Redis uses (`NOSCRIPT`, `WRONGTYPE`, `ERR`, …) for server errors.
    public var serverErrorKind: String? {
        guard code == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    public var description: String {
        switch code {
        case .server: "Redis \(command) failed: \(message)"
        case .connectFailed, .authenticationFailed: message
        default: "Redis \(command): \(message)"
        }
    }
}
