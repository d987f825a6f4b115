/// Something went wrong talking to RabbitMQ.
///
/// Meant for both programs and people: `code` says what kind of failure it
/// was; `endpoint`, `osError`, `replyCode` and `replyText` are the context
/// (where, what the operating system said, what the broker said when it
/// closed a channel or the connection: 404 NOT_FOUND, 406
/// PRECONDITION_FAILED, 403 ACCESS_REFUSED, …); `operation` says what
/// Greenroom was doing. `description` states what went wrong in one line and
/// gives no advice: what a person should do about it depends on the program
/// they ran, so programs add that themselves.
public struct AMQPError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure. An open set: compare with the static values.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// TCP could not be established (refused, unreachable, timed out, DNS).
        public static let connectFailed = Code(name: "connectFailed")
        /// The TLS session failed: the broker's certificate was not trusted
        /// (wrong CA, or it does not name the host), or the broker refused
        /// ours (none given, or not signed by a CA it trusts).
        public static let tlsFailed = Code(name: "tlsFailed")
        /// The broker refused the login (wrong user, password or vhost).
        public static let accessRefused = Code(name: "accessRefused")
        /// The broker closed the channel (`replyCode` says why).
        public static let channelClosed = Code(name: "channelClosed")
        /// The broker closed the connection, or the socket failed.
        public static let connectionClosed = Code(name: "connectionClosed")
        /// A `mandatory` message matched no queue and was returned.
        public static let unroutable = Code(name: "unroutable")
        /// The broker nacked a published message (it could not take responsibility for it).
        public static let nacked = Code(name: "nacked")
        /// The broker cancelled a consumer (its queue was deleted, or it failed over).
        public static let consumerCancelled = Code(name: "consumerCancelled")
        /// The broker did not answer in time (a publisher confirm, say).
        public static let timedOut = Code(name: "timedOut")
        /// rabbitmq-c reported an error (`detail` has its text).
        public static let library = Code(name: "library")
        /// The caller asked for something that cannot work (e.g. ack on a no-ack consumer).
        public static let invalidArgument = Code(name: "invalidArgument")
    }

    /// The kind of failure.
    public var code: Code
    /// What Greenroom was doing, e.g. "declaring queue 'greenroom.counter.3'".
    public var operation: String
    /// The broker's `host:port`, for failures of the connection itself.
    public var endpoint: String?
    /// The operating system's error number (`ECONNREFUSED`, `ETIMEDOUT`, …)
    /// when the failure came from a system call.
    public var osError: Int32?
    /// AMQP reply code from the broker, when it sent one.
    public var replyCode: UInt16?
    /// AMQP reply text from the broker, when it sent one.
    public var replyText: String?
    /// What went wrong, in words: the operating system's or rabbitmq-c's
    /// error text, or Greenroom's own.
    public var detail: String?

    /// An error; only `code` and `operation` are required.
    public init(
        code: Code, operation: String, endpoint: String? = nil, osError: Int32? = nil,
        replyCode: UInt16? = nil, replyText: String? = nil, detail: String? = nil
    ) {
        self.code = code
        self.operation = operation
        self.endpoint = endpoint
        self.osError = osError
        self.replyCode = replyCode
        self.replyText = replyText
        self.detail = detail
    }

    /// One line: the operation, then what the broker or the system said.
    public var description: String {
        var text = operation
        if let replyCode, let replyText {
            text += ": broker said \(replyCode) \(replyText)"
        } else if let replyText {
            text += ": \(replyText)"
        }
        if let detail { text += (replyText == nil ? ": " : " — ") + detail }
        return text
    }

    /// The same error, now saying it happened while doing `operation`.
    func during(_ operation: String) -> AMQPError {
        var copy = self
        copy.operation = operation
        return copy
    }

    /// Every node of a cluster failed: one error naming each node and why.
    /// It keeps the failures' code and OS error when they all share one (all
    /// refused: nothing is running), else it is `.connectFailed`.
    init(everyNodeFailed failures: [AMQPError], hosts: String) {
        let prefix = "cannot connect to RabbitMQ at "
        let reasons = failures.map { failure in
            let text = failure.description
            return text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
        }
        let codes = Set(failures.map(\.code))
        let osErrors = Set(failures.map(\.osError))
        self.init(code: codes.count == 1 ? failures[0].code : .connectFailed,
                  operation: "cannot connect to any of the \(failures.count) RabbitMQ nodes",
                  endpoint: hosts, osError: osErrors.count == 1 ? failures[0].osError : nil,
                  detail: reasons.joined(separator: "; "))
    }
}
