import ArgumentParser
import Broker
import Logging
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The Greenroom worker process.
///
/// Today it connects to RabbitMQ and Redis and declares the topology every
/// worker shares (DESIGN.md, "Topology"); hosting actor behaviours arrives
/// with the actor runtime.
@main
struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Greenroom worker process.",
        discussion: "Servers come from the flags, else GREENROOM_AMQP_URL / GREENROOM_REDIS_URL, else 127.0.0.1 defaults.")

    @Option(name: .customLong("amqp-url"), help: "RabbitMQ URL (env GREENROOM_AMQP_URL).")
    var amqpURL: String = Self.environment("GREENROOM_AMQP_URL") ?? AMQPConfiguration.defaultURL

    @Option(name: .customLong("redis-url"), help: "Redis URL (env GREENROOM_REDIS_URL).")
    var redisURL: String = Self.environment("GREENROOM_REDIS_URL") ?? RedisConfiguration.defaultURL

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (env GREENROOM_LOG_LEVEL).")
    var logLevel: String = Self.environment("GREENROOM_LOG_LEVEL") ?? "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical; not '\(logLevel)'")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "greenroom.worker")
        let amqp = try await AMQPConnection.connect(try AMQPConfiguration(url: amqpURL), logger: logger)
        let redis = try await RedisClient.connect(try RedisConfiguration(url: redisURL), logger: logger)
        let channel = try await amqp.openChannel()
        try await Topology.declareShared(on: channel)
        _ = try await redis.send("PING")
        logger.info("topology declared", metadata: [
            "exchange": "\(Topology.actorsExchange)", "dead-letters": "\(Topology.deadQueue)",
            "rabbitmq": "\(amqp.configuration.endpoint)", "redis": "\(redis.configuration.endpoint)",
        ])
        await amqp.close()
        await redis.close()
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    }
}
