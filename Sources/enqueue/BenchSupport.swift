import Broker
import Foundation
import Synchronization
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// This machine's ceiling: persistent messages published with confirms by
/// several connections, consumed and acked one by one (a plain loop) by
/// another, through the Broker layer — no actors, no Redis. With `queues`
/// above 1 the messages are spread round robin over that many queues, each
/// consumed on its own channel: the same fan-out as an actor type's
/// partition queues, to tell RabbitMQ's cost of the topology from ours.
enum BrokerCeiling {
    static func measure(amqp: AMQPConfiguration, messages: Int, publishers: Int, queues queueCount: Int = 1) async throws -> Double {
        let consumerConnection = try await AMQPConnection.connect(amqp)
        var generator = SystemRandomNumberGenerator()
        let prefix = "greenroom.bench-ceiling.\(String(generator.next() as UInt32, radix: 36))"
        let queues = (0..<max(1, queueCount)).map { "\(prefix).\($0)" }
        let received = Tally()
        var consumers: [AMQPConsumer] = []
        for queue in queues {
            let channel = try await consumerConnection.openChannel()
            try await channel.declareQueue(queue, durable: true, autoDelete: true)
            try await channel.setPrefetch(UInt16(max(1, 1_000 / queues.count)))
            consumers.append(try await channel.consume(queue: queue))
        }
        let clock = ContinuousClock()
        let start = clock.now
        let (allReceived, allReceivedContinuation) = AsyncStream<Void>.makeStream()
        let consuming = consumers.map { consumer in
            Task {
                for try await delivery in consumer {
                    consumer.channel.ackWithoutWaiting(delivery.deliveryTag)
                    if received.add() == messages { allReceivedContinuation.finish() }
                }
            }
        }
        let body = Array(#"{"by":1}"#.utf8)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for publisher in 0..<publishers {
                group.addTask {
                    let connection = try await AMQPConnection.connect(amqp)
                    let channel = try await connection.openChannel()
                    try await channel.enableConfirms()
                    let mine = (messages - publisher + publishers - 1) / publishers
                    var sent = 0
                    while sent < mine {
                        let count = min(500, mine - sent)
                        let batch = (0..<count).map { index in
                            AMQPPublication(AMQPMessage(body: body, properties: .init(contentType: "application/json", persistent: true,
                                                                                     messageID: "c\(publisher)-\(sent + index)", type: "add")),
                                            routingKey: queues[(sent + index) % queues.count], mandatory: true)
                        }
                        for result in try await channel.publish(batch) { try result.get() }
                        sent += count
                    }
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        for await _ in allReceived {}
        let elapsed = clock.now - start
        for consumer in consumers { try await consumer.cancel() }
        for task in consuming { _ = try? await task.value }
        let cleanup = try await consumerConnection.openChannel()
        for queue in queues { try await cleanup.deleteQueue(queue) }
        await consumerConnection.close()
        return Double(messages) / elapsed.seconds
    }
}

/// A count shared by the ceiling's consumers.
final class Tally: Sendable {
    private let count = Mutex(0)
    func add(_ more: Int = 1) -> Int { count.withLock { $0 += more; return $0 } }
}

/// Latency samples; percentiles by sorting (exact, and cheap at these counts).
actor LatencySamples {
    private var samples: [Double] = []
    private var pending: [Task<Void, Never>] = []

    /// Keeps a sampling task, so the results can wait for its reply.
    func track(_ task: Task<Void, Never>) { pending.append(task) }

    /// Waits for every sampled ask to have its reply (or time out).
    func settle() async {
        let tasks = pending
        pending.removeAll()
        for task in tasks { await task.value }
    }

    func add(_ duration: Duration) { samples.append(duration.seconds * 1_000) }

    var count: Int { samples.count }

    func percentiles(_ points: [Double]) -> [String: Double] {
        guard !samples.isEmpty else { return [:] }
        let sorted = samples.sorted()
        var result: [String: Double] = [:]
        for point in points {
            let rank = Int((point / 100 * Double(sorted.count)).rounded(.up)) - 1
            result["p\(point == point.rounded() ? String(Int(point)) : String(point))"] = sorted[max(0, min(sorted.count - 1, rank))]
        }
        return result
    }
}

/// Worker processes the benchmark starts, measures and stops.
final class BenchFleet: @unchecked Sendable {
    private var pids: [pid_t] = []
    private(set) var finalUsage: [ProcessUsage]?

    struct ProcessUsage {
        var cpuSeconds: Double
        var peakRSSMegabytes: Double
    }

    /// `logTag` tells apart the logs of fleets started for one type (the drain's set-up worker and its drained one);
    /// `types` is what the workers host (as `TYPE-SUFFIX`).
    init(count: Int, suffix: String, partitions: Int, concurrency: Int, prefetch: Int, servers: ServerOptions, logTag: String = "",
         types: String = "counter") throws {
        guard count > 0 else { return }
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let binary = me.deletingLastPathComponent().appendingPathComponent("worker").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("no worker binary beside enqueue at \(binary); build it (swift build) or use --workers 0")
        }
        var settings = [
            "GREENROOM_AMQP_URL": servers.amqpURL, "GREENROOM_REDIS_URL": servers.redisURL, "GREENROOM_TYPES": types,
            "GREENROOM_TYPE_SUFFIX": suffix, "GREENROOM_PARTITIONS": "\(partitions)", "GREENROOM_CONCURRENCY": "\(concurrency)",
            "GREENROOM_PREFETCH": "\(prefetch)", "GREENROOM_LOG_LEVEL": "warning", "PATH": "/usr/bin:/bin",
        ]
        if let queueType = servers.queueTypeFlag { settings["GREENROOM_QUEUE_TYPE"] = queueType.rawValue }
        // Other worker settings pass through from the bench's own environment
        // (GREENROOM_TURN_DEADLINE=0 enqueue bench …), so one run can compare them.
        let passed = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("GREENROOM_") && settings[$0.key] == nil }
        let environment = settings.merging(passed) { mine, _ in mine }.map { "\($0.key)=\($0.value)" }.sorted()
        for index in 0..<count {
            pids.append(try Self.spawn(binary, environment: environment, log: "/tmp/greenroom-bench-\(suffix)\(logTag.isEmpty ? "" : "-" + logTag)-\(index).log"))
        }
    }

    private static func spawn(_ path: String, environment: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw BenchError("cannot start \(path): \(String(cString: strerror(result)))") }
        return pid
    }

    func waitUntilServing(_ client: GreenroomClient, type: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let partitions = (try? await client.status(types: [type]).partitions.filter { $0.type == type }) ?? []
            if !partitions.isEmpty, partitions.allSatisfy({ $0.owner != nil }) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("the benchmark's workers did not take their partitions within 60 s (see /tmp/greenroom-bench-*.log)")
    }

    /// CPU time (user + system) and peak RSS of each worker, read from /proc.
    func usage() -> [ProcessUsage]? {
        guard !pids.isEmpty else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return pids.map { pid in
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            let fields = stat.split(separator: ")").last.map { $0.split(separator: " ") } ?? []
            // After "pid (comm)": state is field 0; utime and stime are fields 11 and 12.
            let cpu = fields.count > 12 ? (Double(fields[11]) ?? 0) / ticks + (Double(fields[12]) ?? 0) / ticks : 0
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let hwm = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
                .flatMap { Double($0.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "") } ?? 0
            return ProcessUsage(cpuSeconds: cpu, peakRSSMegabytes: hwm / 1_024)
        }
    }

    func stop() {
        for pid in pids {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        pids.removeAll()
    }

    /// Deletes the benchmark type's queues and Redis keys.
    func cleanUp(amqp: AMQPConfiguration, redis: RedisConfiguration, type: String) async throws {
        stop()
        let client = try await GreenroomClient.connect(amqp: amqp, redis: redis)
        try await client.deleteType(type)
        await client.close()
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct BenchResult: Codable {
    var actors: Int
    var messages: Int
    var publishers: Int
    var workers: Int
    var throughput: Double
    /// How fast the publishers got their messages confirmed (the offered load).
    var sendRate: Double
    /// The --rate asked for, when the load was paced.
    var offeredRate: Double?
    var ceiling: Double?
    var ratio: Double?
    var partitions: Int
    /// The same raw loop over one queue per partition (the actors' fan-out).
    var topologyCeiling: Double?
    var topologyRatio: Double?
    var latencyMilliseconds: [String: Double]
    var latencySamples: Int
    var workerCPUSeconds: [Double]?
    var workerPeakRSSMegabytes: [Double]?

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    var text: String {
        func f(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
        var lines = [
            "actors \(actors), messages \(messages), publishers \(publishers), workers \(workers)"
                + (offeredRate.map { ", paced at \(Int($0).formattedWithSeparators)/s" } ?? ""),
            "throughput (send → every counter committed): \(Int(throughput).formattedWithSeparators) messages/s "
                + "(publishers confirmed at \(Int(sendRate).formattedWithSeparators)/s)",
        ]
        if let ceiling, let ratio {
            lines.append("ceiling (Broker publish+confirm → consume → ack, same run): \(Int(ceiling).formattedWithSeparators) messages/s; ratio \(f(ratio, 2))")
        }
        if let topologyCeiling, let topologyRatio {
            lines.append("the same loop over \(partitions) queues (the partitions' fan-out): \(Int(topologyCeiling).formattedWithSeparators) messages/s; ratio \(f(topologyRatio, 2))")
        }
        let order = ["p50", "p90", "p99", "p99.9"]
        lines.append("send → commit latency (upper bound, \(latencySamples) samples): "
            + order.compactMap { key in latencyMilliseconds[key].map { "\(key) \(f($0)) ms" } }.joined(separator: ", "))
        if let cpu = workerCPUSeconds, let rss = workerPeakRSSMegabytes {
            lines.append("worker CPU: \(cpu.map { f($0) + " s" }.joined(separator: ", ")); peak RSS: \(rss.map { f($0) + " MB" }.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }
}

/// A progress line on stderr when it is a terminal.
final class StatusLine: Sendable {
    private let enabled: Bool

    init(enabled: Bool) {
        self.enabled = enabled && isatty(2) != 0
    }

    func say(_ text: String) {
        guard enabled else { return }
        let line = "\r\u{1B}[K" + text
        write(2, line, line.utf8.count)
    }

    func clear() {
        guard enabled else { return }
        let line = "\r\u{1B}[K"
        write(2, line, line.utf8.count)
    }
}
