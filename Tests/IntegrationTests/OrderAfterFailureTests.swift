import Broker
import Foundation
import GreenroomTestSupport
import Synchronization
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// Redis calls failing over and over mid-run: a Redis of the test's own, the
/// shared RabbitMQ (under the test's own type names, deleted afterwards).
@Suite("Order after a failure", .serialized, .timeLimit(.minutes(10)))
struct OrderAfterFailureTests {
    @Test("Redis client connections killed every 100 ms during 20,000 sequenced touches to 20 probes: every touch applied once, none out of order, the worker up throughout")
    func clientKillKeepsOrder() async throws {
        let redis = try await ScratchRedis.start()
        defer { redis.stop() }
        let amqpURL = TestServers.amqpURL
        let redisURL = "redis://127.0.0.1:\(redis.port)/0"

        var generator = SystemRandomNumberGenerator()
        let suffix = "ok" + String(generator.next() as UInt32, radix: 36)
        try await withCleanUp(suffix, "cleanup of \(suffix)", seconds: 120, cleanUp: {
            try await RuntimeHarness.deleteEverything(of: RuntimeHarness.typeNames(suffix: $0), redisURL: redisURL)
        }) { suffix in
            try await run(suffix: suffix, amqpURL: amqpURL, redisURL: redisURL)
        }
    }

    private func run(suffix: String, amqpURL: String, redisURL: String) async throws {
        let log = "/tmp/greenroom-test-\(suffix)-worker.log"
        let worker = try ChildProcess(WorkerProcess.binary, [], environment: [
            "GREENROOM_AMQP_URL": amqpURL, "GREENROOM_REDIS_URL": redisURL, "GREENROOM_TYPE_SUFFIX": suffix,
            "GREENROOM_PARTITIONS": "4", "GREENROOM_LOG_LEVEL": "warning",
        ], logPath: log)
        defer { worker.stop(SIGKILL) }
        let connect = { try await GreenroomClient.connect(amqp: try AMQPConfiguration(url: amqpURL), redis: try RedisConfiguration(url: redisURL)) }
        let client = try await connect()
        try await WorkerProcess.waitUntilServing(client, type: "probe-\(suffix)")
        let probes = try (0..<20).map { try ActorAddress(type: "probe-\(suffix)", id: "o\($0)") }
        for probe in probes { _ = try await client.spawn(type: probe.type, id: probe.id, timeout: .seconds(30)) }

        // Kill every normal Redis client (the worker's, the sender's) every 100 ms.
        let killer = try await RedisClient.connect(try RedisConfiguration(url: redisURL))
        let kills = Atomic<Int>(0)
        let killing = Task {
            while !Task.isCancelled {
                if let killed = try? await killer.send("CLIENT", "KILL", "TYPE", "normal").integer, killed > 0 {
                    kills.add(1, ordering: .relaxed)
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        // 1,000 touches per probe, in order, 10 per probe per batch; a batch that
        // fails is sent again whole (same ids: copies meet the dedup record).
        // Each batch waits for a kill after the previous one, so the stream
        // spans at least 100 kills however fast the machine runs it.
        let perProbe = 1_000
        var sender = client
        for first in stride(from: 0, to: perProbe, by: 10) {
            let killsBefore = kills.load(ordering: .relaxed)
            try await eventually(30, "a kill of the Redis connections") { kills.load(ordering: .relaxed) > killsBefore }
            let batch = (first..<first + 10).flatMap { seq in
                probes.map { GreenroomClient.Outgoing(to: $0, kind: "touch", payload: Array(#"{"seq":\#(seq)}"#.utf8), id: "\($0.id)-\(seq)") }
            }
            while true {
                do {
                    try await sender.send(batch)
                    break
                } catch {
                    try await Task.sleep(for: .milliseconds(50))
                    if let fresh = try? await connect() { sender = fresh }
                }
            }
        }
        try await eventually(300, "every touch committed") {
            await probes.asyncSum { (try? await storedProbe(client, $0))?.touches ?? 0 } >= probes.count * perProbe
        }
        killing.cancel()
        await killing.value
        await killer.close()

        let workerLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        for probe in probes {
            let state = try #require(try await storedProbe(client, probe))
            #expect(state.touches == perProbe, "\(probe): \(state)")
            #expect(state.lastSeq == perProbe - 1, "\(probe): \(state)")
            #expect(state.outOfOrder == 0, "\(probe): \(state)")
        }
        #expect(kills.load(ordering: .relaxed) >= perProbe / 10, "a kill before every batch")
        #expect(worker.poll() == nil, "the worker must stay up; log:\n\(workerLog.suffix(2_000))")
        #expect(await worker.terminate(SIGTERM) == 0)
        unlink(log)
    }
}
