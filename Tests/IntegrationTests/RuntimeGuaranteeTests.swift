import Broker
import Foundation
import Testing
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
        let counts = try await waitForCounters(harness.client, counters, total: 100, seconds: 600)
        let wrong = counts.filter { $0 != 100 }
        #expect(wrong.isEmpty, "\(wrong.prefix(10))")
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
            try await eventually(120, "200 touches on \(probe)") {
                let reply = try await harness.client.ask(probe, kind: "report", timeout: .seconds(60))
                return try JSONDecoder().decode(Probe.Report.self, from: Data(reply.payload)).touches == 200
            }
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
        // Polls the committed state in Redis: an ask would queue behind the touches.
        try await eventually(300, "10,000 touches") {
            let state = try? await harness.client.state(of: probe)
            return try state.map { try JSONDecoder().decode(Probe.State.self, from: Data($0)).touches } == 10_000
        }
        let state = try JSONDecoder().decode(Probe.State.self, from: Data(try await harness.client.state(of: probe)))
        #expect(state.outOfOrder == 0)
        #expect(state.lastSeq == 9_999)
        try await harness.cleanUp()
    }

    @Test("money is conserved across concurrent transfers, and an overdraft changes nothing")
    func accounts() async throws {
        let harness = try await RuntimeHarness.start()
        let type = harness.type("account")
        let accounts = try (0..<10).map { try ActorAddress(type: type, id: "acct\($0)") }
        for account in accounts {
            try await harness.client.spawn(type: type, id: account.id, state: Array(#"{"balance":1000}"#.utf8))
        }
        let overdraft = try await harness.client.ask(accounts[0], kind: "withdraw", payload: Array(#"{"amount":5000}"#.utf8), timeout: .seconds(60))
        #expect(try JSONDecoder().decode(Account.Outcome.self, from: Data(overdraft.payload)) == Account.Outcome(ok: false, balance: 1000, reason: "insufficient funds"))

        var generator = SystemRandomNumberGenerator()
        var transfers: [GreenroomClient.Outgoing] = []
        for _ in 0..<2_000 {
            let from = Int.random(in: 0..<10, using: &generator)
            let to = (from + Int.random(in: 1..<10, using: &generator)) % 10
            transfers.append(.init(to: accounts[from], kind: "transfer",
                                   payload: Array(#"{"to":"\#(accounts[to])","amount":\#(Int.random(in: 1...300, using: &generator))}"#.utf8)))
        }
        try await harness.client.send(transfers)
        try await eventually(300, "all transfers and deposits done") {
            let inFlight = await harness.runtime.inFlight()
            let sum = try await total(harness, accounts)
            return inFlight == 0 && sum == 10_000
        }
        // Quiet for a moment longer: nothing still in flight changes the total.
        #expect(try await total(harness, accounts) == 10_000)
        try await harness.cleanUp()
    }

    private func total(_ harness: RuntimeHarness, _ accounts: [ActorAddress]) async throws -> Int {
        var sum = 0
        for account in accounts {
            sum += try JSONDecoder().decode(Account.State.self, from: Data(try await harness.client.state(of: account))).balance
        }
        return sum
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

        let dead = try await harness.takeDeadLetters(1)
        #expect(dead.count == 1)
        #expect(dead.first?.messageID == "doomed-\(harness.suffix)")
        #expect(dead.first?.attempts == 3)
        #expect(dead.first?.reason.contains("failed after 3 attempts") == true)
        #expect(dead.first?.reason.contains("probe failure on attempt 3") == true)

        try await eventually(30, "the parent heard child-failed") {
            let report = try JSONDecoder().decode(Probe.Report.self, from: Data(try await harness.client.ask(parent, kind: "report", timeout: .seconds(60)).payload))
            return report.childFailures == 1
        }
        // The child went on: the touch after the failures was handled.
        let kidReport = try JSONDecoder().decode(Probe.Report.self, from: Data(try await harness.client.ask(kid, kind: "report", timeout: .seconds(60)).payload))
        #expect(kidReport.touches == 1)
        try await harness.cleanUp()
    }
}
