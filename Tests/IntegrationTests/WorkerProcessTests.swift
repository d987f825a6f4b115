import Broker
import Foundation
import Testing
import GreenroomTestSupport
import Workers

@Suite("Real worker processes: crashes and graceful shutdown lose and double nothing", .serialized, .timeLimit(.minutes(10)))
struct WorkerProcessTests {
    @Test("killed after a commit, before publishing its sends or acking: after a restart every balance is exactly what the ledger says")
    func crashAfterCommit() async throws {
        try await crashDuringTransfers(fault: "after-commit:300")
    }

    @Test("killed after publishing a turn's sends, before its ack: after a restart every balance is exactly what the ledger says")
    func crashAfterPublish() async throws {
        try await crashDuringTransfers(fault: "after-publish:200")
    }

    /// 600 transfers between 10 accounts (each a debit that sends a credit to
    /// another account) through a real worker that kills itself at `fault`;
    /// a second worker finishes the work. No transfer can be refused, so
    /// each balance has one right value: a turn applied twice, or a credit
    /// lost or doubled, shows on the accounts it touched.
    private func crashDuringTransfers(fault: String) async throws {
        let fleet = try await ProcessFleet.make()
        let client = fleet.client
        let first = try await fleet.startWorker("a", fault: fault)
        let accounts = try (0..<10).map { try ActorAddress(type: fleet.type("account"), id: "a\($0)") }
        for account in accounts {
            try await client.spawn(type: account.type, id: account.id, state: Array(#"{"balance":1000}"#.utf8))
        }
        let ledger = Ledger.random(accounts: accounts, opening: 1_000, count: 600, maximumAmount: 10)
        try await client.send(ledger.transfers)
        let crashed = try await within(120, "the injected crash") { await first.exited() }
        #expect(crashed == 86, "the worker should have died at the injected fault (\(fault))")

        let second = try await fleet.startWorker("b")
        let final = try await settledBalances(client, accounts)
        #expect(ledger.mismatches(final).isEmpty, "\(ledger.mismatches(final))")
        #expect(final.values.reduce(0, +) == ledger.total)
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
        for probe in probes {
            let state = try await settledProbe(client, probe)
            #expect(state.touches == 100, "\(probe): \(state)")
            #expect(state.outOfOrder == 0, "\(probe): \(state)")
        }
        #expect(try await fleet.finish(stopping: second) == 0)
    }
}
