import Broker
import Foundation
import Synchronization
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A worker process on a RabbitMQ node and a Redis server of the test's own,
/// which the test restarts under load, with no supervisor around the worker.
@Suite("Servers restarted under a running worker", .serialized, .timeLimit(.minutes(10)))
struct ServerRestartTests {
    @Test("RabbitMQ restarted and Redis killed -9 during 40,000 adds to 200 counters: every counter exact, the same worker process throughout")
    func restartsUnderLoad() async throws {
        let rabbit = try await ScratchRabbit.start()
        defer { rabbit.remove() }
        var template = Array("/tmp/greenroom-redis-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let redis = try await ScratchRedis.start(durableDirectory: directory)
        defer { redis.stop() }
        let servers = Servers(amqpURL: rabbit.url, redisURL: "redis://127.0.0.1:\(redis.port)/0")

        var generator = SystemRandomNumberGenerator()
        let suffix = "rs" + String(generator.next() as UInt32, radix: 36)
        let log = "/tmp/greenroom-test-\(suffix)-worker.log"
        let worker = try ChildProcess(WorkerProcess.binary, [], environment: [
            "GREENROOM_AMQP_URL": servers.amqpURL, "GREENROOM_REDIS_URL": servers.redisURL, "GREENROOM_TYPE_SUFFIX": suffix,
            "GREENROOM_PARTITIONS": "4", "GREENROOM_LOG_LEVEL": "info", "GREENROOM_LEASE_TTL": "2", "GREENROOM_HEARTBEAT": "0.3",
        ], logPath: log)
        defer { worker.stop(SIGKILL) }
        let counterType = "counter-\(suffix)"
        let observer = try await servers.client()
        try await WorkerProcess.waitUntilServing(observer, type: "probe-\(suffix)")

        let counters = try (0..<200).map { try ActorAddress(type: counterType, id: "c\($0)") }
        let rounds = 200
        // Paced (a round every 50 ms), and held before round 150 until Redis
        // has been killed: both restarts fall in the middle of the stream,
        // however slow the machine is to restart RabbitMQ.
        let holdBefore = 150
        let sent = SentRounds()
        let sending = Task {
            try await sendResending(rounds: rounds, to: counters, pause: .milliseconds(50), holdBefore: holdBefore, sent: sent, connect: servers.client)
        }

        // RabbitMQ goes away mid-stream and comes back.
        try await eventually(120, "40 rounds sent and the first adds committed") {
            guard sent.count >= 40 else { return false }
            return try await count(observer, counters[0]) > 0
        }
        try await rabbit.ctl(["stop_app"])
        try await Task.sleep(for: .seconds(2))  // an outage, not a blip: the worker must notice and retry
        try await rabbit.ctl(["start_app"])
        try await rabbit.awaitStartup()

        // Then Redis is killed -9 (its append-only file keeps every commit) and restarted.
        let before = try await count(observer, counters[0])
        // (Or every round before the hold committed already: the sender waits
        // there for the Redis kill below, so no more can come; the rounds
        // after it, sent once Redis is killed, prove the worker serves on.)
        try await eventually(180, "adds committed after the RabbitMQ restart") {
            let now = try await count(observer, counters[0])
            return now > before || now >= holdBefore
        }
        let redisPID = try await servers.redisProcessID()
        try #require(redisPID > 1, "redis-server's pid")
        #expect(sent.count <= holdBefore, "the sender must wait for the Redis kill before round \(holdBefore)")
        kill(redisPID, SIGKILL)
        try await eventually(20, "redis-server gone") { !FreePort.isOpen(redis.port) }
        sent.release()  // the last rounds are sent while Redis is down and after
        try await Task.sleep(for: .seconds(1))
        try await redis.launch()

        try await within(300, "the test's sends") { try await sending.value }
        let counts = try await waitForCounters(try await servers.client(), counters, total: rounds, seconds: 300)
        let workerLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(counts.allSatisfy { $0 == rounds }, "\(counts)\n\(workerLog.suffix(3_000))")
        #expect(worker.poll() == nil, "the worker must still run, in the same process; log:\n\(workerLog.suffix(3_000))")
        #expect(workerLog.contains("lost a connection to RabbitMQ or Redis"), "\(workerLog.suffix(3_000))")
        #expect(workerLog.contains("reconnected"), "\(workerLog.suffix(3_000))")
        #expect(await worker.terminate(SIGTERM) == 0)
        unlink(log)
    }
}

extension ServerRestartTests {
    @Test("SIGTERM while RabbitMQ is down and the worker is reconnecting: it stops trying and exits 0 at once")
    func stopDuringOutage() async throws {
        let rabbit = try await ScratchRabbit.start()
        defer { rabbit.remove() }
        let redis = try await ScratchRedis.start()
        defer { redis.stop() }
        var generator = SystemRandomNumberGenerator()
        let suffix = "rs" + String(generator.next() as UInt32, radix: 36)
        let log = "/tmp/greenroom-test-\(suffix)-worker.log"
        let worker = try ChildProcess(WorkerProcess.binary, [], environment: [
            "GREENROOM_AMQP_URL": rabbit.url, "GREENROOM_REDIS_URL": "redis://127.0.0.1:\(redis.port)/0",
            "GREENROOM_TYPE_SUFFIX": suffix, "GREENROOM_PARTITIONS": "2",
        ], logPath: log)
        defer { worker.stop(SIGKILL) }
        let workerLog: @Sendable () -> String = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        try await eventually(60, "the worker started") { workerLog().contains("worker started") }

        try await rabbit.ctl(["stop_app"])
        try await eventually(60, "the worker retrying") { workerLog().contains("cannot reconnect yet") }
        let stopping = ContinuousClock.now
        let status = await worker.terminate(SIGTERM, within: 30)
        let took = ContinuousClock.now - stopping
        #expect(status == 0, "\(workerLog().suffix(2_000))")
        #expect(took < .seconds(5), "SIGTERM during an outage took \(took)")
        unlink(log)
    }
}

/// The scratch servers of one test, and a client that outlives their restarts.
private struct Servers: Sendable {
    let amqpURL: String
    let redisURL: String

    func client() async throws -> GreenroomClient {
        try await GreenroomClient.connect(amqp: try AMQPConfiguration(url: amqpURL), redis: try RedisConfiguration(url: redisURL))
    }

    /// The pid of the Redis server, from `INFO server`.
    func redisProcessID() async throws -> pid_t {
        let redis = try await RedisClient.connect(try RedisConfiguration(url: redisURL))
        defer { Task { await redis.close() } }
        let info = try await redis.send("INFO", "server").string ?? ""
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("process_id:") } ?? ""
        return pid_t(line.dropFirst("process_id:".count).trimmingCharacters(in: .whitespaces)) ?? 0
    }
}

/// A counter's count, 0 while it does not exist or cannot be read.
private func count(_ client: GreenroomClient, _ counter: ActorAddress) async throws -> Int {
    guard let state = try? await client.state(of: counter) else { return 0 }
    return (try? JSONDecoder().decode(Counter.State.self, from: Data(state)).count) ?? 0
}
