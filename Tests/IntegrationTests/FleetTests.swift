import Broker
import Foundation
import Testing
import GreenroomTestSupport
import Workers

@Suite("Many workers: leases, rebalancing and failover", .serialized, .timeLimit(.minutes(10)))
struct FleetTests {
    /// Waits until all `partitions` of `type` have an owner among exactly `workers`
    /// distinct workers; returns how long that took.
    private func waitForFullOwnership(_ fleet: ProcessFleet, _ type: String, workers: Int, seconds: Double = 60) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        try await eventually(seconds, "\(fleet.partitions) partitions owned by \(workers) workers") {
            let (owned, owners) = try await fleet.ownership(of: type)
            return owned == fleet.partitions && owners.count == workers
        }
        return clock.now - start
    }

    /// The committed count of `counter`, 0 before its first add.
    private static func count(_ client: GreenroomClient, _ counter: ActorAddress) async -> Int {
        guard let state = try? await client.state(of: counter) else { return 0 }
        return (try? JSONDecoder().decode(Counter.State.self, from: Data(state)).count) ?? 0
    }

    @Test("100,000 adds to 1,000 counters while a worker joins, one is SIGKILLed and one SIGTERMed: every counter exact, order kept")
    func failoverUnderLoad() async throws {
        try await withFleet(partitions: 16) { fleet in
            var workers = [try await fleet.startWorker("w1", leaseSeconds: 3)]
            workers.append(try await fleet.startWorker("w2", leaseSeconds: 3))
            workers.append(try await fleet.startWorker("w3", leaseSeconds: 3))
            _ = try await waitForFullOwnership(fleet, "counter", workers: 3)
            let status = try await fleet.client.status(types: [fleet.type("counter")])
            // The workers host every built-in; only counter's partitions were inspected, and none of the others counts as lost.
            #expect(status.typesWithoutData.isEmpty, "\(status.typesWithoutData)")
            let owners = status.partitions.filter { $0.type == fleet.type("counter") }.compactMap(\.owner)
            let load = Dictionary(grouping: owners, by: { $0 }).mapValues(\.count)
            #expect(load.count == 3 && load.values.allSatisfy { $0 <= 7 }, "3 workers × 16 partitions: \(load)")

            let counters = try (0..<1_000).map { try ActorAddress(type: fleet.type("counter"), id: "n\($0)") }
            let probe = try ActorAddress(type: fleet.type("probe"), id: "sequence")
            let client = fleet.client
            let sending = Task {
                for round in 0..<100 {
                    var batch = counters.map { GreenroomClient.Outgoing(to: $0, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true) }
                    batch.append(.init(to: probe, kind: "touch", payload: Array(#"{"seq":\#(round)}"#.utf8), spawnIfMissing: true))
                    try await client.send(batch)
                }
            }
            defer { sending.cancel() }

            // While the adds flow: a 4th worker joins, then one is killed, then one is stopped.
            try await eventually(60, "the first adds committed") { await Self.count(client, counters[0]) > 0 }
            workers.append(try await fleet.startWorker("w4", leaseSeconds: 3))
            let afterJoin = try await waitForFullOwnership(fleet, "counter", workers: 4)
            print("full ownership after a join: \(afterJoin)")
            await workers[0].terminate(SIGKILL)
            let afterKill = try await waitForFullOwnership(fleet, "counter", workers: 3)
            print("full ownership after a SIGKILL: \(afterKill)")
            #expect(await workers[1].terminate(SIGTERM) == 0)
            let afterStop = try await waitForFullOwnership(fleet, "counter", workers: 2)
            print("full ownership after a SIGTERM: \(afterStop)")
            try await sending.value

            let counts = try await waitForCounters(client, counters, total: 100)
            #expect(counts.filter { $0 != 100 }.isEmpty, "\(counts.enumerated().filter { $0.element != 100 }.prefix(10))")
            let sequence = try #require(try await storedProbe(client, probe))
            #expect(sequence.touches == 100)
            #expect(sequence.outOfOrder == 0)
            #expect(afterKill < .seconds(30))
            #expect(afterJoin < .seconds(30))
        }
    }

    @Test("a worker frozen past its lease commits nothing once resumed, and nothing is lost")
    func frozenWorker() async throws {
        try await withFleet(partitions: 4) { fleet in
            let frozen = try await fleet.startWorker("frozen", leaseSeconds: 2)
            let other = try await fleet.startWorker("other", leaseSeconds: 2)
            _ = try await waitForFullOwnership(fleet, "counter", workers: 2)
            let counters = try (0..<40).map { try ActorAddress(type: fleet.type("counter"), id: "f\($0)") }
            let client = fleet.client
            try await client.send(counters.map { .init(to: $0, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true) })

            kill(frozen.pid, SIGSTOP)
            // Messages sent while it is frozen; its leases expire and move to the other worker.
            for _ in 0..<9 {
                try await client.send(counters.map { .init(to: $0, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true) })
            }
            _ = try await waitForFullOwnership(fleet, "counter", workers: 1)
            kill(frozen.pid, SIGCONT)

            let counts = try await waitForCounters(client, counters, total: 10, seconds: 120)
            #expect(counts.allSatisfy { $0 == 10 }, "\(counts)")
            // Once resumed it noticed it had lost its partitions; it owns none unless it won some back.
            let log = (try? String(contentsOfFile: fleet.logPath("frozen"), encoding: .utf8)) ?? ""
            #expect(log.contains("lost partition") || log.contains("commit refused"), "the frozen worker should have seen it lost its leases")
            #expect(await other.terminate(SIGTERM) == 0)
        }
    }
}
