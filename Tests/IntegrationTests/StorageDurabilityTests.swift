import Broker
import Foundation
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// Worker processes on a scratch Redis of the test's own (the shared
/// RabbitMQ), for tests that kill, flush or misconfigure Redis.
private struct ScratchFleet {
    static let partitions = 4
    let suffix: String
    let redis: ScratchRedis
    let client: GreenroomClient
    let started = StartedWorkers()

    var redisURL: String { "redis://127.0.0.1:\(redis.port)/0" }
    func type(_ builtIn: String) -> String { "\(builtIn)-\(suffix)" }
    func logPath(_ name: String) -> String { "/tmp/greenroom-test-\(suffix)-\(name).log" }
    func log(_ name: String) -> String { (try? String(contentsOfFile: logPath(name), encoding: .utf8)) ?? "" }

    /// Starts a test-worker named `name` (short leases, so lost partitions come back fast).
    func startWorker(_ name: String, environment extra: [String: String] = [:]) throws -> ChildProcess {
        let environment = [
            "GREENROOM_AMQP_URL": TestServers.amqpURL, "GREENROOM_REDIS_URL": redisURL, "GREENROOM_TYPE_SUFFIX": suffix,
            "GREENROOM_PARTITIONS": "\(Self.partitions)", "GREENROOM_LOG_LEVEL": "info",
            "GREENROOM_LEASE_TTL": "2", "GREENROOM_HEARTBEAT": "0.3",
        ].merging(extra) { $1 }
        return started.add(try ChildProcess(WorkerProcess.binary, [], environment: environment, logPath: logPath(name)))
    }

    /// Adds `by: 1` to each counter, spawning it if missing (unless `spawning` is false).
    func add(to counters: [ActorAddress], spawning: Bool = true) async throws {
        try await client.send(counters.map { .init(to: $0, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: spawning) })
    }

    /// Dead letters addressed to this fleet's actors, taken off the queue.
    func deadLetters() async throws -> [DeadLetter] {
        let suffix = suffix
        return try await client.takeDeadLetters(limit: scanEveryDeadLetter, timeout: .seconds(1)) { $0.target?.contains("-\(suffix)/") == true }
    }

    /// Ready messages in `type`'s partition queues.
    func queued(_ type: String) async throws -> Int {
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        var total = 0
        for partition in PartitionID.all(of: type, partitions: Self.partitions) {
            total += Int(try await channel.inspectQueue(partition.queue).messageCount)
        }
        await connection.close()
        return total
    }

    /// Stops the workers and deletes the queues and dead letters (Redis goes with the scratch server).
    func cleanUp() async throws {
        for worker in started.all where worker.poll() == nil { await worker.terminate(SIGTERM) }
        _ = try? await deadLetters()
        await client.close()
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        for type in RuntimeHarness.typeNames(suffix: suffix) {
            for partition in PartitionID.all(of: type, partitions: Self.partitions) { _ = try await channel.deleteQueue(partition.queue) }
        }
        await connection.close()
        redis.stop()
    }
}

private func withScratchFleet<T>(_ redis: ScratchRedis, _ body: (ScratchFleet) async throws -> T) async throws -> T {
    var generator = SystemRandomNumberGenerator()
    let suffix = "d" + String(generator.next() as UInt32, radix: 36)
    let client = try await GreenroomClient.connect(
        amqp: try AMQPConfiguration(url: TestServers.amqpURL), redis: try RedisConfiguration(url: "redis://127.0.0.1:\(redis.port)/0"))
    let fleet = ScratchFleet(suffix: suffix, redis: redis, client: client)
    return try await withCleanUp(fleet, "cleanup of scratch fleet \(suffix)", seconds: 120, cleanUp: { try await $0.cleanUp() }, body)
}

private func temporaryDirectory() -> String {
    var template = Array("/tmp/greenroom-redis-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
}

@Suite("Storage durability", .timeLimit(.minutes(6)))
struct StorageDurabilityTests {
    @Test("kill -9 of Redis (append-only file, fsync every second) while two worker processes run 10,000 adds: every counter exact, nothing dead-lettered")
    func redisKilledWithAppendOnlyFile() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let redis = try await ScratchRedis.start(durableDirectory: directory, appendFsync: "everysec")
        try await withScratchFleet(redis) { fleet in
            _ = try fleet.startWorker("a")
            _ = try fleet.startWorker("b")
            try await WorkerProcess.waitUntilServing(fleet.client, type: fleet.type("probe"))
            let counters = try (0..<100).map { try ActorAddress(type: fleet.type("counter"), id: "k\($0)") }
            let rounds = 100
            let sending = Task {
                for _ in 0..<rounds { try await fleet.add(to: counters) }
            }
            let firstCount: @Sendable () async -> Int = {
                guard let state = try? await fleet.client.state(of: counters[0]) else { return 0 }
                return (try? JSONDecoder().decode(Counter.State.self, from: Data(state)).count) ?? 0
            }
            try await eventually(60, "the first adds committed") { await firstCount() > 0 }
            let before = await firstCount()
            // Redis's own window (docs/RELIABILITY.md): while the previous second's
            // fsync still runs, it may postpone writing the file by up to 2 s and
            // answer meanwhile, so a kill -9 then loses what it answered. Seen at
            // the kill, that is Redis's documented loss, not Greenroom's.
            let fsyncPending = try await Self.pendingFsync(fleet.redisURL)
            redis.kill()
            #expect(before < rounds, "the adds were all done before the kill")
            try await redis.launch()
            try await sending.value

            let counts = try await waitForCounters(fleet.client, counters, total: rounds, seconds: fsyncPending ? 90 : 180,
                                                   throwsOnTimeout: !fsyncPending)
            withKnownIssue("Redis was still fsyncing at the kill: it may have postponed writing what it answered",
                           isIntermittent: true) {
                #expect(counts.allSatisfy { $0 == rounds }, "\(counts)")
            } when: { fsyncPending }
            let dead = try await fleet.deadLetters()
            #expect(dead.isEmpty, "\(dead.map { "\($0.target ?? "?"): \($0.reason)" })")
        }
    }

    /// Whether Redis has a background fsync of its append-only file running.
    static func pendingFsync(_ url: String) async throws -> Bool {
        let redis = try await RedisClient.connect(try RedisConfiguration(url: url))
        defer { Task { await redis.close() } }
        let info = try await redis.send("INFO", "persistence").string ?? ""
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("aof_pending_bio_fsync:") } ?? ""
        return (Int(line.dropFirst("aof_pending_bio_fsync:".count).trimmingCharacters(in: .whitespaces)) ?? 0) > 0
    }

    @Test("Redis loses its data (FLUSHALL) under running workers: they stop consuming and say why, dead-letter nothing, the messages wait in RabbitMQ; the explicit reset goes on from empty")
    func redisDataLoss() async throws {
        let redis = try await ScratchRedis.start()
        try await withScratchFleet(redis) { fleet in
            let a = try fleet.startWorker("a")
            let b = try fleet.startWorker("b")
            try await WorkerProcess.waitUntilServing(fleet.client, type: fleet.type("probe"))
            let counter = fleet.type("counter")
            let counters = try (0..<20).map { try ActorAddress(type: counter, id: "k\($0)") }
            for _ in 0..<10 { try await fleet.add(to: counters) }
            _ = try await waitForCounters(fleet.client, counters, total: 10, seconds: 60)

            let admin = try await RedisClient.connect(try RedisConfiguration(url: fleet.redisURL))
            try await admin.send("FLUSHALL")
            await admin.close()
            // Adds to counters that existed; the client still knows the partition
            // count, so it can send although Redis forgot the type. Run against the
            // empty store, each would be dead-lettered as "does not exist".
            for _ in 0..<5 { try await fleet.add(to: counters, spawning: false) }

            try await eventually(30, "all 100 adds waiting in RabbitMQ") { try await fleet.queued(counter) == 100 }
            let report = "Redis has lost the data of actor type '\(counter)'"
            try await eventually(30, "a running worker saying the data is lost") {
                fleet.log("a").contains(report) || fleet.log("b").contains(report)
            }
            // A worker starting now finds the queues without data in Redis and declares nothing.
            let c = try fleet.startWorker("c")
            try await eventually(30, "the new worker saying the data is lost") { fleet.log("c").contains(report) }
            // Many heartbeats later: still nothing consumed, nothing dead-lettered, nobody exited.
            try await Task.sleep(for: .seconds(3))
            #expect(try await fleet.queued(counter) == 100)
            let dead = try await fleet.deadLetters()
            #expect(dead.isEmpty, "\(dead.count) dead letters: \(dead.prefix(3).map { "\($0.target ?? "?"): \($0.reason)" })")
            #expect([a, b, c].allSatisfy { $0.poll() == nil }, "a worker exited")
            let status = try await CommandRun.run("enqueue", ["status", "--lease-ttl", "2"], environment: ["GREENROOM_REDIS_URL": fleet.redisURL])
            #expect(status.stdout.contains("DATA LOST: live workers host '\(counter)'"), "\(status)")

            // The explicit way on: the type goes on from an empty store, where
            // those counters do not exist.
            let marked = try await fleet.client.resetAfterDataLoss(type: counter, partitions: ScratchFleet.partitions)
            #expect(marked.count == ScratchFleet.partitions)
            try await eventually(30, "the waiting adds handled") { try await fleet.queued(counter) == 0 }
            let refused = Collected()
            try await eventually(30, "100 dead letters") { await refused.add(try await fleet.deadLetters()) >= 100 }
            let reasons = Set(await refused.all.map(\.reason))
            #expect(reasons.allSatisfy { $0.contains("does not exist") }, "\(reasons)")
            try await fleet.add(to: counters)
            let counts = try await waitForCounters(fleet.client, counters, total: 1, seconds: 60)
            #expect(counts.allSatisfy { $0 == 1 }, "\(counts)")
        }
    }

    @Test("A worker on a Redis without an append-only file warns; with --require-durable-redis it refuses to start and says what to do; with one it says nothing")
    func persistenceCheckAtStart() async throws {
        let warning = "Redis runs without its append-only file"
        try await withScratchFleet(try await ScratchRedis.start()) { fleet in
            _ = try fleet.startWorker("lenient")
            try await eventually(60, "the lenient worker started") { fleet.log("lenient").contains("worker started") }
            #expect(fleet.log("lenient").contains(warning), "\(fleet.log("lenient"))")

            let strict = try fleet.startWorker("strict", environment: ["GREENROOM_REQUIRE_DURABLE_REDIS": "1"])
            let status = await strict.exited(within: 60)
            #expect(status != nil && status != 0)
            let log = fleet.log("strict")
            #expect(log.contains(warning) && log.contains("appendonly yes"), "\(log)")
            #expect(!log.contains("worker started"))
            let doctor = try await CommandRun.run("enqueue", ["doctor", "--messages", "10"], environment: ["GREENROOM_REDIS_URL": fleet.redisURL])
            #expect(doctor.status == 0 && doctor.stdout.contains("WARNING: \(warning)"), "\(doctor)")
        }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withScratchFleet(try await ScratchRedis.start(durableDirectory: directory, appendFsync: "everysec")) { fleet in
            _ = try fleet.startWorker("durable", environment: ["GREENROOM_REQUIRE_DURABLE_REDIS": "1"])
            try await eventually(60, "the worker on a durable Redis started") { fleet.log("durable").contains("worker started") }
            #expect(!fleet.log("durable").contains("append-only file"), "\(fleet.log("durable"))")
            let doctor = try await CommandRun.run("enqueue", ["doctor", "--messages", "10"], environment: ["GREENROOM_REDIS_URL": fleet.redisURL])
            #expect(doctor.stdout.contains("persistence: appendonly yes, appendfsync everysec") && !doctor.stdout.contains("WARNING"), "\(doctor)")
        }
    }
}
