import ArgumentParser
import Broker
import Foundation
import Workers

/// `enqueue bench`: end-to-end throughput and latency of counter actors,
/// against this machine's ceiling measured in the same run.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark counters end to end against the raw broker's ceiling.",
        discussion: """
            Spawns ACTORS counters (as `counter-SUFFIX`, isolated from real data), sends MESSAGES adds to \
            each from PUBLISHERS concurrent connections, and waits until every counter's committed state \
            holds its total. With --workers N it starts N worker processes itself (the `worker` binary \
            beside this one) and reports their CPU time and peak RSS. Latency: one message in \
            --sample-every is sent as an ask; its reply is published right after its turn commits, so \
            send→reply bounds send→commit from above.

            With --drain: a backlog drained from cold instead. A set-up worker declares the type and spawns \
            the counters and stops; all ACTORS x MESSAGES adds are then published with no worker running, \
            and the clock runs from the start of a fresh worker process until every counter holds its total. \
            Its ceiling is the consume-only loop: as many messages of the same shape pre-published into one \
            queue (and into --partitions queues) and consumed + acked through the Broker layer as fast as it \
            goes. No latency samples (nothing waits for replies).

            With --delays: ACTORS x MESSAGES delayed messages to `lateness` actors (the worker's built-in), each \
            due at a uniformly random time in a window of --spread seconds that opens --lead seconds after the first \
            send; the bench waits until the worker has stored every one (the due sets hold them all) and fails if the \
            window opened first. Each turn records how late it ran (now − Message.scheduledAt) and the actors' \
            histograms are merged: p50, p90, p99, p99.9, max. Then \
            the worker's CPU over --idle-seconds with nothing pending, and Redis memory per pending delayed \
            message (--memory-messages sent an hour ahead).
            """)

    @OptionGroup var servers: ServerOptions
    @Option(help: "Counter actors.") var actors = 1_000
    @Option(name: .customLong("messages"), help: "Adds per actor.") var messagesPerActor = 100
    @Option(help: "Concurrent publishing connections.") var publishers = 4
    @Option(help: "Worker processes to start (0: use workers already running, hosting `counter`).") var workers = 1
    @Option(name: .customLong("sample-every"), help: "Send one message in this many as an ask, for latency.") var sampleEvery = 100
    @Option(help: "Partitions for the benchmark's counter type (with --workers).") var partitions = 16
    @Option(help: "Each started worker's --concurrency.") var concurrency = 64
    @Option(help: "Each started worker's --prefetch (unacked deliveries per partition).") var prefetch = 256
    @Option(help: "Offered load in messages/s across all publishers (0: as fast as they can), e.g. half the unlimited throughput to measure latency at half load.")
    var rate: Double = 0
    @Flag(name: .customLong("skip-ceiling"), help: "Do not measure the raw broker loop.") var skipCeiling = false
    @Flag(name: .customLong("skip-topology-ceiling"), help: "Do not also measure the raw loop spread over as many queues as --partitions.")
    var skipTopologyCeiling = false
    @Flag(name: .customLong("ceiling-only"), help: "Measure only the raw broker loop (for profiling RabbitMQ and the Broker layer).") var ceilingOnly = false
    @Flag(help: "Drain a backlog published before the worker starts, against the consume-only ceiling (see above).") var drain = false
    @Flag(help: "Delayed messages instead (see above): lateness at the turn, idle CPU, Redis memory per pending message.") var delays = false
    @Option(help: "With --delays: the due times fall uniformly in a window this many seconds long.") var spread: Double = 10
    @Option(help: "With --delays: seconds from the first send until the window opens; every message must be stored by then.")
    var lead: Double = 30
    @Option(name: .customLong("idle-seconds"), help: "With --delays: how long to measure the idle worker's CPU.") var idleSeconds: Double = 30
    @Option(name: .customLong("memory-messages"), help: "With --delays: messages delayed by an hour to measure Redis memory with.")
    var memoryMessages = 100_000
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard rate >= 0 else { throw ValidationError("--rate must be 0 (unlimited) or positive") }
        guard actors >= 1, messagesPerActor >= 1, publishers >= 1, workers >= 0, sampleEvery >= 1 else {
            throw ValidationError("--actors, --messages, --publishers and --sample-every must be positive; --workers at least 0")
        }
        if delays {
            guard !drain else { throw ValidationError("give --drain or --delays, not both") }
            guard workers >= 1 else { throw ValidationError("--delays starts its own worker processes: give --workers 1 or more, not 0") }
            guard rate == 0 else { throw ValidationError("--delays spreads the due times with --spread; drop --rate") }
            guard spread > 0, idleSeconds > 0, memoryMessages >= 1, lead > 0 else {
                throw ValidationError("--spread, --lead and --idle-seconds must be positive, --memory-messages at least 1")
            }
        }
        if drain {
            guard workers >= 1 else { throw ValidationError("--drain starts its own worker processes: give --workers 1 or more, not 0") }
            guard rate == 0 else { throw ValidationError("--drain publishes everything before the worker starts; drop --rate") }
            guard (1...65535).contains(prefetch) else { throw ValidationError("--prefetch must be from 1 to 65535") }
        }
    }

    func run() async throws {
        if drain { return try await DrainBench(bench: self).run() }
        if delays { return try await DelaysBench(bench: self).run() }
        let amqp = try AMQPConfiguration(url: servers.amqpURL)
        let redis = try RedisConfiguration(url: servers.redisURL)
        let total = actors * messagesPerActor
        let log = StatusLine(enabled: !json)

        var ceiling: Double?
        if !skipCeiling {
            log.say("measuring the ceiling: \(total) messages published with confirms → consumed → acked through Broker")
            ceiling = try await BrokerCeiling.measure(amqp: amqp, messages: total, publishers: publishers)
        }
        // The same loop over one queue per partition: what RabbitMQ can do
        // with the actors' topology, so the report can tell its cost from ours.
        var topologyCeiling: Double?
        if !skipCeiling, !skipTopologyCeiling, partitions > 1 {
            log.say("measuring the ceiling over \(partitions) queues, as many as the partitions")
            topologyCeiling = try await BrokerCeiling.measure(amqp: amqp, messages: total, publishers: publishers, queues: partitions)
        }
        if ceilingOnly {
            log.clear()
            print("ceiling (Broker publish+confirm → consume → ack): \(Int(ceiling ?? 0).formattedWithSeparators) messages/s")
            if let topologyCeiling { print("over \(partitions) queues: \(Int(topologyCeiling).formattedWithSeparators) messages/s") }
            return
        }

        var generator = SystemRandomNumberGenerator()
        let suffix = "bench" + String(generator.next() as UInt32, radix: 36)
        let type = workers > 0 ? "counter-\(suffix)" : "counter"
        let fleet = try BenchFleet(count: workers, suffix: suffix, partitions: partitions, concurrency: concurrency, prefetch: prefetch, servers: servers)
        defer { fleet.stop() }

        let client = try await GreenroomClient.connect(amqp: amqp, redis: redis)
        if workers > 0 {
            log.say("starting \(workers) worker process\(workers == 1 ? "" : "es")")
            try await fleet.waitUntilServing(client, type: type)
        }
        log.say("spawning \(actors) counters")
        let counters = try (0..<actors).map { try ActorAddress(type: type, id: "\(suffix)-\($0)") }
        try await client.send(counters.map { .init(to: $0, kind: WireFormat.SystemKind.spawn, payload: Array("{}".utf8)) })
        try await Self.waitForCounts(client, counters, expected: 0, log: log)

        log.say("sending \(total) adds from \(publishers) publishers")
        let senders = try await (0..<publishers).asyncMap { _ in try await GreenroomClient.connect(amqp: amqp, redis: redis) }
        let latencies = LatencySamples()
        let clock = ContinuousClock()
        let start = clock.now
        let sampleEvery = sampleEvery
        let perActor = messagesPerActor
        // Paced sending is spread evenly: each publisher sends a small batch
        // every 20 ms, the publishers staggered across that interval, so the
        // offered load is smooth. (Batches of 50 from every publisher at the
        // same instants made bursts of 200 messages that RabbitMQ takes tens
        // of milliseconds to absorb: latency then measured the bursts.) And it
        // is open loop: a batch goes out on schedule without waiting for the
        // previous one's confirms, so a slow moment is measured as latency
        // instead of silently lowering the offered load.
        let perPublisherRate = rate / Double(publishers)
        let tick = 0.02
        let batchSize = rate > 0 ? max(1, Int((perPublisherRate * tick).rounded())) : 500
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, sender) in senders.enumerated() {
                let mine = stride(from: index, to: counters.count, by: senders.count).map { counters[$0] }
                group.addTask {
                    var sequence = 0
                    var scheduled: [Task<Void, any Error>] = []
                    for _ in 0..<perActor {
                        var batch: [GreenroomClient.Outgoing] = []
                        for counter in mine {
                            sequence += 1
                            if sequence % sampleEvery == 0 {
                                let sent = clock.now
                                await latencies.track(Task {
                                    if (try? await sender.ask(counter, kind: "add", payload: Array(#"{"by":1}"#.utf8), timeout: .seconds(120))) != nil {
                                        await latencies.add(clock.now - sent)
                                    }
                                })
                            } else {
                                batch.append(.init(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8)))
                            }
                            if batch.count == batchSize {
                                if perPublisherRate > 0 {
                                    let due = Double(sequence) / perPublisherRate + tick * Double(index) / Double(senders.count)
                                    try await Task.sleep(until: start + .microseconds(Int(due * 1_000_000)), clock: clock)
                                    let out = batch
                                    scheduled.append(Task { try await sender.send(out) })
                                } else {
                                    try await sender.send(batch)
                                }
                                batch.removeAll(keepingCapacity: true)
                            }
                        }
                        if !batch.isEmpty { try await sender.send(batch) }
                    }
                    for send in scheduled { try await send.value }
                }
            }
            try await group.waitForAll()
        }
        let sent = clock.now - start
        log.say("sent in \(Report.format(sent)); waiting for every counter to reach \(perActor)")
        try await Self.waitForCounts(client, counters, expected: perActor, log: log)
        let elapsed = clock.now - start
        let throughput = Double(total) / elapsed.seconds
        let usage = fleet.usage()
        await latencies.settle()

        for sender in senders { await sender.close() }
        await client.close()
        let result = BenchResult(
            actors: actors, messages: total, publishers: publishers, workers: workers,
            throughput: throughput, sendRate: Double(total) / sent.seconds, offeredRate: rate > 0 ? rate : nil, ceiling: ceiling, ratio: ceiling.map { throughput / $0 },
            partitions: partitions, topologyCeiling: topologyCeiling, topologyRatio: topologyCeiling.map { throughput / $0 },
            latencyMilliseconds: await latencies.percentiles([50, 90, 99, 99.9]), latencySamples: await latencies.count,
            workerCPUSeconds: usage?.map(\.cpuSeconds), workerPeakRSSMegabytes: usage?.map(\.peakRSSMegabytes))
        log.clear()
        print(json ? result.json : result.text)
        if workers > 0 { try await fleet.cleanUp(amqp: amqp, redis: redis, type: type) }
    }

    /// Polls every counter's committed state until each is `{"count": expected}`;
    /// past `deadline` (if any) it throws, saying how many got there.
    static func waitForCounts(_ client: GreenroomClient, _ counters: [ActorAddress], expected: Int, log: StatusLine,
                              deadline: ContinuousClock.Instant? = nil) async throws {
        let target = Array(#"{"count":\#(expected)}"#.utf8)
        var pending = counters
        while !pending.isEmpty {
            let states = try await withThrowingTaskGroup(of: (Int, [UInt8]?).self) { group in
                for (index, counter) in pending.enumerated() {
                    group.addTask { (index, try? await client.state(of: counter)) }
                }
                return try await group.reduce(into: [Int: [UInt8]]()) { $0[$1.0] = $1.1 }
            }
            pending = pending.enumerated().filter { states[$0.offset] != target }.map(\.element)
            if !pending.isEmpty, let deadline, ContinuousClock.now >= deadline {
                throw BenchError("only \(counters.count - pending.count) of \(counters.count) counters reached \(expected) in time; "
                                 + "see the workers' logs, /tmp/greenroom-bench-*.log, and enqueue status")
            }
            if !pending.isEmpty {
                log.say("\(counters.count - pending.count) of \(counters.count) counters at \(expected)")
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

