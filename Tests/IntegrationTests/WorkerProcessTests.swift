import Broker
import Foundation
import Testing
import Workers

@Suite("Real worker processes: crashes and graceful shutdown lose and double nothing", .serialized, .timeLimit(.minutes(10)))
struct WorkerProcessTests {
    @Test("killed after a commit, before its ack: after a restart every add is applied exactly once")
    func crashAfterCommit() async throws {
        let fleet = try await ProcessFleet.make()
        let client = fleet.client
        let first = try await fleet.startWorker("a", fault: "after-commit:300")
        let counters = try (0..<50).map { try ActorAddress(type: fleet.type("counter"), id: "c\($0)") }
        for _ in 0..<20 {
            try await client.send(counters.map { .init(to: $0, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true) })
        }
        let crashed = try await within(120, "the injected crash") { await first.exited() }
        #expect(crashed == 86, "the worker should have died at the injected fault")

        let second = try await fleet.startWorker("b")
        let counts = try await waitForCounters(client, counters, total: 20)
        #expect(counts.allSatisfy { $0 == 20 }, "\(counts)")
        #expect(try await fleet.finish(stopping: second) == 0)
    }

    @Test("killed after publishing a turn's sends, before its ack: no transfer is lost or applied twice")
    func crashAfterPublish() async throws {
        let fleet = try await ProcessFleet.make()
        let client = fleet.client
        let first = try await fleet.startWorker("a", fault: "after-publish:200")
        let accounts = try (0..<10).map { try ActorAddress(type: fleet.type("account"), id: "a\($0)") }
        for account in accounts {
            try await client.spawn(type: account.type, id: account.id, state: Array(#"{"balance":1000}"#.utf8))
        }
        var transfers: [GreenroomClient.Outgoing] = []
        for index in 0..<600 {
            let from = accounts[index % 10], to = accounts[(index * 7 + 3) % 10]
            guard from != to else { continue }
            transfers.append(.init(to: from, kind: "transfer", payload: Array(#"{"to":"\#(to)","amount":\#(1 + index % 50)}"#.utf8)))
        }
        try await client.send(transfers)
        let crashed = try await within(120, "the injected crash") { await first.exited() }
        #expect(crashed == 86)

        let second = try await fleet.startWorker("b")
        // Everything settles: the sum is exactly what it was, whatever the interleaving.
        try await eventually(120, "all transfers settled") {
            var sum = 0
            for account in accounts {
                sum += try JSONDecoder().decode(Account.State.self, from: Data(try await client.state(of: account))).balance
            }
            let empty = try await queuesEmpty(type: fleet.type("account"))
            return sum == 10_000 && empty
        }
        #expect(try await fleet.finish(stopping: second) == 0)
    }

    @Test("SIGTERM with 1,000 messages in flight: the worker exits 0 and nothing is lost, doubled or reordered")
    func gracefulShutdown() async throws {
        let fleet = try await ProcessFleet.make()
        let client = fleet.client
        let first = try await fleet.startWorker("a")
        // Slow turns (20 ms each, 10 actors): the 1,000 messages take seconds,
        // so the SIGTERM lands with most of them delivered but not yet handled.
        let probes = try (0..<10).map { try ActorAddress(type: fleet.type("probe"), id: "g\($0)") }
        for seq in 0..<100 {
            try await client.send(probes.map {
                .init(to: $0, kind: "touch", payload: Array(#"{"seq":\#(seq),"pauseMicroseconds":20000}"#.utf8), spawnIfMissing: true)
            })
        }
        let status = try await within(60, "the graceful stop") { await first.terminate(SIGTERM) }
        #expect(status == 0)

        let second = try await fleet.startWorker("b")
        try await within(120, "all 1,000 touches") {
            while true {
                var touches = 0
                for probe in probes {
                    let state = try? await client.state(of: probe)
                    touches += try state.map { try JSONDecoder().decode(Probe.State.self, from: Data($0)).touches } ?? 0
                }
                if touches >= 1_000 { return }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        for probe in probes {
            let state = try JSONDecoder().decode(Probe.State.self, from: Data(try await client.state(of: probe)))
            #expect(state.touches == 100, "\(probe): \(state)")
            #expect(state.outOfOrder == 0, "\(probe): \(state)")
        }
        #expect(try await fleet.finish(stopping: second) == 0)
    }

    private func queuesEmpty(type: String) async throws -> Bool {
        let amqp = try await TestServers.amqp()
        defer { Task { await amqp.close() } }
        let channel = try await amqp.openChannel()
        for partition in 0..<4 where try await channel.inspectQueue(Topology.partitionQueue(type: type, partition: partition)).messageCount > 0 {
            return false
        }
        return true
    }
}
