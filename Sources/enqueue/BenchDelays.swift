import Broker
import Foundation
import Workers

/// `enqueue bench --delays`: delayed messages from a client, due spread
/// uniformly over `--spread` seconds that start `--lead` seconds after the
/// first send, to ACTORS `lateness` actors hosted by the started worker(s);
/// all are stored by the worker before the first is due. Each turn records
/// how late it ran (now − `Message.scheduledAt`), and the histograms of
/// every actor are merged.
/// Then, in the same run: the worker's CPU while idle with nothing pending
/// (the cost of watching the due sets), and Redis memory per pending
/// delayed message (`--memory-messages` scheduled an hour ahead, measured
/// with MEMORY USAGE of the due sets and with INFO's used_memory).
struct DelaysBench {
    let bench: Bench

    func run() async throws {
        let amqp = try AMQPConfiguration(url: bench.servers.amqpURL)
        let redisConfiguration = try RedisConfiguration(url: bench.servers.redisURL)
        let log = StatusLine(enabled: !bench.json)
        var generator = SystemRandomNumberGenerator()
        let suffix = "delays" + String(generator.next() as UInt32, radix: 36)
        let type = "\(Lateness.typeName)-\(suffix)"
        let fleet = try BenchFleet(count: bench.workers, suffix: suffix, partitions: bench.partitions, concurrency: bench.concurrency,
                                   prefetch: bench.prefetch, servers: bench.servers, types: Lateness.typeName)
        defer { fleet.stop() }
        let client = try await GreenroomClient.connect(amqp: amqp, redis: redisConfiguration)
        let redis = try await RedisClient.connect(redisConfiguration)
        do {
            let result = try await measure(fleet: fleet, client: client, redis: redis, type: type, suffix: suffix, log: log)
            log.clear()
            print(bench.json ? result.json : result.text)
        } catch {
            log.clear()
            await redis.close()
            try? await fleet.cleanUp(amqp: amqp, redis: redisConfiguration, type: type)
            await client.close()
            throw error
        }
        await redis.close()
        await client.close()
        try await fleet.cleanUp(amqp: amqp, redis: redisConfiguration, type: type)
    }

    private func measure(fleet: BenchFleet, client: GreenroomClient, redis: RedisClient, type: String, suffix: String,
                         log: StatusLine) async throws -> DelaysResult {
        let amqp = try AMQPConfiguration(url: bench.servers.amqpURL)
        let redisConfiguration = try RedisConfiguration(url: bench.servers.redisURL)
        let total = bench.actors * bench.messagesPerActor
        log.say("starting \(bench.workers) worker process\(bench.workers == 1 ? "" : "es") hosting \(type)")
        try await fleet.waitUntilServing(client, type: type)
        log.say("spawning \(bench.actors) lateness actors")
        let actors = try (0..<bench.actors).map { try ActorAddress(type: type, id: "\(suffix)-\($0)") }
        try await client.send(actors.map { .init(to: $0, kind: WireFormat.SystemKind.spawn) })
        _ = try await Self.waitForRecorded(client, actors, total: 0, deadline: .now + .seconds(120), log: log)
        let cpuBefore = fleet.usage()?.map(\.cpuSeconds) ?? []

        // Lateness: every message due at a uniformly random time in a window
        // of `spread` seconds that opens `lead` seconds after the first send,
        // all of them stored by the worker before it opens (the issue's
        // scenario: schedule first, then measure how late they fire).
        let clock = ContinuousClock()
        let start = clock.now
        let opens = Int64((Date().timeIntervalSince1970 + bench.lead) * 1_000)
        let spreadMilliseconds = Int64(bench.spread * 1_000)
        log.say("sending \(total) messages, due \(bench.lead)–\(bench.lead + bench.spread) s from now, from \(bench.publishers) publishers")
        let senders = try await (0..<bench.publishers).asyncMap { _ in try await GreenroomClient.connect(amqp: amqp, redis: redisConfiguration) }
        let perActor = bench.messagesPerActor
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, sender) in senders.enumerated() {
                let mine = stride(from: index, to: actors.count, by: senders.count).map { actors[$0] }
                group.addTask {
                    var batch: [GreenroomClient.Outgoing] = []
                    for _ in 0..<perActor {
                        for actor in mine {
                            let due = opens + Int64.random(in: 0...spreadMilliseconds)
                            // The due time in the payload too: one that arrives past it runs at once, without scheduledAt.
                            batch.append(.init(to: actor, kind: "record", payload: Array(#"{"due":\#(due)}"#.utf8),
                                               notBefore: Date(timeIntervalSince1970: Double(due) / 1_000)))
                            if batch.count == 500 {
                                try await sender.send(batch)
                                batch.removeAll(keepingCapacity: true)
                            }
                        }
                    }
                    if !batch.isEmpty { try await sender.send(batch) }
                }
            }
            try await group.waitForAll()
        }
        let sent = clock.now - start
        for sender in senders { await sender.close() }
        log.say("sent in \(Report.format(sent)); waiting until the worker has stored them all")
        while try await client.dueSetUsage(of: type).entries < total {
            let now = Int64(Date().timeIntervalSince1970 * 1_000)
            guard now < opens else {
                let stored = try await client.dueSetUsage(of: type).entries
                throw BenchError("only \(stored) of \(total) delayed messages were stored when the first came due, \(bench.lead) s after the first send; "
                                 + "give a larger --lead (see the workers' logs, /tmp/greenroom-bench-\(suffix)-*.log)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let allStored = clock.now - start
        let cpuStored = fleet.usage()?.map(\.cpuSeconds) ?? []
        // No polling while they fire: look only once the window has closed.
        let closes = Double(opens + spreadMilliseconds) / 1_000
        log.say("all stored in \(Report.format(allStored)); they come due in \(Int(closes - bench.spread - Date().timeIntervalSince1970)) s")
        try await Task.sleep(for: .milliseconds(max(0, Int((closes - Date().timeIntervalSince1970) * 1_000))))
        let states = try await Self.waitForRecorded(client, actors, total: total, deadline: clock.now + .seconds(300), log: log)
        let elapsed = clock.now - start
        let cpuAfter = fleet.usage()?.map(\.cpuSeconds) ?? []
        var merged = LatenessHistogram()
        for state in states { merged.merge(state.histogram) }

        // Idle: nothing pending, the worker only watches its due sets (after
        // a moment for it to settle what the last turns left: acks, trims).
        try await Task.sleep(for: .seconds(2))
        let pending = try await client.dueSetUsage(of: type)
        log.say("idle for \(bench.idleSeconds) s with \(pending.entries) entries pending: the worker's CPU")
        let idleBefore = fleet.usage()?.map(\.cpuSeconds) ?? []
        try await Task.sleep(for: .milliseconds(Int(bench.idleSeconds * 1_000)))
        let idleAfter = fleet.usage()?.map(\.cpuSeconds) ?? []
        let idleCPUPerMinute = zip(idleBefore, idleAfter).map { ($1 - $0) / bench.idleSeconds * 60 }

        // Memory: `memoryMessages` delayed an hour, stored by the worker, then measured.
        log.say("memory: \(bench.memoryMessages) messages delayed by an hour")
        let usedBefore = try await Self.usedMemory(redis)
        let dueBefore = try await client.dueSetUsage(of: type)
        var memoryBatch: [GreenroomClient.Outgoing] = []
        let later = Date().addingTimeInterval(3_600)
        for index in 0..<bench.memoryMessages {
            memoryBatch.append(.init(to: actors[index % actors.count], kind: "record", notBefore: later))
            if memoryBatch.count == 500 || index == bench.memoryMessages - 1 {
                try await client.send(memoryBatch)
                memoryBatch.removeAll(keepingCapacity: true)
            }
        }
        let deadline = clock.now + .seconds(300)
        var stored = try await client.dueSetUsage(of: type)
        while stored.entries < dueBefore.entries + bench.memoryMessages {
            guard clock.now < deadline else {
                throw BenchError("only \(stored.entries - dueBefore.entries) of \(bench.memoryMessages) delayed messages were stored within 300 s; "
                                 + "see the workers' logs, /tmp/greenroom-bench-\(suffix)-*.log")
            }
            try await Task.sleep(for: .milliseconds(200))
            stored = try await client.dueSetUsage(of: type)
        }
        let usedAfter = try await Self.usedMemory(redis)
        let count = Double(bench.memoryMessages)

        return DelaysResult(
            actors: bench.actors, messages: total, workers: bench.workers, partitions: bench.partitions, leadSeconds: bench.lead, spreadSeconds: bench.spread,
            sendSeconds: sent.seconds, storedSeconds: allStored.seconds, seconds: elapsed.seconds,
            latenessMilliseconds: ["p50": merged.percentile(50), "p90": merged.percentile(90), "p99": merged.percentile(99),
                                   "p99.9": merged.percentile(99.9)].compactMapValues { $0 }.merging(["max": merged.maximum]) { $1 },
            recorded: merged.count, early: merged.early, unscheduled: states.reduce(0) { $0 + $1.unscheduled },
            storeCPUSeconds: zip(cpuBefore, cpuStored).map { $1 - $0 }, workerCPUSeconds: zip(cpuStored, cpuAfter).map { $1 - $0 },
            idleSeconds: bench.idleSeconds, idleCPUSecondsPerMinute: idleCPUPerMinute,
            memoryMessages: bench.memoryMessages,
            dueSetBytesPerMessage: Double(stored.bytes - dueBefore.bytes) / count,
            usedMemoryBytesPerMessage: Double(usedAfter - usedBefore) / count)
    }

    /// Polls every actor's state until the messages it handled add up to
    /// `total`; throws past `deadline`.
    static func waitForRecorded(_ client: GreenroomClient, _ actors: [ActorAddress], total: Int, deadline: ContinuousClock.Instant,
                                log: StatusLine) async throws -> [Lateness.State] {
        while true {
            let states = try await withThrowingTaskGroup(of: Lateness.State?.self) { group in
                for actor in actors {
                    group.addTask {
                        guard let bytes = try? await client.state(of: actor) else { return nil }
                        return try JSONDecoder().decode(Lateness.State.self, from: Data(bytes))
                    }
                }
                return try await group.reduce(into: [Lateness.State?]()) { $0.append($1) }
            }
            let present = states.compactMap { $0 }
            let recorded = present.reduce(0) { $0 + $1.handled }
            if present.count == actors.count, recorded >= total { return present }
            guard ContinuousClock.now < deadline else {
                throw BenchError("\(present.count) of \(actors.count) actors exist and \(recorded) of \(total) messages were handled in time; "
                                 + "see the workers' logs, /tmp/greenroom-bench-*.log")
            }
            log.say("\(recorded) of \(total) messages handled")
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Redis's `used_memory` (INFO memory), in bytes: summed over the masters of a cluster.
    static func usedMemory(_ redis: RedisClient) async throws -> Int {
        try await redis.eachMaster("INFO", "memory").reduce(0) { total, master in
            let info = master.reply.string ?? ""
            let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory:") }
            return total + (line.flatMap { Int($0.dropFirst("used_memory:".count)) } ?? 0)
        }
    }
}

struct DelaysResult: Codable {
    var actors: Int
    var messages: Int
    var workers: Int
    var partitions: Int
    /// Each message was due at a uniformly random time from `leadSeconds` to
    /// `leadSeconds + spreadSeconds` after the first send.
    var leadSeconds: Double
    var spreadSeconds: Double
    var sendSeconds: Double
    /// From the first send until the worker had stored every message (before the first was due).
    var storedSeconds: Double
    /// From the first send until every message was handled.
    var seconds: Double
    /// Now − due at the turn: p50, p90, p99, p99.9 (bucket lower bounds) and max.
    var latenessMilliseconds: [String: Int]
    var recorded: Int
    /// Handled before their due time (should be 0).
    var early: Int
    /// Arrived at the worker already due (within 5 ms), so run at once
    /// (their lateness, from the due time in their payload, is in the histogram).
    var unscheduled: Int
    /// The worker's CPU from the first send until all were stored (consuming and storing them).
    var storeCPUSeconds: [Double]
    /// The worker's CPU from then until all were handled (firing them and running their turns).
    var workerCPUSeconds: [Double]
    var idleSeconds: Double
    var idleCPUSecondsPerMinute: [Double]
    var memoryMessages: Int
    /// MEMORY USAGE of the due sets and entries, per pending message.
    var dueSetBytesPerMessage: Double
    /// INFO used_memory growth per pending message (the whole server: noisy when shared).
    var usedMemoryBytesPerMessage: Double

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    var text: String {
        func f(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
        let order = ["p50", "p90", "p99", "p99.9", "max"]
        return [
            "actors \(actors), delayed messages \(messages), due \(f(leadSeconds, 0))–\(f(leadSeconds + spreadSeconds, 0)) s after the first send, "
                + "workers \(workers), partitions \(partitions)",
            "sent in \(f(sendSeconds)) s; all stored by the worker \(f(storedSeconds)) s after the first send; all handled \(f(seconds)) s after it",
            "lateness at the turn (now − due), \(recorded) messages: "
                + order.compactMap { key in latenessMilliseconds[key].map { "\(key) \($0) ms" } }.joined(separator: ", ")
                + "; early \(early); already due on arrival (run at once) \(unscheduled)",
            "worker CPU storing them: \(storeCPUSeconds.map { f($0) + " s" }.joined(separator: ", ")); "
                + "firing and running them: \(workerCPUSeconds.map { f($0) + " s" }.joined(separator: ", "))",
            "idle, nothing pending, \(f(idleSeconds, 0)) s: \(idleCPUSecondsPerMinute.map { f($0, 2) + " CPU s/min" }.joined(separator: ", "))",
            "Redis per pending delayed message (\(memoryMessages.formattedWithSeparators) an hour ahead): "
                + "\(Int(dueSetBytesPerMessage.rounded())) bytes in the due set (MEMORY USAGE), "
                + "\(Int(usedMemoryBytesPerMessage.rounded())) bytes of used_memory",
        ].joined(separator: "\n")
    }
}
