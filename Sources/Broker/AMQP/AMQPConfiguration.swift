/// Where and how to connect to RabbitMQ, usually read from an AMQP URL.
///
/// `amqp://user:password@host:port/vhost?heartbeat=30&connection_timeout=5000`
/// - user and password default to `guest`, the port to 5672 (5671 for `amqps`);
/// - a cluster's nodes are listed with commas, `amqp://user:password@h1:5672,h2:5672,h3/vhost`
///   (each port may be left out): a connection goes to one of them and tries
///   the next when a node cannot be reached (see `hosts`);
/// - the vhost is the percent-decoded path (`%2F` is `/`, the default);
/// - `heartbeat` is in seconds (0 turns heartbeats off), `connection_timeout`
///   in milliseconds (both RabbitMQ's URI-spec names);
/// - `amqps://` uses TLS; `cacertfile`, `certfile`, `keyfile` and `verify`
///   (`verify_peer` or `verify_none`) configure it.
public struct AMQPConfiguration: Sendable, Equatable {
    /// The nodes to connect to, in the URL's order; never empty. A connection
    /// is made to one of them, and the others are tried in turn when it cannot
    /// be reached (`AMQPConnection.connect`). One host: a single broker; more:
    /// the nodes of a cluster.
    public var hosts: [Endpoint] {
        didSet { precondition(!hosts.isEmpty, "an AMQPConfiguration needs at least one host") }
    }
    /// The first host's name or address.
    public var host: String {
        get { hosts[0].host }
        set { hosts[0].host = newValue }
    }
    /// The first host's port.
    public var port: Int {
        get { hosts[0].port }
        set { hosts[0].port = newValue }
    }
    public var user: String
    public var password: String
    public var virtualHost: String
    /// Negotiated heartbeat in seconds; 0 disables heartbeats.
    public var heartbeatSeconds: Int
    /// How long to wait for the TCP connection and the AMQP handshake.
    public var connectTimeoutMilliseconds: Int
    /// TLS settings; nil for plain TCP.
    public var tls: TLS?
    /// A name shown in RabbitMQ's management UI for this connection.
    public var connectionName: String

    /// One node: a host and its AMQP port.
    public typealias Endpoint = ServerEndpoint

    /// TLS settings for `amqps://`.
    public struct TLS: Sendable, Equatable {
        public var caCertificatePath: String?
        public var certificatePath: String?
        public var keyPath: String?
        public var verifyPeer: Bool

        public init(caCertificatePath: String? = nil, certificatePath: String? = nil, keyPath: String? = nil, verifyPeer: Bool = true) {
            self.caCertificatePath = caCertificatePath
            self.certificatePath = certificatePath
            self.keyPath = keyPath
            self.verifyPeer = verifyPeer
        }
    }

    /// The URL used when neither a flag nor `GREENROOM_AMQP_URL` gives one.
    public static let defaultURL = "amqp://guest:guest@127.0.0.1:5672/%2F"

    public init(
        host: String = "127.0.0.1", port: Int = 5672, user: String = "guest", password: String = "guest",
        virtualHost: String = "/", heartbeatSeconds: Int = 30, connectTimeoutMilliseconds: Int = 5_000,
        tls: TLS? = nil, connectionName: String = "greenroom"
    ) {
        self.hosts = [Endpoint(host: host, port: port)]
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
        self.heartbeatSeconds = heartbeatSeconds
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.tls = tls
        self.connectionName = connectionName
    }

    /// Reads an `amqp://` or `amqps://` URL; throws `URLFormatError` naming the problem.
    public init(url: String) throws(URLFormatError) {
        let parsed = try ServerURL(url)
        let secure: Bool
        switch parsed.scheme {
        case "amqp": secure = false
        case "amqps": secure = true
        default: throw URLFormatError(url: url, problem: "scheme must be amqp or amqps, not '\(parsed.scheme)'")
        }
        let defaultPort = secure ? 5671 : 5672
        self.init(host: parsed.host, port: parsed.port ?? defaultPort)
        hosts = parsed.hosts.map { Endpoint(host: $0.host, port: $0.port ?? defaultPort) }
        if let repeated = hosts.indices.first(where: { hosts[..<$0].contains(hosts[$0]) }) {
            throw URLFormatError(url: url, problem: "host \(hosts[repeated]) is listed twice; name each node of a cluster once")
        }
        if let user = parsed.user { self.user = user }
        if let password = parsed.password { self.password = password }
        if let path = parsed.path, !path.isEmpty { virtualHost = path }

        for (name, value) in parsed.query {
            switch name {
            case "heartbeat":
                guard let seconds = Int(value), (0...65535).contains(seconds) else {
                    throw URLFormatError(url: url, problem: "heartbeat must be whole seconds from 0 to 65535, not '\(value)'")
                }
                heartbeatSeconds = seconds
            case "connection_timeout":
                guard let milliseconds = Int(value), milliseconds > 0 else {
                    throw URLFormatError(url: url, problem: "connection_timeout must be a positive number of milliseconds, not '\(value)'")
                }
                connectTimeoutMilliseconds = milliseconds
            case "connection_name":
                connectionName = value
            case "cacertfile", "certfile", "keyfile", "verify":
                guard secure else {
                    throw URLFormatError(url: url, problem: "'\(name)' only applies to amqps:// URLs")
                }
            default:
                throw URLFormatError(url: url, problem: "unknown option '\(name)' (known: heartbeat, connection_timeout, connection_name, cacertfile, certfile, keyfile, verify)")
            }
        }
        if secure {
            var tls = TLS(caCertificatePath: parsed.query["cacertfile"], certificatePath: parsed.query["certfile"], keyPath: parsed.query["keyfile"])
            switch parsed.query["verify"] {
            case nil, "verify_peer": tls.verifyPeer = true
            case "verify_none": tls.verifyPeer = false
            case let other?: throw URLFormatError(url: url, problem: "verify must be verify_peer or verify_none, not '\(other)'")
            }
            if (tls.certificatePath == nil) != (tls.keyPath == nil) {
                throw URLFormatError(url: url, problem: "certfile and keyfile go together")
            }
            self.tls = tls
        }
    }

    /// The first host's `host:port`, for messages.
    public var endpoint: String { hosts[0].description }

    /// Every host's `host:port`, comma-separated, for messages.
    public var endpoints: String { hosts.map(\.description).joined(separator: ",") }

    /// True when the URL names several nodes: a cluster.
    public var namesSeveralHosts: Bool { hosts.count > 1 }

    /// This configuration with only `hosts[index]`: what one connection
    /// attempt uses.
    func only(_ index: Int) -> AMQPConfiguration {
        var single = self
        single.hosts = [hosts[index]]
        return single
    }
}

/// Printed (`"\(configuration)"`, `debugPrint`, `dump`, a log line) as a URL
/// with the password masked: the password itself never reaches output.
extension AMQPConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        let vhost = virtualHost == "/" ? "%2F" : virtualHost
        return "\(tls == nil ? "amqp" : "amqps")://\(user):***@\(endpoints)/\(vhost)"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["endpoints": endpoints, "user": user, "password": "***", "virtualHost": virtualHost,
                                "heartbeatSeconds": heartbeatSeconds, "connectTimeoutMilliseconds": connectTimeoutMilliseconds,
                                "tls": tls as Any, "connectionName": connectionName])
    }
}
