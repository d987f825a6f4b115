import Broker
import Foundation
import Testing
import Workers

@Suite("Real worker processes: crashes and graceful shutdown lose and double nothing", .serialized)
struct WorkerProcessTests {
    static func suffix() -> String {
        var generator = SystemRandomNumberGenerator()
        return "p" + String(generator.next() as UInt32, radix: 36)
    }

    static func client() async throws -> GreenroomClient {
        try await GreenroomClient.connect(amqp: try AMQPConfiguration(url: TestServers.amqpURL), redis: try RedisConfiguration(url: TestServers.redisURL))
    }

    static func log(_ suffix: String, _ name: String) -> String { "/tmp/greenroom-test-\(suffix)-\(name).log" }

    @Test("killed after a commit, before its ack: after a restart every add is applied exactly once")
    func crashAfterCommit() async throws {
        let suffix = Self.suffix()
        let client = try await Self.client()
        let first = try WorkerProcess.start(suffix: suffix, fault: "after-commit:300", logPath: Self.log(suffix, "a"))
        try await WorkerProcess.waitUntilServing(client, type: "probe-\(suffix)")
        let counters = try (0..<50).map { try ActorAddress(type: "counter-\(suffix)", id: "c\($0)") }
        for _ in 0..<20 {
            try await client.send(counters.map { .init(to: $0, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true) })
        }
        let crashed = try await within(120, "the injected crash") { await first.exited() }
        #expect(crashed == 86, "the worker should have died at the injected fault")

        let second = try WorkerProcess.start(suffix: suffix, logPath: Self.log(suffix, "b"))
        try await WorkerProcess.waitUntilServing(client, type: "probe-\(suffix)")
        let counts = try await waitForCounters(client, counters, total: 20)
        #expect(counts.allSatisfy { $0 == 20 }, "\(counts)")
        #expect(second.stop(SIGTERM) == 0)
        await client.close()
        try await RuntimeHarness.deleteEverything(of: RuntimeHarness.typeNames(suffix: suffix), partitions: 4)
    }

    @Test("killed after publishing a turn's sends, before its ack: no transfer is lost or applied twice")
    func crashAfterPublish() async throws {
        let suffix = Self.suffix()
        let client = try await Self.client()
        let first = try WorkerProcess.start(suffix: suffix, fault: "after-publish:200", logPath: Self.log(suffix, "a"))
        try await WorkerProcess.waitUntilServing(client, type: "probe-\(suffix)")
        let accounts = try (0..<10).map { try ActorAddress(type: "account-\(suffix)", id: "a\($0)") }
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

        let second = try WorkerProcess.start(suffix: suffix, logPath: Self.log(suffix, "b"))
        try await WorkerProcess.waitUntilServing(client, type: "probe-\(suffix)")
        // Everything settles: the sum is exactly what it was, whatever the interleaving.
        try await eventually(120, "all transfers settled") {
            var sum = 0
            for account in accounts {
                sum += try JSONDecoder().decode(Account.State.self, from: Data(try await client.state(of: account))).balance
            }
            let empty = try await queuesEmpty(suffix: suffix)
            return sum == 10_000 && empty
        }
        #expect(second.stop(SIGTERM) == 0)
        await client.close()
        try await RuntimeHarness.deleteEverything(of: RuntimeHarness.typeNames(suffix: suffix), partitions: 4)
    }

    @Test("SIGTERM with 1,000 messages in flight: the worker exits 0 and nothing is lost, doubled or reordered")
    func gracefulShutdown() async throws {
        let suffix = Self.suffix()
        let client = try await Self.client()
        let first = try WorkerProcess.start(suffix: suffix, logPath: Self.log(suffix, "a"))
        try await WorkerProcess.waitUntilServing(client, type: "probe-\(suffix)")
        // Slow turns (20 ms each, 10 actors): the 1,000 messages take seconds,
        // so the SIGTERM lands with most of them delivered but not yet handled.
        let probes = try (0..<10).map { try ActorAddress(type: "probe-\(suffix)", id: "g\($0)") }
        for seq in 0..<100 {
            try await client.send(probes.map {
                .init(to: $0, kind: "touch", payload: Array(#"{"seq":\#(seq),"pauseMicroseconds":20000}"#.utf8), spawnIfMissing: true)
            })
        }
        let status = try await within(60, "the graceful stop") { first.stop(SIGTERM) }
        #expect(status == 0)

        let second = try WorkerProcess.start(suffix: suffix, logPath: Self.log(suffix, "b"))
        try await WorkerProcess.waitUntilServing(client, type: "probe-\(suffix)")
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
        #expect(second.stop(SIGTERM) == 0)
        await client.close()
        try await RuntimeHarness.deleteEverything(of: RuntimeHarness.typeNames(suffix: suffix), partitions: 4)
    }

    /// Waits until every counter reaches `total` (or any passes it) and returns the counts.
    private func waitForCounters(_ client: GreenroomClient, _ counters: [ActorAddress], total: Int) async throws -> [Int] {
        try await within(180, "every counter at \(total)") {
            while true {
                var counts: [Int] = []
                for counter in counters {
                    let state = try? await client.state(of: counter)
                    counts.append(try state.map { try JSONDecoder().decode(Counter.State.self, from: Data($0)).count } ?? 0)
                }
                if counts.allSatisfy({ $0 == total }) || counts.contains(where: { $0 > total }) { return counts }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    private func queuesEmpty(suffix: String) async throws -> Bool {
        let amqp = try await TestServers.amqp()
        defer { Task { await amqp.close() } }
        let channel = try await amqp.openChannel()
        for partition in 0..<4 where try await channel.inspectQueue(Topology.partitionQueue(type: "account-\(suffix)", partition: partition)).messageCount > 0 {
            return false
        }
        return true
    }
}
