import Broker
import Foundation
import Testing
import Workers

/// `GreenroomClient.schedules(of:)` and `enqueue reminders list` read the
/// layout of docs/PROTOCOL.md ("Redis layout"): the actor hash's `schedules`,
/// then each generation's entry in `due-entries` and its score in `due`.
/// Written here by hand, for a type no worker hosts (nothing fires); the
/// end-to-end test with an actor's own reminder is `ReminderCommandTests`.
@Suite("Listing an actor's timers and reminders from Redis", .timeLimit(.minutes(2)))
struct ReminderListTests {
    static let tickDue: Int64 = 1_900_000_000_000
    static let retryDue: Int64 = 1_900_000_123_456

    /// A one-partition type with actor `a` holding a reminder `tick` (every
    /// 2 s), a timer `retry` and a reminder `gone` whose entry is missing;
    /// actor `plain` with none; actor `stopped`, stopped.
    private static func withSchedules(_ body: (String, GreenroomClient) async throws -> Void) async throws {
        var generator = SystemRandomNumberGenerator()
        let type = "sched-" + String(generator.next() as UInt32, radix: 36)
        let client = try await GreenroomClient.connect(amqp: try AMQPConfiguration(url: TestServers.amqpURL),
                                                       redis: try RedisConfiguration(url: TestServers.redisURL))
        let redis = try await TestServers.redis()
        try await withCleanUp((client, redis), "delete \(type)", cleanUp: { client, redis in
            try await client.deleteType(type)
            await client.close()
            await redis.close()
        }) { client, redis in
            try await redis.send("HSET", "gr:types", type, 1)
            let tag = "{\(type).0}"
            let schedules = #"{"reminder:gone":"g-gone","reminder:tick":"g-tick","timer:retry":"g-retry"}"#
            try await redis.send("HSET", "gr:\(tag):a:a", "status", "active", "version", 3, "state", "{}", "schedules", schedules)
            try await redis.send("HSET", "gr:\(tag):a:plain", "status", "active", "version", 1, "state", "{}")
            try await redis.send("HSET", "gr:\(tag):a:stopped", "status", "stopped", "version", 2, "state", "{}",
                                 "schedules", #"{"timer:x":"g-x"}"#)
            try await redis.send("HSET", "gr:\(tag):due-entries",
                                 "g-tick", #"{"to":"\#(type)/a","kind":"tick","payload":"{}","id":"g-tick","due":\#(tickDue),"schedule":"reminder:tick","generation":"g-tick","every":2000}"#,
                                 "g-retry", #"{"to":"\#(type)/a","kind":"retry","payload":"{\"n\":1}","id":"g-retry","due":\#(retryDue),"schedule":"timer:retry","generation":"g-retry"}"#)
            try await redis.send("ZADD", "gr:\(tag):due", tickDue, "g-tick", retryDue, "g-retry")
            try await body(type, client)
        }
    }

    @Test("the library: name, kind, period, next due, message kind; a generation without an entry has no next due")
    func library() async throws {
        try await Self.withSchedules { type, client in
            let found = try await client.schedules(of: try ActorAddress(type: type, id: "a"))
            #expect(found == [
                ScheduleInfo(name: "gone", kind: .reminder, every: nil, nextDue: nil, messageKind: nil, generation: "g-gone"),
                ScheduleInfo(name: "tick", kind: .reminder, every: .seconds(2), nextDue: Date(timeIntervalSince1970: 1_900_000_000),
                             messageKind: "tick", generation: "g-tick"),
                ScheduleInfo(name: "retry", kind: .timer, every: nil, nextDue: Date(timeIntervalSince1970: 1_900_000_123.456),
                             messageKind: "retry", generation: "g-retry"),
            ])
            #expect(try await client.schedules(of: try ActorAddress(type: type, id: "plain")).isEmpty)
            let stopped = await #expect(throws: ActorNotFound.self) { try await client.schedules(of: try ActorAddress(type: type, id: "stopped")) }
            #expect(stopped?.stopped == true)
            let missing = await #expect(throws: ActorNotFound.self) { try await client.schedules(of: try ActorAddress(type: type, id: "nobody")) }
            #expect(missing?.stopped == false)
        }
    }

    @Test("enqueue reminders list: one line each, --json, none, and an actor that does not exist")
    func commandLine() async throws {
        try await Self.withSchedules { type, _ in
            let text = try await CommandRun.run("enqueue", ["reminders", "list", "\(type)/a"])
            #expect(text.status == 0, "\(text)")
            let lines = text.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 3, "\(text)")
            #expect(lines.first { $0.hasPrefix("reminder  tick  every 2s  next 2030-03-17T17:46:40Z") }?.hasSuffix("sends tick") == true, "\(text)")
            #expect(lines.contains { $0.hasPrefix("timer  retry  once  next 2030-03-17T17:48:43.456Z") && $0.hasSuffix("sends retry") }, "\(text)")
            #expect(lines.contains { $0.hasPrefix("reminder  gone  once  firing now") }, "\(text)")

            let json = try await CommandRun.run("enqueue", ["reminders", "list", "\(type)/a", "--json"])
            #expect(json.status == 0, "\(json)")
            let listed = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]], "\(json)")
            #expect(listed.map { $0["name"] as? String } == ["gone", "tick", "retry"])
            #expect(listed[1]["everyMilliseconds"] as? Int == 2_000)
            #expect(listed[1]["nextDue"] as? String == "2030-03-17T17:46:40Z")
            #expect(listed[2]["kind"] as? String == "timer")
            #expect(listed[2]["everyMilliseconds"] == nil)

            let none = try await CommandRun.run("enqueue", ["reminders", "list", "\(type)/plain"])
            #expect(none.status == 0 && none.stdout.contains("has no timers or reminders"), "\(none)")
            let nobody = try await CommandRun.run("enqueue", ["reminders", "list", "\(type)/nobody"])
            #expect(nobody.status != 0 && nobody.errorLines.count == 1 && nobody.stderr.contains("does not exist"), "\(nobody)")
        }
    }
}
