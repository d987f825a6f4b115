import ArgumentParser
import Broker
import CommandLineAdvice
import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The Greenroom worker command: the `worker` process, and any program of
/// your own that hosts your behaviours with `WorkerCommand.main(hosting:)`
/// (see Hosting.swift). Underneath it is `WorkerRuntime` with the hosted
/// `HostedType`s in a `ServiceGroup`.
public struct WorkerCommand: AsyncParsableCommand {
    /// The hosted types by name.
    static var hosted: [String: HostedType] { hosting.withLock { $0 }.byName }

    public init() {}

    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: programName,
            abstract: "Run a Greenroom worker: consume actor messages and run their turns.",
            discussion: """
                Every flag falls back to an environment variable (in parentheses), then to the default.
                SIGTERM or SIGINT stops gracefully: no new messages, in-flight turns finish and are acked.
                A second signal exits at once (unacked messages are redelivered to the next worker).
                A worker that loses RabbitMQ or Redis while running reconnects by itself, with backoff.
                """)
    }

    /// The name this program was started as (`worker`, `custom-worker`), for usage and help.
    static var programName: String {
        CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "worker"
    }

    // The URLs print with their passwords masked (see ServerURLArgument).
    @Option(name: .customLong("amqp-url"), help: .init("RabbitMQ URL (GREENROOM_AMQP_URL).", valueName: "url"))
    var amqpURLArgument = ServerURLArgument(env("GREENROOM_AMQP_URL") ?? AMQPConfiguration.defaultURL)
    var amqpURL: String { amqpURLArgument.text }

    @Option(name: .customLong("redis-url"), help: .init("Redis URL (GREENROOM_REDIS_URL).", valueName: "url"))
    var redisURLArgument = ServerURLArgument(env("GREENROOM_REDIS_URL") ?? RedisConfiguration.defaultURL)
    var redisURL: String { redisURLArgument.text }

    @Option(help: "Comma-separated actor types to host (GREENROOM_TYPES). Hosted: \(hosted.keys.sorted().joined(separator: ", ")).")
    var types: String = env("GREENROOM_TYPES") ?? hosted.keys.sorted().joined(separator: ",")

    @Option(help: "Turns running at once (GREENROOM_CONCURRENCY).")
    var concurrency: Int = env("GREENROOM_CONCURRENCY").flatMap { Int($0) } ?? 64

    @Option(help: "Unacked deliveries per partition (GREENROOM_PREFETCH).")
    var prefetch: Int = env("GREENROOM_PREFETCH").flatMap { Int($0) } ?? 256

    @Option(help: "Partitions per type, fixed when a type is first declared (GREENROOM_PARTITIONS).")
    var partitions: Int = env("GREENROOM_PARTITIONS").flatMap { Int($0) } ?? 16

    @Option(name: .customLong("max-crashes"), help: "Process deaths while handling one message before it is dead-lettered (GREENROOM_MAX_CRASHES).")
    var maxCrashes: Int = env("GREENROOM_MAX_CRASHES").flatMap { Int($0) } ?? 3

    @Option(name: .customLong("dead-letter-max-length"), help: "Letters greenroom.dead keeps, oldest dropped first, when this worker creates it (GREENROOM_DEAD_LETTER_MAX_LENGTH).")
    var deadLetterMaxLength: Int = env("GREENROOM_DEAD_LETTER_MAX_LENGTH").flatMap { Int($0) } ?? 100_000

    @Option(name: .customLong("dead-letter-ttl"), help: "Seconds greenroom.dead keeps a letter, when this worker creates it (GREENROOM_DEAD_LETTER_TTL).")
    var deadLetterTTL: Int = env("GREENROOM_DEAD_LETTER_TTL").flatMap { Int($0) } ?? 7 * 86_400

    @Option(name: .customLong("max-activations"), help: "Actors kept in memory between turns (GREENROOM_MAX_ACTIVATIONS).")
    var maxActivations: Int = env("GREENROOM_MAX_ACTIVATIONS").flatMap { Int($0) } ?? 100_000

    @Option(name: .customLong("lease-ttl"), help: "Seconds a partition lease lives without renewal; also how long a silent worker counts as live (GREENROOM_LEASE_TTL).")
    var leaseTTL: Double = env("GREENROOM_LEASE_TTL").flatMap { Double($0) } ?? 6

    @Option(help: "Seconds between membership heartbeats and lease renewals (GREENROOM_HEARTBEAT).")
    var heartbeat: Double = env("GREENROOM_HEARTBEAT").flatMap { Double($0) } ?? 1

    @Option(name: .customLong("turn-deadline"), help: "Seconds a turn may run before it counts as a failed attempt; 0: no deadline, and no task per run (GREENROOM_TURN_DEADLINE).")
    var turnDeadline: Double = env("GREENROOM_TURN_DEADLINE").flatMap { Double($0) } ?? 30

    @Option(name: .customLong("drain-timeout"), help: "Seconds a graceful stop waits for in-flight turns; then the rest is requeued (GREENROOM_DRAIN_TIMEOUT).")
    var drainTimeout: Double = env("GREENROOM_DRAIN_TIMEOUT").flatMap { Double($0) } ?? 30

    @Option(name: .customLong("queue-type"), help: .init(
        "classic or quorum; default quorum when --amqp-url names several nodes, else classic (GREENROOM_QUEUE_TYPE).", valueName: "type"))
    var queueTypeFlag: QueueType?

    /// `--queue-type`, else GREENROOM_QUEUE_TYPE (checked in `validate`);
    /// nil: the default for the URL (`QueueType.default(for:)`).
    var queueType: QueueType? { queueTypeFlag ?? Self.env("GREENROOM_QUEUE_TYPE").flatMap(QueueType.init(rawValue:)) }

    @Option(name: .customLong("type-suffix"), help: .init(
        "Host each type as NAME-SUFFIX, isolating tests or staging on a shared broker (GREENROOM_TYPE_SUFFIX).", visibility: .hidden))
    var typeSuffix: String = env("GREENROOM_TYPE_SUFFIX") ?? ""

    @Flag(inversion: .prefixedNo, help: "Refuse to start unless Redis keeps an append-only file (GREENROOM_REQUIRE_DURABLE_REDIS=1).")
    var requireDurableRedis: Bool = flag(env("GREENROOM_REQUIRE_DURABLE_REDIS")) ?? false

    @Option(name: .customLong("metrics-port"), help: "Serve Prometheus metrics at http://HOST:PORT/metrics; off unless set (GREENROOM_METRICS_PORT).")
    var metricsPortFlag: Int?

    /// `--metrics-port`, else GREENROOM_METRICS_PORT (checked in `validate`); nil: no metrics.
    var metricsPort: Int? { metricsPortFlag ?? Self.env("GREENROOM_METRICS_PORT").flatMap { Int($0) } }

    @Option(name: .customLong("metrics-host"), help: "Address the metrics are served on; 0.0.0.0 in a container (GREENROOM_METRICS_HOST).")
    var metricsHost: String = env("GREENROOM_METRICS_HOST") ?? "127.0.0.1"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical (GREENROOM_LOG_LEVEL).")
    var logLevel: String = env("GREENROOM_LOG_LEVEL") ?? "info"

    @Option(name: .customLong("log-format"), help: "text, or json: one object per line (GREENROOM_LOG_FORMAT).")
    var logFormat: String = env(LogFormat.environmentVariable) ?? "text"

    /// Settings read from the environment must parse like their flags do:
    /// a typo must not silently mean the default.
    static let wholeNumberEnvironment = ["GREENROOM_CONCURRENCY", "GREENROOM_PREFETCH", "GREENROOM_PARTITIONS", "GREENROOM_MAX_ACTIVATIONS",
                                         "GREENROOM_MAX_CRASHES", "GREENROOM_DEAD_LETTER_MAX_LENGTH", "GREENROOM_DEAD_LETTER_TTL",
                                         "GREENROOM_METRICS_PORT"]
    static let secondsEnvironment = ["GREENROOM_LEASE_TTL", "GREENROOM_HEARTBEAT", "GREENROOM_TURN_DEADLINE", "GREENROOM_DRAIN_TIMEOUT"]

    public func validate() throws {
        for name in Self.wholeNumberEnvironment {
            if let text = Self.env(name), Int(text) == nil {
                throw ValidationError("\(name) must be a whole number, not '\(text)'")
            }
        }
        for name in Self.secondsEnvironment {
            if let text = Self.env(name), Double(text) == nil {
                throw ValidationError("\(name) must be a number of seconds, not '\(text)'")
            }
        }
        if let text = Self.env("GREENROOM_REQUIRE_DURABLE_REDIS"), Self.flag(text) == nil {
            throw ValidationError("GREENROOM_REQUIRE_DURABLE_REDIS must be 1, true, yes, 0, false or no; not '\(text)'")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical; not '\(logLevel)'")
        }
        _ = try LogFormat(naming: logFormat, from: "--log-format (or \(LogFormat.environmentVariable))")
        for name in typeNames where Self.hosted[name] == nil {
            throw ValidationError("unknown actor type '\(name)'; this worker hosts \(Self.hosted.keys.sorted().joined(separator: ", "))")
        }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard maxActivations >= 1 else { throw ValidationError("--max-activations must be at least 1") }
        guard maxCrashes >= 1 else { throw ValidationError("--max-crashes must be at least 1") }
        guard deadLetterMaxLength >= 1, deadLetterTTL >= 1 else {
            throw ValidationError("--dead-letter-max-length and --dead-letter-ttl must be at least 1")
        }
        guard heartbeat >= 0.05, leaseTTL >= 2 * heartbeat else {
            throw ValidationError("--lease-ttl (\(leaseTTL) s) must be at least twice --heartbeat (\(heartbeat) s), and --heartbeat at least 0.05 s")
        }
        guard drainTimeout >= 0 else { throw ValidationError("--drain-timeout must be 0 seconds or more, not \(drainTimeout)") }
        guard turnDeadline >= 0 else { throw ValidationError("--turn-deadline must be 0 (no deadline) or more seconds, not \(turnDeadline)") }
        guard (1...65535).contains(prefetch) else { throw ValidationError("--prefetch must be from 1 to 65535") }
        if let metricsPort, !(1...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be from 1 to 65535, not \(metricsPort)")
        }
        guard (1...4096).contains(partitions) else { throw ValidationError("--partitions must be from 1 to 4096, not \(partitions)") }
        if let text = Self.env("GREENROOM_QUEUE_TYPE"), QueueType(rawValue: text) == nil {
            throw ValidationError("GREENROOM_QUEUE_TYPE must be classic or quorum, not '\(text)'")
        }
        do {
            _ = try Self.hosting.withLock { $0 }.hooks()
        } catch {
            throw ValidationError("\(error)")
        }
    }

    private var typeNames: [String] {
        types.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    public func run() async throws {
        let hosting = Self.hosting.withLock { $0 }
        let duplicates = hosting.duplicateNames
        guard duplicates.isEmpty else { throw DuplicateHostedTypes(names: duplicates) }
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let format = LogFormat(rawValue: logFormat) ?? .text
        LoggingSystem.bootstrap { label in format.handler(label: label, level: level) }
        let logger = Logger(label: "greenroom.worker")
        // Before the runtime: its metric handles are made when it is created.
        let metrics = try metricsPort.map { try MetricsEndpoint.start(host: metricsHost, port: $0, logger: logger) }
        var configuration = WorkerRuntime.Configuration(
            amqp: try AMQPConfiguration(url: amqpURL), redis: try RedisConfiguration(url: redisURL),
            types: typeNames.compactMap { name in
                Self.hosted[name].map { typeSuffix.isEmpty ? $0 : $0.renamed("\(name)-\(typeSuffix)") }
            }, partitions: partitions, concurrency: concurrency,
            prefetch: UInt16(prefetch), queueType: queueType, maximumActivations: maxActivations,
            leaseMilliseconds: Int(leaseTTL * 1_000), heartbeatMilliseconds: Int(heartbeat * 1_000),
            hooks: try hosting.hooks())
        configuration.requireDurableRedis = requireDurableRedis
        configuration.maximumCrashes = maxCrashes
        configuration.deadLetterBounds = .init(maximumLength: deadLetterMaxLength, maximumAgeSeconds: deadLetterTTL)
        configuration.turnDeadline = .milliseconds(Int(turnDeadline * 1_000))
        configuration.drainTimeout = .milliseconds(Int(drainTimeout * 1_000))
        let runtime = WorkerRuntime(configuration: configuration, logger: logger)
        // The first SIGTERM/SIGINT drains the worker gracefully; a second one
        // cancels it: connections close at once and the broker redelivers
        // whatever was not acked to the next owner. (A ServiceGroup refuses
        // one signal for both, so the signals are counted here.)
        // Shut down in reverse order: the runtime drains while /metrics still answers.
        let services: [any Service] = (metrics.map { [$0] } ?? []) + [runtime]
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        let running = Task { try await group.run() }
        let signals = Task {
            var received = 0
            for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                received += 1
                if received == 1 {
                    logger.info("signal received: stopping gracefully (a second one stops at once)", metadata: ["signal": "\(signal)"])
                    await group.triggerGracefulShutdown()
                } else {
                    running.cancel()
                    return
                }
            }
        }
        defer { signals.cancel() }
        do {
            try await running.value
        } catch {
            if runtime.wasAbandoned {
                FileHandle.standardError.write(Data("second signal: stopped at once; unacked messages go to the next worker\n".utf8))
                throw ExitCode(130)
            }
            // One line with advice, exit 1: a supervisor (systemd, compose
            // `restart:`) starts a fresh worker.
            throw error
        }
    }

    /// A yes/no setting from the environment; nil when it is neither.
    static func flag(_ text: String?) -> Bool? {
        switch text?.lowercased() {
        case "1", "true", "yes": true
        case "0", "false", "no": false
        default: nil
        }
    }

    public static func env(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    }
}

extension QueueType: ExpressibleByArgument {}
