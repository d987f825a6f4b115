import Broker
import Foundation
import Testing
import GreenroomTestSupport
import Workers
#if canImport(Glibc)
import Glibc
#endif

@Suite("Guarantees through real worker processes: fencing, lost connections, retries, configuration", .serialized)
struct ProcessGuaranteeTests {
    @Test("fencing under real overlap: a worker frozen inside a turn, whose partition another worker runs meanwhile, has its commit refused; nothing is applied twice")
    func fencingUnderOverlap() async throws {
        let fleet = try await ProcessFleet.make(partitions: 1)
        try await fleet.run { workers in
            let client = fleet.client
            // A's turn is frozen for as long as the test takes to set up B: no turn deadline may end it first.
            let a = workers.add(try await fleet.startWorker("a", leaseSeconds: 2, environment: ["GREENROOM_TURN_DEADLINE": "600"]))
            let probe = try await client.spawn(type: fleet.type("probe"), id: "overlap")
            let mark = "/tmp/greenroom-test-\(fleet.suffix)-entered"
            unlink(mark)
            defer { unlink(mark) }
            // A long first turn (3 s), then 199 short ones.
            var touches = [GreenroomClient.Outgoing(to: probe, kind: "touch", payload: Array(#"{"seq":0,"pauseMicroseconds":3000000,"mark":"\#(mark)"}"#.utf8))]
            touches += (1..<200).map { .init(to: probe, kind: "touch", payload: Array(#"{"seq":\#($0),"pauseMicroseconds":2000}"#.utf8)) }
            try await client.send(touches)

            // A is inside the long turn: freeze it there.
            try await eventually(60, "worker A inside the first turn") { access(mark, F_OK) == 0 }
            kill(a.pid, SIGSTOP)
            // B starts; once A's lease has expired it takes the partition (and bumps the epoch)…
            let b = workers.add(try WorkerProcess.start(suffix: fleet.suffix, partitions: 1, leaseSeconds: 2, logPath: fleet.logPath("b")))
            let bID = fleet.workerID(b)
            let redis = try await TestServers.redis()
            defer { Task { await redis.close() } }
            try await eventually(60, "B holding the probe partition's lease") {
                try await redis.send("GET", Keys.lease(fleet.type("probe"), 0)).string == bID
            }
            // …but single-active-consumer keeps it on standby while A's consumer exists.
            // Close A's consuming connection: the broker requeues what A held and B's consumer runs.
            unlink(mark)
            let closed = try await RabbitControl.closeConnections(named: [RabbitControl.workerConnectionNames(pid: a.pid).consume])
            #expect(closed == 1)
            try await eventually(60, "worker B inside the first turn") { access(mark, F_OK) == 0 }

            // Both now run the same turn. A wakes and tries to commit it.
            kill(a.pid, SIGCONT)
            try await eventually(60, "A's commit refused") { fleet.log("a").contains("commit refused") }

            let state = try await settledProbe(client, probe)
            #expect(state.touches == 200, "\(state)")
            #expect(state.lastSeq == 199)
            #expect(state.outOfOrder == 0)
            #expect(await b.terminate(SIGTERM) == 0)
        }
    }

    @Test("a worker frozen past its lease while holding messages: everything it held goes back before the new owner starts, so order is kept and nothing is lost or doubled")
    func frozenPastLeaseKeepsOrder() async throws {
        let fleet = try await ProcessFleet.make(partitions: 1)
        try await fleet.run { workers in
            let client = fleet.client
            let a = workers.add(try await fleet.startWorker("a", leaseSeconds: 2))
            let probe = try await client.spawn(type: fleet.type("probe"), id: "frozen")
            // 600 touches of 20 ms: A holds up to --prefetch (256) of them at a
            // time and runs them in batches of seconds.
            try await client.send((0..<600).map { .init(to: probe, kind: "touch", payload: Array(#"{"seq":\#($0),"pauseMicroseconds":20000}"#.utf8)) })
            try await eventually(60, "A mid-stream") {
                try await storedProbe(client, probe)?.touches ?? 0 > 0
            }
            kill(a.pid, SIGSTOP)
            let b = workers.add(try WorkerProcess.start(suffix: fleet.suffix, partitions: 1, leaseSeconds: 2, logPath: fleet.logPath("b")))
            let bID = fleet.workerID(b)
            let redis = try await TestServers.redis()
            defer { Task { await redis.close() } }
            try await eventually(60, "B holding the probe partition's lease") {
                try await redis.send("GET", Keys.lease(fleet.type("probe"), 0)).string == bID
            }
            // A wakes in the middle of a batch: its next heartbeat finds the lease
            // gone and drops the partition while that batch still runs.
            kill(a.pid, SIGCONT)

            let state = try await settledProbe(client, probe)
            #expect(state.touches == 600, "\(state)")
            #expect(state.outOfOrder == 0, "\(state)")
            #expect(state.lastSeq == 599, "\(state)")
            let log = fleet.log("a")
            #expect(log.contains("lost partition"), "A should have noticed it lost the partition")
            #expect(await b.terminate(SIGTERM) == 0)
            #expect(await a.terminate(SIGTERM) == 0)
        }
    }

    @Test("a worker whose RabbitMQ connections are closed mid-stream reconnects in the same process; nothing is lost, doubled or reordered")
    func lostConnection() async throws {
        let fleet = try await ProcessFleet.make()
        try await fleet.run { workers in
            let client = fleet.client
            let a = workers.add(try await fleet.startWorker("a"))
            // 10 probes × 300 touches of 50 ms: at least 15 s of work.
            let probes = try (0..<10).map { try ActorAddress(type: fleet.type("probe"), id: "l\($0)") }
            for seq in 0..<300 {
                try await client.send(probes.map {
                    .init(to: $0, kind: "touch", payload: Array(#"{"seq":\#(seq),"pauseMicroseconds":50000}"#.utf8), spawnIfMissing: true)
                })
            }
            try await eventually(60, "the first turns committed") {
                await probes.asyncContains { (try? await client.state(of: $0)) != nil }
            }
            let names = RabbitControl.workerConnectionNames(pid: a.pid)
            let closed = try await RabbitControl.closeConnections(named: [names.consume, names.publish])
            let committed = try await probes.asyncSum { probe in
                try await storedProbe(client, probe)?.touches ?? 0
            }
            #expect(closed == 2)
            #expect(committed < 3_000, "the connections should have closed mid-stream")
            try await eventually(120, "worker A reconnected") { fleet.log("a").contains("reconnected") }

            for probe in probes {
                let state = try await settledProbe(client, probe)
                #expect(state.touches == 300, "\(probe): \(state)")
                #expect(state.lastSeq == 299, "\(probe): \(state)")
                #expect(state.outOfOrder == 0, "\(probe): \(state)")
            }
            #expect(a.poll() == nil, "a worker that lost RabbitMQ must stay up; log:\n\(fleet.log("a").suffix(2_000))")
            #expect(await a.terminate(SIGTERM) == 0)
        }
    }

    @Test("an idle worker whose publishing connection the broker closes reconnects at once, not at its next publish; then serves as before")
    func idlePublishingConnectionLost() async throws {
        let fleet = try await ProcessFleet.make()
        try await fleet.run { workers in
            let a = workers.add(try await fleet.startWorker("a"))
            let names = RabbitControl.workerConnectionNames(pid: a.pid)
            #expect(try await RabbitControl.closeConnections(named: [names.publish]) == 1)
            // Nothing is sent: only watching the connection can notice.
            try await eventually(60, "worker A reconnected") { fleet.log("a").contains("reconnected") }
            let counter = try ActorAddress(type: fleet.type("counter"), id: "after-reconnect")
            try await fleet.client.send(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true)
            #expect(try await waitForCounters(fleet.client, [counter], total: 1, seconds: 60) == [1])
            #expect(a.poll() == nil)
        }
    }

    @Test("the default retry policy in a real worker: 4 attempts, at least 100, 200 and 400 ms apart, then a dead letter saying so")
    func defaultRetryPolicy() async throws {
        let fleet = try await ProcessFleet.make()
        try await fleet.run { workers in
            let client = fleet.client
            let worker = workers.add(try await fleet.startWorker("a"))
            let probe = try await client.spawn(type: fleet.type("probe"), id: "retrying")
            // Fails 3 times, succeeds on the 4th (the last the default policy allows).
            let reply = try await client.ask(probe, kind: "fail", payload: Array(#"{"times":3}"#.utf8), timeout: .seconds(60))
            let attempts = try JSONDecoder().decode(Probe.Attempts.self, from: Data(reply.payload))
            #expect(attempts.attempts == 4)
            let at = attempts.atMicroseconds
            let gaps = zip(at.dropFirst(), at).map { $0 - $1 }
            #expect(gaps.count == 3, "\(attempts)")
            for (gap, minimum) in zip(gaps, [100_000, 200_000, 400_000] as [Int64]) {
                #expect(gap >= minimum, "gaps \(gaps) µs: each must be at least the policy's delay")
                #expect(gap < minimum + 5_000_000, "gaps \(gaps) µs: far longer than the policy's delay")
            }

            // Fails every time: dead-lettered after the 4th attempt.
            try await client.send(to: probe, kind: "fail", payload: Array(#"{"times":99}"#.utf8), id: "doomed-\(fleet.suffix)")
            let dead = try await takeDeadLetters(client, suffix: fleet.suffix, ids: ["doomed-\(fleet.suffix)"])
            #expect(dead.count == 1)
            #expect(dead.first?.attempts == 4)
            #expect(dead.first?.reason.contains("failed after 4 attempts") == true, "\(String(describing: dead.first))")
            #expect(dead.first?.reason.contains("probe failure on attempt 4") == true, "\(String(describing: dead.first))")
            #expect(await worker.terminate(SIGTERM) == 0)
        }
    }

    @Test("a worker configured with another partition count refuses to start, naming both counts, and declares no queue")
    func partitionMismatch() async throws {
        let fleet = try await ProcessFleet.make(partitions: 4)
        try await fleet.run { workers in
            let first = workers.add(try await fleet.startWorker("a"))
            let wrong = workers.add(try WorkerProcess.start(suffix: fleet.suffix, partitions: 8, logPath: fleet.logPath("wrong")))
            let status = try await within(60, "the misconfigured worker exiting") { await wrong.exited() }
            #expect(status != nil && status != 0, "it must refuse to start: \(String(describing: status))")
            let log = fleet.log("wrong")
            #expect(log.contains("has 4 partitions"), "\(log)")
            #expect(log.contains("configured with 8"), "\(log)")
            #expect(log.contains("--partitions 4"), "\(log)")
            let queues = try await RabbitControl.partitionQueues(of: RuntimeHarness.typeNames(suffix: fleet.suffix))
            #expect(queues.count == 5 * 4, "\(queues.map(\.name))")
            #expect(await first.terminate(SIGTERM) == 0)
        }
    }

    @Test("3 workers × 16 partitions: once ownership is stable, every partition has an owner and nobody holds more than 6 (⌈16/3⌉)")
    func loadBound() async throws {
        let fleet = try await ProcessFleet.make(partitions: 16)
        try await fleet.run { workers in
            for name in ["w1", "w2", "w3"] { _ = workers.add(try await fleet.startWorker(name, leaseSeconds: 3)) }
            let types = RuntimeHarness.typeNames(suffix: fleet.suffix)
            // Stable: the same full assignment read twice, several heartbeats apart.
            let owners = try await within(120, "a stable full assignment") {
                while true {
                    let first = try await Self.owners(fleet.client, types)
                    try await Task.sleep(for: .seconds(2))
                    let second = try await Self.owners(fleet.client, types)
                    if first == second, second.values.allSatisfy({ $0.count == 16 && $0.allSatisfy { $0 != nil } }),
                       Set(second.values.flatMap { $0 }).count == 3 {
                        return second
                    }
                }
            }
            for (type, partitions) in owners {
                let load = Dictionary(grouping: partitions.compactMap { $0 }, by: { $0 }).mapValues(\.count)
                #expect(load.count == 3 && load.values.allSatisfy { $0 <= 6 }, "\(type): 3 workers × 16 partitions: \(load)")
            }
        }
    }

    private static func owners(_ client: GreenroomClient, _ types: [String]) async throws -> [String: [String?]] {
        let status = try await client.status(leaseMilliseconds: 3_000)
        var owners: [String: [String?]] = [:]
        for type in types {
            owners[type] = status.partitions.filter { $0.type == type }.sorted { $0.partition < $1.partition }.map(\.owner)
        }
        return owners
    }
}

extension Array where Element: Sendable {
    func asyncContains(_ predicate: (Element) async throws -> Bool) async rethrows -> Bool {
        for element in self where try await predicate(element) { return true }
        return false
    }

    func asyncSum(_ value: (Element) async throws -> Int) async rethrows -> Int {
        var sum = 0
        for element in self { sum += try await value(element) }
        return sum
    }
}
