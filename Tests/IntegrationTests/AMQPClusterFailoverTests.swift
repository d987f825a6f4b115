import Broker
import Foundation
import Synchronization
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A worker process given the three nodes of a RabbitMQ cluster of the
/// test's own in one URL, and nothing else about queues.
@Suite("A worker on a 3-node RabbitMQ cluster", .serialized, .timeLimit(.minutes(10)))
struct AMQPClusterFailoverTests {
    @Test("""
        quorum queues by default with their leaders on all 3 nodes; the node the worker consumes from killed -9 \
        during 6,000 adds to 60 counters: it reconnects to another node by itself, every counter exact, nothing dead-lettered
        """)
    func nodeKilled() async throws {
        let cluster = try await ScratchRabbitCluster.start()
        defer { cluster.remove() }
        let redis = try await ScratchRedis.start()
        defer { redis.stop() }
        let amqpURL = cluster.url
        let redisURL = "redis://127.0.0.1:\(redis.port)/0"

        var generator = SystemRandomNumberGenerator()
        let suffix = "qc" + String(generator.next() as UInt32, radix: 36)
        let log = "/tmp/greenroom-test-\(suffix)-worker.log"
        let partitions = 6
        let worker = try ChildProcess(WorkerProcess.binary, [], environment: [
            "GREENROOM_AMQP_URL": amqpURL, "GREENROOM_REDIS_URL": redisURL, "GREENROOM_TYPE_SUFFIX": suffix,
            "GREENROOM_PARTITIONS": "\(partitions)", "GREENROOM_LOG_LEVEL": "info", "GREENROOM_LEASE_TTL": "2", "GREENROOM_HEARTBEAT": "0.3",
        ], logPath: log)
        defer { worker.stop(SIGKILL) }
        let workerLog: @Sendable () -> String = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        let client = { @Sendable () async throws -> GreenroomClient in
            try await GreenroomClient.connect(amqp: try AMQPConfiguration(url: amqpURL), redis: try RedisConfiguration(url: redisURL),
                                              confirmTimeout: .seconds(10))
        }
        let observer = try await client()
        try await WorkerProcess.waitUntilServing(observer, type: "probe-\(suffix)")

        // Quorum, without being asked, and led from every node.
        let counterType = "counter-\(suffix)"
        let queues = try await cluster.queues(prefixed: "greenroom.\(counterType).")
        #expect(queues.count == partitions, "\(queues)")
        #expect(queues.values.allSatisfy { $0.type == "quorum" }, "\(queues)")
        #expect(Set(queues.values.map(\.leader)) == Set(cluster.nodes.map(\.node)), "leaders: \(queues)")
        #expect(try await cluster.queues(prefixed: Topology.deadQueue)[Topology.deadQueue]?.type == "quorum")

        let counters = try (0..<60).map { try ActorAddress(type: counterType, id: "c\($0)") }
        let rounds = 100
        let holdBefore = 60
        let sent = SentRounds()
        let sending = Task {
            try await sendResending(rounds: rounds, to: counters, pause: .milliseconds(50), holdBefore: holdBefore, sent: sent, connect: client)
        }

        // Mid-stream, the node the worker consumes from dies.
        try await eventually(120, "20 rounds sent and the first adds committed") {
            guard sent.count >= 20 else { return false }
            return try await Self.count(observer, counters[0]) > 0
        }
        let consuming = "-\(worker.pid) consume"
        let victim = try #require(try await cluster.node(ofConnectionNameEnding: consuming), "the worker's consuming connection")
        let killed = ContinuousClock.now
        victim.kill()
        sent.release()

        // The same process finds another node, takes its partitions back and goes on.
        try await eventually(120, "the worker consuming from another node") {
            guard let node = try? await cluster.node(ofConnectionNameEnding: consuming, except: victim) else { return false }
            return node !== victim
        }
        let reconnected = ContinuousClock.now - killed
        let before = try await Self.count(observer, counters[0])
        try await eventually(120, "adds committed after the kill") { try await Self.count(observer, counters[0]) > before }
        print("AMQPClusterFailoverTests: reconnected to another node \(reconnected) after the kill, committing again after \(ContinuousClock.now - killed)")
        try await within(300, "the test's sends") { try await sending.value }
        let counts = try await waitForCounters(observer, counters, total: rounds, seconds: 300)
        #expect(counts.allSatisfy { $0 == rounds }, "\(counts)\n\(workerLog().suffix(3_000))")
        #expect(worker.poll() == nil, "the worker must still run, in the same process; log:\n\(workerLog().suffix(3_000))")
        let reconnectedLine = workerLog().split(whereSeparator: \.isNewline).first { $0.contains("reconnected") }.map(String.init) ?? ""
        #expect(reconnectedLine.contains("rabbitmq="), "the nodes it reconnected to: \(workerLog().suffix(3_000))")
        #expect(!reconnectedLine.contains("127.0.0.1:\(victim.amqpPort)"), "not the dead node: \(reconnectedLine)")

        let check = try await within(60, "a connection to a surviving node") {
            try await AMQPConnection.connect(try AMQPConfiguration(url: amqpURL))
        }
        let channel = try await check.openChannel()
        #expect(try await channel.inspectQueue(Topology.deadQueue).messageCount == 0, "nothing dead-lettered")
        await check.close()
        await observer.close()
        #expect(await worker.terminate(SIGTERM) == 0)
        unlink(log)
    }

    /// A counter's count, 0 while it does not exist or cannot be read.
    static func count(_ client: GreenroomClient, _ counter: ActorAddress) async throws -> Int {
        guard let state = try? await client.state(of: counter) else { return 0 }
        return (try? JSONDecoder().decode(Counter.State.self, from: Data(state)).count) ?? 0
    }
}
