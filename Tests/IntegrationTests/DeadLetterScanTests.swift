import Broker
import Foundation
import Testing
import Workers

/// The dead-letter queries against a queue of known content, larger than one
/// scan consumer's prefetch (`GreenroomClient.deadLetterScanChunk`, 10,000):
/// on a RabbitMQ node of the test's own, so counts are exact and an
/// unfiltered purge harms nobody.
@Suite("Dead-letter scans: filters, limits, exact stats, purge, order kept", .timeLimit(.minutes(5)))
struct DeadLetterScanTests {
    static let plain = 12_000
    static let types = ["alpha", "beta", "gamma"]

    /// Letter i: type i % 3, exhausted when i % 5 == 0 (else no_actor); then
    /// five `needle` letters at the tail, past two consumers' worth.
    static let letters: [FakeDeadLetter] = (0..<plain).map { index in
        let type = types[index % 3]
        return FakeDeadLetter(target: "\(type)/a\(index % 7)", id: "L\(index)",
                              reason: index % 5 == 0 ? "failed after 3 attempts: boom \(index)"
                                  : "actor \(type)/a\(index % 7) does not exist (never spawned, or stopped)")
    } + (0..<5).map { FakeDeadLetter(target: "needle/n", id: "N\($0)", reason: "failed after 1 attempts: a Needle in the queue") }

    @Test("filters and limits find the right letters in order, stats count every one, a filtered purge leaves the rest in order")
    func scanAtScale() async throws {
        let rabbit = try await ScratchRabbit.start()
        defer { rabbit.remove() }
        let client = try await GreenroomClient.connect(amqp: try .init(url: rabbit.url), redis: try .init(url: TestServers.redisURL))
        try await publishDeadLetters(Self.letters, amqpURL: rabbit.url)

        // Stats: every letter, grouped exactly.
        let stats = try await client.deadLetterStats()
        #expect(stats.total == Self.letters.count)
        var expected: [String: Int] = [:]
        for letter in Self.letters {
            expected["\(letter.target.split(separator: "/")[0]) \(DeadLetterClass(reason: letter.reason).rawValue)", default: 0] += 1
        }
        let counted = Dictionary(uniqueKeysWithValues: stats.groups.map { ("\($0.type ?? "-") \($0.reasonClass.rawValue)", $0.count) })
        #expect(counted == expected)
        #expect(stats.groups.first { $0.type == "needle" }?.example == "failed after 1 attempts: a Needle in the queue")

        // Limits stop at the first matches, in queue order; filters reach past the first consumers.
        #expect(try await client.deadLetters(matching: .init(), limit: 5).map(\.messageID) == ["L0", "L1", "L2", "L3", "L4"])
        #expect(try await client.deadLetters(matching: .init(type: "needle"), limit: 3).map(\.messageID) == ["N0", "N1", "N2"])
        #expect(try await client.deadLetters(matching: .init(reason: "NEEDLE"), limit: 100).count == 5)
        #expect(try await client.deadLetters(matching: .init(type: "beta", reason: "exhausted"), limit: 3).map(\.messageID) == ["L10", "L25", "L40"])
        #expect(try await client.deadLetters(matching: .init(id: "L11997"), limit: 10).map(\.target) == ["alpha/a6"])
        #expect(try await client.deadLetters(matching: .init(type: "nosuch"), limit: 10).isEmpty)
        #expect(try await client.deadLetterCount(matching: .init(type: "gamma", reason: "boom")) == (0..<Self.plain).filter { $0 % 3 == 2 && $0 % 5 == 0 }.count)

        // No terminal and no --yes: refused, nothing deleted.
        let refused = try await CommandRun.run("enqueue", ["dead", "purge", "--type", "beta"], environment: ["GREENROOM_AMQP_URL": rabbit.url])
        #expect(refused.status != 0 && refused.stderr.contains("--yes") && refused.stderr.contains("nothing was deleted"), "\(refused)")
        try await eventually(30, "every letter back after the refused purge") {
            try await client.deadLetterCount(matching: .init()) == Self.letters.count
        }

        // A filtered purge deletes exactly its matches.
        let betas = Self.letters.filter { $0.target.hasPrefix("beta/") }
        let purged = try await CommandRun.run("enqueue", ["dead", "purge", "--type", "beta", "--yes", "--json"],
                                              environment: ["GREENROOM_AMQP_URL": rabbit.url])
        #expect(purged.status == 0 && purged.stdout == #"{"purged":\#(betas.count)}"# + "\n", "\(purged)")

        // Browsing lost and reordered nothing: the rest is there, in its order.
        let kept = Self.letters.filter { !$0.target.hasPrefix("beta/") }.map(\.id)
        let rest = try await drainDeadLetterIDs(amqpURL: rabbit.url, count: kept.count)
        #expect(rest.count == kept.count)
        let firstDifference = (0..<min(rest.count, kept.count)).first { rest[$0] != kept[$0] }
        #expect(firstDifference == nil, "order differs at \(firstDifference ?? 0): \(rest[(firstDifference ?? 0)...].prefix(5))")

        // An unfiltered purge takes everything and says how many.
        try await publishDeadLetters(Array(Self.letters.prefix(10)), amqpURL: rabbit.url)
        let all = try await CommandRun.run("enqueue", ["dead", "purge", "--yes", "--json"], environment: ["GREENROOM_AMQP_URL": rabbit.url])
        #expect(all.stdout == #"{"purged":10}"# + "\n", "\(all)")
        #expect(try await client.deadLetterStats().total == 0)
        await client.close()
    }

    /// A replayed letter its actor refuses again is dead-lettered anew, behind
    /// the letters the replay is still looking at: two letters of one message
    /// id stand for that here, in place from the start, so the scan meets
    /// the second for certain.
    @Test("a replay run replays a message id once: a second letter of that id stays in the queue")
    func replayOncePerID() async throws {
        let rabbit = try await ScratchRabbit.start()
        defer { rabbit.remove() }
        let client = try await GreenroomClient.connect(amqp: try .init(url: rabbit.url), redis: try .init(url: TestServers.redisURL))
        let type = "replay-once-" + String(UInt32.random(in: .min ... .max), radix: 36)
        let redis = try await TestServers.redis()
        try await withCleanUp((client, redis), "forget \(type)", cleanUp: { client, redis in
            _ = try await redis.send("HDEL", "gr:types", type)
            await redis.close()
            await client.close()
        }) { client, redis in
            try await redis.send("HSET", "gr:types", type, 1)
            let partition = PartitionID.all(of: type, partitions: 1)[0]
            let amqp = try await AMQPConnection.connect(try AMQPConfiguration(url: rabbit.url))
            defer { Task { await amqp.close() } }
            let channel = try await amqp.openChannel()
            try await Topology.declarePartition(partition, on: channel)
            let letters = ["twice", "other", "twice"].map {
                FakeDeadLetter(target: "\(type)/a", id: $0, reason: "actor \(type)/a does not exist (never spawned, or stopped)")
            }
            try await publishDeadLetters(letters, amqpURL: rabbit.url)

            #expect(try await client.replayDeadLetters(limit: 100) { _ in true } == 2)
            #expect(try await channel.inspectQueue(partition.queue).messageCount == 2, "twice and other, once each")
            #expect(try await drainDeadLetterIDs(amqpURL: rabbit.url, count: 1) == ["twice"])
            // A later run replays it: it is a run, not the id, that is limited.
            try await publishDeadLetters([letters[0]], amqpURL: rabbit.url)
            #expect(try await client.replayDeadLetters(limit: 100) { _ in true } == 1)
        }
    }
}
