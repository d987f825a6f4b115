import Broker
import Foundation
import GreenroomTestSupport
import Testing
@testable import Workers
#if canImport(Glibc)
import Glibc
#endif

/// Time through real worker processes: delayed messages and reminders
/// across `kill -9`, graceful handover, a fleet that was down, and a
/// client's delayed message across a restart.
@Suite("Delayed messages and reminders through real worker processes", .serialized, .timeLimit(.minutes(10)))
struct TimeProcessTests {
    static func fired(_ client: GreenroomClient, _ address: ActorAddress) async throws -> [Probe.Fired] {
        guard let bytes = try? await client.state(of: address) else { return [] }
        return try JSONDecoder().decode(Probe.State.self, from: Data(bytes)).fired ?? []
    }

    static func schedule(_ client: GreenroomClient, _ address: ActorAddress, _ json: String) async throws {
        try await client.send(to: address, kind: "schedule", payload: Array(json.utf8))
    }

    /// Sets a `fence` timer and waits until it fired: whatever was due before it has fired by then, or never will.
    static func fence(_ client: GreenroomClient, _ probe: ActorAddress, afterMs: Int = 500) async throws {
        try await schedule(client, probe, #"{"timer":"fence","afterMs":\#(afterMs)}"#)
        try await eventually(60, "the fence timer fired") { try await fired(client, probe).contains { $0.name == "fence" } }
    }

    /// A reminder firing's due time, from its id (`GENERATION@DUE`).
    static func due(_ firing: Probe.Fired) -> Int64? {
        firing.id.split(separator: "@").last.flatMap { Int64($0) }
    }

    @Test("delayed messages sent, then their owner kill -9ed while they fire: after takeover each fires exactly once")
    func killedOwnerFiresOnce() async throws {
        let fleet = try await ProcessFleet.make(partitions: 1)
        try await fleet.run { workers in
            let client = fleet.client
            let a = workers.add(try await fleet.startWorker("a", leaseSeconds: 2))
            let probe = try await client.spawn(type: fleet.type("probe"), id: "sink")
            // 100 delayed ticks to itself, due 1.0–3.0 s after their turns: the kill lands among them.
            try await client.send((0..<100).map {
                .init(to: probe, kind: "schedule", payload: Array(#"{"afterMs":\#(1_000 + $0 * 20)}"#.utf8), id: "d\($0)-\(fleet.suffix)")
            })
            try await eventually(60, "some delayed messages fired") { try await Self.fired(client, probe).count >= 10 }
            _ = await a.terminate(SIGKILL)
            let before = try await Self.fired(client, probe).count
            workers.add(try await fleet.startWorker("b", leaseSeconds: 2))
            try await eventually(120, "every delayed message fired after takeover") { try await Self.fired(client, probe).count >= 100 }
            try await Self.fence(client, probe)
            let ticks = try await Self.fired(client, probe).filter { $0.name == nil }
            #expect(before < 100, "the kill should land before the last one fired")
            #expect(ticks.count == 100, "each exactly once: \(ticks.count)")
            #expect(Set(ticks.map(\.id)) == Set((0..<100).map { "d\($0)-\(fleet.suffix)/t0" }))
        }
    }

    @Test("a firing published by an owner that died before settling it is published again, with the same id, and runs once")
    func republishedFiringRunsOnce() async throws {
        let fleet = try await ProcessFleet.make(partitions: 1)
        try await fleet.run { workers in
            let client = fleet.client
            let a = workers.add(try await fleet.startWorker("a"))
            let probe = try await client.spawn(type: fleet.type("probe"), id: "republished")
            // First due in 2 s, then every minute: one firing in this test.
            try await Self.schedule(client, probe, #"{"reminder":"beat","everyMs":60000,"afterMs":2000}"#)
            let redis = try await TestServers.redis()
            defer { Task { await redis.close() } }
            let partition = PartitionID(type: fleet.type("probe"), index: 0)
            try await eventually(30, "the reminder stored") { try await redis.send("ZCARD", RedisLayout.due(partition)).integer == 1 }
            #expect(await a.terminate(SIGTERM) == 0)
            // What the dispatcher publishes, published as a dying owner would have: before its settle.
            let members = try await redis.send("ZRANGE", RedisLayout.due(partition), "0", "0", "WITHSCORES").array ?? []
            let generation = try #require(members.first?.string)
            let due = try #require(members.last?.string.flatMap { Int64($0) })
            let raw = try #require(try await redis.send("HGET", RedisLayout.dueEntries(partition), generation).bytes)
            let entry = try DueEntry.decode(raw)
            let amqp = try await TestServers.amqp()
            let channel = try await amqp.openChannel()
            try await channel.enableConfirms()
            try await channel.publish(DueDispatcher.message(entry, due: due, missed: 0), exchange: Topology.actorsExchange,
                                      routingKey: partition.queue, mandatory: true)
            await amqp.close()
            // The next owner publishes it again (same id) and settles it to its next time.
            workers.add(try await fleet.startWorker("b"))
            try await eventually(60, "the reminder settled by the next owner") {
                try await redis.send("ZSCORE", RedisLayout.due(partition), generation).string == "\(due + 60_000)"
            }
            try await Self.fence(client, probe)
            let beats = try await Self.fired(client, probe).filter { $0.name == "beat" }
            #expect(beats.map(\.id) == ["\(generation)@\(due)"], "\(beats)")
        }
    }

    @Test("a reminder keeps firing across a graceful handover: a second worker joins, the first stops; no period doubled")
    func reminderAcrossHandover() async throws {
        let fleet = try await ProcessFleet.make(partitions: 4)
        try await fleet.run { workers in
            let client = fleet.client
            let a = workers.add(try await fleet.startWorker("a"))
            let probe = try await client.spawn(type: fleet.type("probe"), id: "beats")
            try await Self.schedule(client, probe, #"{"reminder":"beat","everyMs":1000,"afterMs":0}"#)
            try await eventually(60, "two beats") { try await Self.fired(client, probe).count >= 2 }
            workers.add(try await fleet.startWorker("b"))
            try await eventually(60, "the partitions shared by both workers") { try await fleet.ownership(of: "probe").owners.count == 2 }
            #expect(await a.terminate(SIGTERM) == 0)
            let handedOver = try await Self.fired(client, probe).count
            try await eventually(60, "three beats on the second worker alone") { try await Self.fired(client, probe).count >= handedOver + 3 }
            let beats = try await Self.fired(client, probe)
            #expect(Set(beats.map(\.id)).count == beats.count, "a period fired twice: \(beats.map(\.id))")
            let dues = beats.compactMap(Self.due)
            #expect(dues.count == beats.count)
            // Phase kept: each next due is a whole number of periods after the last. A
            // firing that went out late (a handover under load can take over a period)
            // stands for the periods it missed, so the next comes that many periods later.
            for (earlier, later) in zip(beats, beats.dropFirst()) {
                guard let first = Self.due(earlier), let next = Self.due(later) else { continue }
                #expect(next - first == Int64((earlier.missed ?? 0) + 1) * 1_000, "\(earlier.id) (missed \(earlier.missed ?? 0)) → \(later.id)")
            }
        }
    }

    @Test("a reminder after the fleet was down fires once, saying how many periods it missed, not once per period; then on time")
    func reminderAfterOutage() async throws {
        let fleet = try await ProcessFleet.make(partitions: 1)
        try await fleet.run { workers in
            let client = fleet.client
            let a = workers.add(try await fleet.startWorker("a"))
            let probe = try await client.spawn(type: fleet.type("probe"), id: "outage")
            try await Self.schedule(client, probe, #"{"reminder":"beat","everyMs":1000,"afterMs":0}"#)
            try await eventually(60, "a beat") { try await Self.fired(client, probe).count >= 1 }
            #expect(await a.terminate(SIGTERM) == 0)
            let down = try await Self.fired(client, probe).count
            // Down until the reminder is 3.5 periods overdue in Redis.
            let redis = try await TestServers.redis()
            defer { Task { await redis.close() } }
            let dueKey = "gr:\(Keys.tag(fleet.type("probe"), 0)):due"
            try await eventually(60, "the reminder 3.5 periods overdue") {
                guard let score = try await redis.send("ZRANGE", dueKey, "0", "0", "WITHSCORES").array?.last?.string.flatMap({ Int64($0) })
                else { return false }
                return score < Schedules.milliseconds(Date()) - 3_500
            }
            workers.add(try await fleet.startWorker("b"))
            try await eventually(60, "two beats after the outage") { try await Self.fired(client, probe).count >= down + 2 }
            let after = Array(try await Self.fired(client, probe).dropFirst(down))
            #expect((after[0].missed ?? 0) >= 3, "\(after[0])")
            // The next firing is the next period after the collapsed ones, not a burst of the
            // missed periods (it may be late itself on a loaded machine: its own `missed` then says so).
            if let first = Self.due(after[0]), let next = Self.due(after[1]) {
                #expect(next - first == Int64((after[0].missed ?? 0) + 1) * 1_000)
            }
        }
    }

    @Test("a client's delayed message (x-greenroom-not-before) is stored, survives a worker restart, and fires once when due")
    func clientDelayedMessage() async throws {
        let fleet = try await ProcessFleet.make(partitions: 1)
        try await fleet.run { workers in
            let client = fleet.client
            let a = workers.add(try await fleet.startWorker("a"))
            let probe = try await client.spawn(type: fleet.type("probe"), id: "later")
            let id = "later-\(fleet.suffix)"
            let notBefore = Schedules.milliseconds(Date()) + 5_000
            // A raw publish: the client's own delayed send is another engineer's work.
            let amqp = try await TestServers.amqp()
            let channel = try await amqp.openChannel()
            try await channel.enableConfirms()
            let headers: AMQPTable = [WireFormat.toHeader: .string(probe.description), WireFormat.notBeforeHeader: .int64(notBefore)]
            for _ in 0..<2 {  // sent twice, as a client retrying would: stored once
                try await channel.publish(
                    AMQPMessage(body: Array("{}".utf8), properties: .init(contentType: WireFormat.contentType, headers: headers, persistent: true,
                                                                    messageID: id, type: "tick")),
                    exchange: Topology.actorsExchange, routingKey: PartitionID(of: probe, partitions: 1).queue, mandatory: true)
            }
            await amqp.close()
            let redis = try await TestServers.redis()
            defer { Task { await redis.close() } }
            let dueKey = "gr:\(Keys.tag(fleet.type("probe"), 0)):due"
            try await eventually(30, "the delayed message stored") { try await redis.send("ZSCORE", dueKey, id).string != nil }
            #expect(try await redis.send("ZSCORE", dueKey, id).string == "\(notBefore)")
            #expect(try await Self.fired(client, probe).isEmpty, "not before its time")
            #expect(await a.terminate(SIGTERM) == 0)
            workers.add(try await fleet.startWorker("b"))
            try await eventually(60, "the delayed message fired") { try await Self.fired(client, probe).contains { $0.id == id } }
            #expect(Schedules.milliseconds(Date()) >= notBefore)
            try await Self.fence(client, probe)
            let ticks = try await Self.fired(client, probe).filter { $0.id == id }
            #expect(ticks.count == 1)
            #expect((ticks.first?.lateMs ?? -1) >= 0, "it carries when it was due")
            #expect(try await redis.send("ZSCORE", dueKey, id).string == nil, "settled")
        }
    }
}
