import Broker
import Foundation
import GreenroomTestSupport
import Synchronization
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

extension ClusterTests {
    /// The issue's fault test, on the shared local clusters: a RabbitMQ node
    /// and then a Redis master are killed -9 under load, and nothing is lost,
    /// doubled or reordered, with no worker restarted.
    ///
    /// It kills nodes other tests on the clusters would trip over, so it runs
    /// alone among them (`ClusterTests` is `.serialized`), and it restores
    /// both clusters before it ends, passed or failed.
    @Suite("Node kills under load on the local clusters", .timeLimit(.minutes(20)))
    struct ClusterFaultTests {
        /// Probes used as counters: a `touch {"seq": N}` is an add that also
        /// records its sender's sequence number, so one actor shows both its
        /// exact count (`touches`) and the order it saw (`outOfOrder`, `lastSeq`).
        static let actors = 1_000
        static let rounds = 100
        static let senders = 4
        static let partitions = 12
        /// Senders wait before round 30 until the RabbitMQ node has been
        /// killed, and before round 65 until the Redis master has: whatever the
        /// machine's speed, each kill falls in the middle of the stream, with
        /// messages queued before it and sent after it.
        static let holds = [30, 65]

        @Test("100,000 adds to 1,000 counters from 4 senders, a RabbitMQ node then a Redis master killed -9: every count exact, per-sender order kept, nothing dead-lettered, the same 3 worker processes throughout")
        func nodeKillsUnderLoad() async throws {
            let cluster = try await LocalCluster.ensureUp()
            try await withCleanUp(cluster, "restoring the local clusters", seconds: 600, cleanUp: { try await $0.restore() }) { cluster in
                try await withFleet(servers: .cluster, partitions: Self.partitions) { fleet in
                    try await Self.run(fleet, cluster)
                }
            }
        }

        static func run(_ fleet: ProcessFleet, _ cluster: LocalCluster) async throws {
            let clock = ContinuousClock()
            let start = clock.now
            let say: @Sendable (String) -> Void = { print("ClusterFaultTests [\(String(format: "%.1f", (clock.now - start) / .seconds(1))) s] \($0)") }
            let type = fleet.type("probe")
            let probes = try (0..<actors).map { try ActorAddress(type: type, id: "n\($0)") }

            var workers: [ChildProcess] = []
            for index in 0..<3 { workers.append(try await fleet.startWorker("w\(index)")) }
            let pids = workers.map(\.pid)
            say("3 workers serving \(type) on \(partitions) partitions: pids \(pids)")

            let progress = SendProgress()
            let observer = Observer()
            // Tasks inherit the fleet's servers (TestServers.using): the senders and the observer use the clusters.
            let sending = Task { try await send(to: probes, progress: progress, say: say) }
            defer { sending.cancel() }
            let sample = stride(from: 0, to: actors, by: 10).map { probes[$0] }
            let committed: @Sendable () async -> Int = { await observer.touches(sample) }

            // 1. A RabbitMQ node killed -9: the one leading most of the test's queues.
            try await eventually(300, "20 rounds sent and the first touches committed") {
                progress.rounds >= 20 * senders ? await committed() > 0 : false
            }
            let leaders = try await ClusterNodes.rabbitLeaders(of: [type])
            let connections = try await ClusterNodes.rabbitConnections()
            let rabbitVictim = cluster.rabbitPorts.max { (leaders[$0, default: 0], connections[$0, default: 0]) < (leaders[$1, default: 0], connections[$1, default: 0]) }!
            let beforeRabbitKill = await committed()
            say("killing RabbitMQ node \(rabbitVictim) -9 (queue leaders by port: \(leaders), connections: \(connections)); \(progress.rounds) batches sent, sample at \(beforeRabbitKill) touches")
            try await cluster.killRabbitNode(port: rabbitVictim)
            let rabbitKilled = clock.now
            progress.releaseHold()
            try await eventually(300, "traffic flowing again after the RabbitMQ node's death") {
                await committed() >= beforeRabbitKill + 100
            }
            let sentAfterRabbit = progress.rounds
            try await eventually(300, "a batch confirmed after the RabbitMQ node's death") { progress.rounds > sentAfterRabbit }
            say("traffic flows again \(clock.now - rabbitKilled) after the RabbitMQ kill (sample at \(await committed()))")

            // 2. A Redis master killed -9: the one serving most of the test's partitions; its replica is promoted.
            let masters = try await ClusterNodes.redisMasters(ofPartitionsOf: type, partitions: partitions, askingAny: cluster.redisPorts)
            let served = Dictionary(grouping: masters.keys, by: { masters[$0]! }).mapValues(\.count)
            let redisVictim = served.max { $0.value < $1.value }!.key
            let beforeRedisKill = await committed()
            say("killing Redis master \(redisVictim) -9 (partitions by master: \(served)); sample at \(beforeRedisKill) touches")
            try await cluster.killRedisNode(port: redisVictim)
            let redisKilled = clock.now
            progress.releaseHold()
            try await eventually(120, "a replica promoted in place of Redis master \(redisVictim)") {
                guard let masters = try? await cluster.redisMasters() else { return false }
                return masters.count == 3 && !masters.contains(redisVictim)
            }
            say("a replica took over \(clock.now - redisKilled) after the Redis kill: masters \(try await cluster.redisMasters())")
            try await eventually(300, "traffic flowing again after the Redis master's death") {
                await committed() >= beforeRedisKill + 100
            }
            say("traffic flows again \(clock.now - redisKilled) after the Redis kill (sample at \(await committed()))")

            // 3. Both nodes come back and rejoin their clusters while the last rounds go out.
            say("restoring both nodes (\(progress.rounds) batches sent)")
            try await cluster.restore()
            say("both clusters whole again")
            try await within(600, "the senders' last batches") { try await sending.value }
            say("all \(actors * rounds) touches sent (\(progress.resends) batches sent again after a failure)")

            // 4. The verdict, at a quiet point.
            let states = try await Quiet.settle("\(actors) probes", types: [type], seconds: 600) {
                try await observer.states(probes)
            }
            let wrong = zip(probes, states).filter { $0.1.touches != rounds || $0.1.lastSeq != rounds - 1 || $0.1.outOfOrder != 0 }
            #expect(wrong.isEmpty, "\(wrong.count) of \(actors) probes not at exactly \(rounds) touches in order: \(wrong.prefix(10).map { "\($0.0.id) \($0.1)" })")
            say("settled: \(states.map(\.touches).reduce(0, +)) touches in all, \(wrong.count) probes wrong")

            // On a connection of its own: the fleet's client may have been on the killed node.
            let dead = try await observer.takeDeadLetters(to: type)
            #expect(dead.isEmpty, "dead-lettered: \(dead.prefix(5).map { "\($0.target ?? "?") \($0.reason)" })")

            for (index, worker) in workers.enumerated() {
                let log = fleet.log("w\(index)")
                #expect(worker.poll() == nil && kill(worker.pid, 0) == 0, "worker w\(index) (pid \(worker.pid)) is no longer running; its log:\n\(log.suffix(3_000))")
                let reconnects = log.components(separatedBy: "reconnected").count - 1
                say("worker w\(index), pid \(worker.pid): \(reconnects) reconnections in its log")
            }
            #expect(workers.map(\.pid) == pids)
        }

        /// Sends `rounds` touches to every probe from `senders` connections,
        /// each sender to its own share of the probes (one sender per probe:
        /// its sequence numbers are the order to keep). A batch is one round
        /// of one sender, each message with a stable id; a batch that fails
        /// (a node died under the publish) is sent again whole on a new
        /// connection: the copies already stored meet the dedup record.
        static func send(to probes: [ActorAddress], progress: SendProgress, say: @escaping @Sendable (String) -> Void) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for sender in 0..<senders {
                    let mine = stride(from: sender, to: probes.count, by: senders).map { probes[$0] }
                    group.addTask {
                        var client: GreenroomClient?
                        defer { if let client { Task { await client.close() } } }
                        for round in 0..<rounds {
                            try await Task.sleep(for: .milliseconds(50))
                            if holds.contains(round) {
                                try await eventually(900, "the fault test releasing the senders at round \(round)") { progress.mayPass(round, holds: holds) }
                            }
                            let batch = mine.map {
                                GreenroomClient.Outgoing(to: $0, kind: "touch", payload: Array(#"{"seq":\#(round)}"#.utf8),
                                                         id: "\($0.id)-\(round)", spawnIfMissing: true)
                            }
                            var failures = 0
                            while true {
                                do {
                                    if client == nil {
                                        client = try await GreenroomClient.connect(amqp: try AMQPConfiguration(url: TestServers.amqpURL),
                                                                                   redis: try RedisConfiguration(url: TestServers.redisURL))
                                    }
                                    try await client!.send(batch)
                                    progress.sent()
                                    break
                                } catch {
                                    failures += 1
                                    if failures == 1 || failures % 50 == 0 { say("sender \(sender), round \(round): \(error); sending again") }
                                    progress.resent()
                                    if let failed = client { Task { await failed.close() } }
                                    client = nil
                                    try await Task.sleep(for: .milliseconds(200))
                                }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}

/// The senders' batches confirmed and sent again, and how many of their
/// holds the test has released.
final class SendProgress: Sendable {
    private let confirmed = Atomic<Int>(0)
    private let again = Atomic<Int>(0)
    private let released = Atomic<Int>(0)
    func sent() { confirmed.add(1, ordering: .relaxed) }
    func resent() { again.add(1, ordering: .relaxed) }
    var rounds: Int { confirmed.load(ordering: .relaxed) }
    var resends: Int { again.load(ordering: .relaxed) }
    func releaseHold() { released.add(1, ordering: .relaxed) }
    /// Whether a sender may send `round`: every hold up to it released.
    func mayPass(_ round: Int, holds: [Int]) -> Bool { holds.filter { $0 <= round }.count <= released.load(ordering: .relaxed) }
}

/// A client on the test's servers that reads probes' committed states, and
/// connects again when a node's death broke it.
private actor Observer {
    private var client: GreenroomClient?

    /// The probes' states now; a probe not yet spawned reads as the initial state.
    func states(_ probes: [ActorAddress]) async throws -> [Probe.State] {
        let client = try await connected()
        do {
            return try await withThrowingTaskGroup(of: (Int, Probe.State).self) { group in
                for (index, probe) in probes.enumerated() {
                    group.addTask { (index, try await storedProbe(client, probe) ?? Probe.initialState) }
                }
                var states = [Probe.State](repeating: Probe.initialState, count: probes.count)
                for try await (index, state) in group { states[index] = state }
                return states
            }
        } catch {
            await client.close()
            self.client = nil
            throw error
        }
    }

    /// Takes every dead letter addressed to an actor of `type`, on a
    /// connection of its own (the reading one may be to a node that died) —
    /// except the refused spawns of `WorkerProcess.waitUntilServing`, which
    /// asks each new worker to spawn `ready-probe-1`, … again (a refusal is
    /// its sign that a worker answered).
    func takeDeadLetters(to type: String) async throws -> [DeadLetter] {
        let client = try await GreenroomClient.connect(amqp: try AMQPConfiguration(url: TestServers.amqpURL),
                                                       redis: try RedisConfiguration(url: TestServers.redisURL))
        return try await withCleanUp(client, "closing the dead-letter client", cleanUp: { await $0.close() }) { client in
            try await client.takeDeadLetters(limit: scanEveryDeadLetter, timeout: .milliseconds(500)) { letter in
                letter.target?.hasPrefix(type + "/") == true
                    && !(letter.target!.hasPrefix(type + "/ready-probe-") && letter.kind == WireFormat.SystemKind.spawn)
            }
        }
    }

    /// The touches committed to `probes` so far; 0 while the servers cannot answer.
    func touches(_ probes: [ActorAddress]) async -> Int {
        (try? await states(probes).map(\.touches).reduce(0, +)) ?? 0
    }

    private func connected() async throws -> GreenroomClient {
        if let client { return client }
        let fresh = try await GreenroomClient.connect(amqp: try AMQPConfiguration(url: TestServers.amqpURL),
                                                      redis: try RedisConfiguration(url: TestServers.redisURL))
        client = fresh
        return fresh
    }
}
