import ArgumentParser
import Broker
import Logging
import Workers

/// `enqueue doctor`: proves both servers work end to end, and how fast.
///
/// RabbitMQ: a throwaway queue, N persistent messages published with
/// confirms, consumed and acked, checked byte for byte and in order.
/// Redis: N pipelined INCRs from many tasks on one connection, a binary
/// SET/GET, and a Lua script run by SHA. Everything it creates it deletes.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check RabbitMQ and Redis with a real round trip through each.")

    @OptionGroup var servers: ServerOptions

    @Option(help: "How many messages (and Redis commands) to send.")
    var messages: Int = 10_000
    @Flag(help: "Print the measurements as one JSON object instead of lines.") var json = false

    func validate() throws {
        guard (1...1_000_000).contains(messages) else {
            throw ValidationError("--messages must be from 1 to 1000000, not \(messages)")
        }
    }

    func run() async throws {
        let logger = servers.logger()
        let report = Report(quiet: json)
        // Both URLs are read before anything is sent, so a typo fails at once.
        let amqp = try AMQPConfiguration(url: servers.amqpURL)
        let redis = try RedisConfiguration(url: servers.redisURL)
        var findings = DoctorFindings(messages: messages)
        findings.rabbitMQ = try await checkRabbitMQ(amqp, report: report, logger: logger)
        findings.redis = try await checkRedis(redis, report: report, logger: logger)
        report.line("all good: RabbitMQ and Redis both answer, store and return what they were given")
        if json { print(try jsonText(findings)) }
    }

    private func checkRabbitMQ(_ configuration: AMQPConfiguration, report: Report, logger: Logger) async throws -> DoctorFindings.RabbitMQ {
        let clock = ContinuousClock()
        let start = clock.now
        let connection = try await AMQPConnection.connect(configuration, logger: logger)
        let connected = clock.now - start
        report.line("RabbitMQ  \(configuration.endpoint) vhost \(configuration.virtualHost): connected in \(Report.format(connected))")
        defer { Task { await connection.close() } }

        let channel = try await connection.openChannel()
        var generator = SystemRandomNumberGenerator()
        let queue = "greenroom.doctor.\(String(generator.next() as UInt64, radix: 36))"
        try await channel.declareQueue(queue, durable: true, exclusive: true)
        try await channel.enableConfirms()

        let count = messages
        let publishStart = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            let publishers = min(count, 64)
            for publisher in 0..<publishers {
                group.addTask {
                    for index in stride(from: publisher, to: count, by: publishers) {
                        let message = AMQPMessage(#"{"n":\#(index)}"#, properties: .init(
                            contentType: "application/json", persistent: true, messageID: "doctor-\(index)"))
                        try await channel.publish(message, routingKey: queue, mandatory: true)
                    }
                }
            }
            try await group.waitForAll()
        }
        let published = clock.now - publishStart
        report.line("  published \(count) persistent messages, each confirmed, in \(Report.format(published)) (\(Report.rate(count, published)))")

        let consumeStart = clock.now
        let consumer = try await channel.consume(queue: queue)
        var seen = Set<Int>()
        var iterator = consumer.makeAsyncIterator()
        while seen.count < count, let delivery = try await iterator.next() {
            guard let text = delivery.text, text.hasPrefix(#"{"n":"#), let n = Int(text.dropFirst(5).dropLast()),
                  delivery.properties.messageID == "doctor-\(n)", seen.insert(n).inserted else {
                throw DoctorProblem("RabbitMQ returned an unexpected or repeated message: \(delivery.text ?? "<binary>")")
            }
            try await channel.ack(delivery.deliveryTag)
        }
        guard seen.count == count else {
            throw DoctorProblem("RabbitMQ delivered \(seen.count) of \(count) messages before the consumer ended")
        }
        let consumed = clock.now - consumeStart
        report.line("  consumed and acked all \(count), each intact, in \(Report.format(consumed)) (\(Report.rate(count, consumed)))")
        try await consumer.cancel()
        try await channel.deleteQueue(queue)
        return .init(endpoint: "\(configuration.endpoint)", virtualHost: configuration.virtualHost, connectSeconds: connected.seconds,
                     publishSeconds: published.seconds, consumeSeconds: consumed.seconds)
    }

    private func checkRedis(_ configuration: RedisConfiguration, report: Report, logger: Logger) async throws -> DoctorFindings.Redis {
        let clock = ContinuousClock()
        let start = clock.now
        let redis = try await RedisClient.connect(configuration, logger: logger)
        let connected = clock.now - start
        report.line("Redis     \(configuration.endpoint) db \(configuration.database): connected in \(Report.format(connected))")
        defer { Task { await redis.close() } }
        if redis.isCluster {
            let masters = try await redis.masters()
            report.line("  a Redis Cluster: \(masters.count) masters serve its slots (\(masters.map(\.description).joined(separator: ", ")))")
        }

        var generator = SystemRandomNumberGenerator()
        // A hash tag keeps the key and its `:bin` sibling in one slot, so
        // the DEL of both works on a Redis Cluster too.
        let key = "greenroom:doctor:{\(String(generator.next() as UInt64, radix: 36))}"
        let count = messages
        let pipelineStart = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            let tasks = min(count, 100)
            for task in 0..<tasks {
                group.addTask {
                    for _ in stride(from: task, to: count, by: tasks) {
                        try await redis.send("INCR", key)
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = clock.now - pipelineStart
        guard try await redis.send("GET", key).integer == Int64(count) else {
            throw DoctorProblem("Redis counted a different number of INCRs than were sent")
        }
        report.line("  \(count) INCRs from 100 concurrent tasks, pipelined on one connection, in \(Report.format(elapsed)) (\(Report.rate(count, elapsed)))")

        let binary: [UInt8] = [0, 71, 82, 0, 255]
        try await redis.send(arguments: ["SET".redisBytes, (key + ":bin").redisBytes, binary])
        guard try await redis.send("GET", key + ":bin") == .bulk(binary) else {
            throw DoctorProblem("Redis did not return a binary value byte for byte")
        }
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        guard try await redis.run(script, keys: [key], arguments: [1]).integer == Int64(count + 1) else {
            throw DoctorProblem("a Lua script run by SHA returned the wrong value")
        }
        report.line("  binary values round-trip; Lua scripts run by SHA (\(script.sha1.prefix(12))…)")
        try await redis.send("DEL", key, key + ":bin")
        var findings = DoctorFindings.Redis(endpoint: "\(configuration.endpoint)", database: configuration.database,
                                            connectSeconds: connected.seconds, incrementSeconds: elapsed.seconds)
        if let persistence = try await RedisPersistence.read(from: redis) {
            findings.persistence = .init(appendOnly: persistence.appendOnly, appendFsync: persistence.appendFsync, save: persistence.save,
                                         warning: persistence.shortfall)
            report.line("  persistence: appendonly \(persistence.appendOnly ? "yes" : "no"), appendfsync \(persistence.appendFsync), "
                + "save '\(persistence.save)'")
            if let shortfall = persistence.shortfall { report.line("  WARNING: \(shortfall) (docs/RELIABILITY.md)") }
        } else {
            report.line("  persistence: not known (Redis refused CONFIG GET); make sure it keeps an append-only file")
        }
        return findings
    }
}

/// What `enqueue doctor --json` prints: durations in seconds.
struct DoctorFindings: Encodable {
    struct RabbitMQ: Encodable {
        var endpoint: String
        var virtualHost: String
        var connectSeconds: Double
        /// Publishing every message, each confirmed.
        var publishSeconds: Double
        /// Consuming, checking and acking every message.
        var consumeSeconds: Double
    }

    struct Redis: Encodable {
        struct Persistence: Encodable {
            var appendOnly: Bool
            var appendFsync: String
            var save: String
            /// What falls short of durable, if anything.
            var warning: String?
        }

        var endpoint: String
        var database: Int
        var connectSeconds: Double
        /// The pipelined INCRs, one per message.
        var incrementSeconds: Double
        /// Nil when Redis refused CONFIG GET.
        var persistence: Persistence?
    }

    var messages: Int
    var rabbitMQ: RabbitMQ?
    var redis: Redis?
    var ok = true
}

struct DoctorProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
