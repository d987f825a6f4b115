import Broker
import Foundation
import Testing
import GreenroomTestSupport
import Workers

@Suite("Runtime guarantees: exactly-once effects, one at a time, in order", .timeLimit(.minutes(15)))
struct RuntimeGuaranteeTests {
    @Test("1,000 counters × 100 adds sent concurrently over several connections all end at exactly 100")
    func thousandCounters() async throws {
        let harness = try await RuntimeHarness.start(partitions: 8)
        let type = harness.type("counter")
        let amqp = try AMQPConfiguration(url: TestServers.amqpURL)
        let redis = try RedisConfiguration(url: TestServers.redisURL)
        let senders = try await withThrowingTaskGroup(of: GreenroomClient.self) { group in
            for _ in 0..<4 { group.addTask { try await GreenroomClient.connect(amqp: amqp, redis: redis) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let add = Array(#"{"by":1}"#.utf8)
        try await within(600, "100,000 adds sent") {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, sender) in senders.enumerated() {
                    group.addTask {
                        // Each sender: its share of counters, 100 rounds of one add each.
                        let counters = try stride(from: index, to: 1_000, by: senders.count).map { try ActorAddress(type: type, id: "n\($0)") }
                        for _ in 0..<100 {
                            try await sender.send(counters.map { .init(to: $0, kind: "add", payload: add, spawnIfMissing: true) })
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let counters = try (0..<1_000).map { try ActorAddress(type: type, id: "n\($0)") }
        let counts = try await settledCounts(harness.client, counters, runtimes: [harness.runtime], seconds: 600)
        let wrong = counts.enumerated().filter { $0.element != 100 }
        #expect(wrong.isEmpty, "\(wrong.count) counters not at 100: \(wrong.prefix(10))")
        for sender in senders { await sender.close() }
        try await harness.cleanUp()
    }

    @Test("hot actors under --concurrency 64: no two turns of one actor ever overlap, and order is kept")
    func oneAtATime() async throws {
        let harness = try await RuntimeHarness.start(concurrency: 64)
        let probes = try (0..<8).map { try harness.address("probe", "hot\($0)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for probe in probes {
                group.addTask {
                    let touches = (0..<200).map { seq in
                        GreenroomClient.Outgoing(to: probe, kind: "touch", payload: Array(#"{"seq":\#(seq),"pauseMicroseconds":100}"#.utf8), spawnIfMissing: true)
                    }
                    try await harness.client.send(touches)
                }
            }
            try await group.waitForAll()
        }
        for probe in probes {
            let state = try await settledProbe(harness.client, probe, runtimes: [harness.runtime])
            #expect(state.touches == 200, "\(probe): \(state)")
            let report = try JSONDecoder().decode(Probe.Report.self, from: Data(try await harness.client.ask(probe, kind: "report", timeout: .seconds(60)).payload))
            #expect(report.overlaps == 0)
            #expect(report.outOfOrder == 0)
            #expect(report.lastSeq == 199)
        }
        try await harness.cleanUp()
    }

    @Test("10,000 sequenced messages from one sender to one actor arrive in order")
    func perSenderOrder() async throws {
        let harness = try await RuntimeHarness.start()
        let probe = try harness.address("probe", "ordered")
        for start in stride(from: 0, to: 10_000, by: 500) {
            try await harness.client.send((start..<start + 500).map { seq in
                .init(to: probe, kind: "touch", payload: Array(#"{"seq":\#(seq)}"#.utf8), spawnIfMissing: true)
            })
        }
        let state = try await settledProbe(harness.client, probe, runtimes: [harness.runtime])
        #expect(state.touches == 10_000)
        #expect(state.outOfOrder == 0)
        #expect(state.lastSeq == 9_999)
        try await harness.cleanUp()
    }

    @Test("money is conserved across concurrent transfers: every balance ends exactly as the ledger says")
    func accounts() async throws {
        let harness = try await RuntimeHarness.start()
        let type = harness.type("account")
        let accounts = try (0..<10).map { try ActorAddress(type: type, id: "acct\($0)") }
        for account in accounts {
            try await harness.client.spawn(type: type, id: account.id, state: Array(#"{"balance":1000}"#.utf8))
        }
        // 2,000 transfers none of which can be refused, so every balance has one right answer.
        let ledger = Ledger.random(accounts: accounts, opening: 1_000, count: 2_000, maximumAmount: 5)
        try await harness.client.send(ledger.transfers)
        let final = try await settledBalances(harness.client, accounts, runtimes: [harness.runtime])
        #expect(ledger.mismatches(final).isEmpty, "\(ledger.mismatches(final))")
        #expect(final.values.reduce(0, +) == ledger.total)
        try await harness.cleanUp()
    }

    @Test("spawn, find and a stop that cascades through a tree")
    func treeCascade() async throws {
        let harness = try await RuntimeHarness.start()
        let type = harness.type("tree")
        let root = try await harness.client.spawn(type: type, id: "root")
        try await harness.client.send(to: root, kind: "grow", payload: Array(#"{"depth":2,"fanout":3}"#.utf8))
        try await eventually(60, "13 tree nodes") { try await harness.client.find(type: type).count == 13 }
        #expect(try await harness.client.children(of: root).map(\.id) == ["root.0", "root.1", "root.2"])
        let count = try await harness.client.ask(try ActorAddress(type: type, id: "root.1"), kind: "count", timeout: .seconds(60))
        #expect(count.text == #"{"children":3}"#)

        try await harness.client.stop(root)
        try await eventually(60, "the whole tree stopped") { try await harness.client.find(type: type).isEmpty }
        await #expect(throws: ActorNotFound.self) { _ = try await harness.client.state(of: root) }
        let again = await #expect(throws: AskFailed.self) { _ = try await harness.client.ask(root, kind: "count", timeout: .seconds(60)) }
        #expect(again?.reason.contains("does not exist") == true)
        try await harness.cleanUp()
    }

    @Test("a failing turn is retried, then dead-lettered with its error, and the parent hears child-failed")
    func retryThenDeadLetter() async throws {
        let harness = try await RuntimeHarness.start()
        let parent = try await harness.client.spawn(type: harness.type("probe"), id: "parent")
        try await harness.client.send(to: parent, kind: "adopt", payload: Array(#"{"id":"kid"}"#.utf8))
        let kid = try harness.address("probe", "kid")
        try await eventually(30, "the child exists") { try await harness.client.exists(kid) }

        // Fails twice, succeeds on the third attempt (the harness allows 3): no dead letter.
        try await harness.client.send(to: kid, kind: "fail", payload: Array(#"{"times":2}"#.utf8))
        // Fails every time: dead-lettered after 3 attempts.
        try await harness.client.send(to: kid, kind: "fail", payload: Array(#"{"times":99}"#.utf8), id: "doomed-\(harness.suffix)")
        try await harness.client.send(to: kid, kind: "touch", payload: Array(#"{"seq":1}"#.utf8))

        // Wait for the doomed message's own letter (a count of letters could be met by another one).
        var dead = try await takeDeadLetters(harness.client, suffix: harness.suffix, ids: ["doomed-\(harness.suffix)"])
        #expect(dead.count == 1, "\(dead.map { ($0.messageID, $0.reason) })")
        #expect(dead.first?.messageID == "doomed-\(harness.suffix)")
        #expect(dead.first?.attempts == 3)
        #expect(dead.first?.reason.contains("failed after 3 attempts") == true)
        #expect(dead.first?.reason.contains("probe failure on attempt 3") == true)

        try await eventually(30, "the parent heard child-failed") {
            let report = try JSONDecoder().decode(Probe.Report.self, from: Data(try await harness.client.ask(parent, kind: "report", timeout: .seconds(60)).payload))
            return report.childFailures == 1
        }
        // The child went on: the touch after the failures was handled.
        let kidState = try await settledProbe(harness.client, kid, runtimes: [harness.runtime])
        #expect(kidState.touches == 1)
        // The touch came after both fails in the kid's mailbox, so any other
        // dead letter of this test (the fail that should have succeeded) is out by now.
        dead += try await harness.client.takeDeadLetters(limit: scanEveryDeadLetter, timeout: .milliseconds(500)) { [suffix = harness.suffix] in
            $0.target?.contains("-\(suffix)/") == true
        }
        #expect(dead.map(\.messageID) == ["doomed-\(harness.suffix)"], "\(dead.map { ($0.messageID, $0.reason) })")
        try await harness.cleanUp()
    }
}
