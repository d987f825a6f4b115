import Broker
import Foundation
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9, "time limits": a Redis that stops answering without closing the
/// connection (SIGSTOP: what dropped packets look like) makes a worker give
/// up its partitions within the lease TTL — Redis commands time out
/// (`command_timeout`, 2 s by default), lease renewals fail, and
/// PartitionOwnership closes what it can no longer prove it owns — instead of
/// hanging on the frozen connection while consuming. After SIGCONT the
/// worker takes its partitions back and every message completes exactly once.
@Suite("A frozen Redis: the worker lets go of its partitions in time, and finishes exactly after", .timeLimit(.minutes(5)))
struct FrozenRedisWorkerTests {
    static let leaseSeconds = 6.0

    @Test("Redis SIGSTOPped under load: the worker stops consuming its partitions within the lease TTL; after SIGCONT every counter is exact, same worker")
    func frozenRedis() async throws {
        let redis = try await ScratchRedis.start()
        defer { redis.stop() }
        let redisURL = redis.url()
        var generator = SystemRandomNumberGenerator()
        let suffix = "z" + String(generator.next() as UInt32, radix: 36)
        let typeNames = RuntimeHarness.typeNames(suffix: suffix)
        let log = "/tmp/greenroom-test-\(suffix)-frozen.log"
        let worker = try ChildProcess(WorkerProcess.binary, [], environment: [
            "GREENROOM_AMQP_URL": TestServers.amqpURL, "GREENROOM_REDIS_URL": redisURL, "GREENROOM_TYPE_SUFFIX": suffix,
            "GREENROOM_PARTITIONS": "4", "GREENROOM_LOG_LEVEL": "info", "GREENROOM_LEASE_TTL": "\(Self.leaseSeconds)",
        ], logPath: log)
        let client = try await GreenroomClient.connect(amqp: try AMQPConfiguration(url: TestServers.amqpURL),
                                                       redis: try RedisConfiguration(url: redisURL))
        let inspector = try await TestServers.amqp()
        try await withCleanUp((worker, client, inspector), "cleanup of \(suffix)", seconds: 120, cleanUp: { resources in
            redis.thaw()
            _ = await resources.0.terminate()
            await resources.1.close()
            await resources.2.close()
            try await RuntimeHarness.deleteEverything(of: typeNames, redisURL: redisURL)
            unlink(log)
        }) { _ in
            let channel = try await inspector.openChannel()
            let queues = typeNames.flatMap { type in PartitionID.all(of: type, partitions: 4).map(\.queue) }
            @Sendable func consumers() async throws -> [UInt32] {
                var counts: [UInt32] = []
                for queue in queues { counts.append(try await channel.inspectQueue(queue).consumerCount) }
                return counts
            }

            try await WorkerProcess.waitUntilServing(client, type: "probe-\(suffix)")
            let counters = try (0..<40).map { try ActorAddress(type: "counter-\(suffix)", id: "f\($0)") }
            let add = { (counter: ActorAddress) in GreenroomClient.Outgoing(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true) }
            try await client.send(counters.map(add))
            _ = try await waitForCounters(client, counters, total: 1, seconds: 60)
            try await eventually(30, "every partition consumed") { try await consumers().allSatisfy { $0 == 1 } }

            redis.freeze()
            let clock = ContinuousClock()
            let frozenAt = clock.now
            // Only RabbitMQ is needed to send (the partition count is cached):
            // these wait in the queues, or in the worker, while Redis is frozen.
            for _ in 0..<5 { try await client.send(counters.map(add)) }
            // Polled by hand to know each look's start: a look inspects 16
            // queues one after another, so it is not an instant. The release
            // came before the look that saw it ended, and after the previous
            // look began: the look that saw it is the measurement's resolution.
            var released: Duration?
            var look: Duration = .zero
            while released == nil, clock.now - frozenAt < .seconds(Self.leaseSeconds * 2 + 10) {
                let began = clock.now
                let idle = try await consumers().allSatisfy { $0 == 0 }
                look = clock.now - began
                if idle { released = clock.now - frozenAt } else { try await Task.sleep(for: .milliseconds(20)) }
            }
            let after = try #require(released, "partitions still consumed \(Self.leaseSeconds * 2 + 10) s after Redis froze")
            // A failed renewal gives partitions up while the next try (a
            // reconnect's PING and a command, 2 s each at most) could answer
            // after the lease expired: so within the lease TTL of the freeze.
            // Without command timeouts it never comes.
            #expect(after - look <= .seconds(Self.leaseSeconds),
                    "the worker kept consuming \(after) after Redis froze (lease TTL \(Self.leaseSeconds) s; the look that saw it took \(look))")
            #expect(worker.poll() == nil, "the worker exited: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")

            redis.thaw()
            let counts = try await waitForCounters(client, counters, total: 6, seconds: 120)
            #expect(counts.allSatisfy { $0 == 6 }, "\(counts)")
            #expect(worker.poll() == nil, "the worker exited: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            try await eventually(30, "every partition consumed again") { try await consumers().allSatisfy { $0 == 1 } }
            try await channel.close()
        }
    }
}
