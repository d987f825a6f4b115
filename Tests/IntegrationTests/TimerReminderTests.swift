import Broker
import Foundation
import GreenroomTestSupport
import Testing
import Workers

/// Timers and reminders against real servers, in one worker: what must NOT
/// fire is shown by a later marker (a `fence` timer due after it) that must.
@Suite("Timers and reminders in one worker: void firings, throwing turns, stop, cancel from outside, bad input", .timeLimit(.minutes(5)))
struct TimerReminderTests {
    /// The actor's `schedules` field (`{}` when it has none) and the ids in its partition's due set.
    static func stored(_ harness: RuntimeHarness, _ address: ActorAddress) async throws -> (schedules: String, due: [String]) {
        let redis = try await TestServers.redis()
        defer { Task { await redis.close() } }
        let partitions = harness.runtime.configuration.partitions
        let actorKey = Keys.actor(address, partitions: partitions)
        let tag = Keys.tag(address.type, Partitioning.partition(of: address.id, partitions: partitions))
        let schedules = try await redis.send("HGET", actorKey, "schedules").string ?? "{}"
        let due = try await redis.send("ZRANGE", "gr:\(tag):due", "0", "-1").array?.compactMap(\.string) ?? []
        return (schedules, due)
    }

    static func fence(_ harness: RuntimeHarness, _ probe: ActorAddress, afterMs: Int) async throws {
        try await TimeTests.schedule(harness, probe, #"{"timer":"fence","afterMs":\#(afterMs)}"#)
        try await eventually(30, "the fence timer fired") {
            try await TimeTests.fired(harness, probe).contains { $0.name == "fence" }
        }
    }

    @Test("a timer cancelled while its firing is already on its way is void: acked, not run, not dead-lettered")
    func cancelledInFlight() async throws {
        try await withHarness { harness in
            let probe = try await harness.client.spawn(type: harness.type("probe"), id: "void")
            try await TimeTests.schedule(harness, probe, #"{"timer":"x","afterMs":1000}"#)
            try await eventually(30, "timer x stored") { try await Self.stored(harness, probe).schedules.contains("timer:x") }
            // The actor is busy for 3 s; x fires during it, behind the cancel already queued.
            try await harness.client.send([
                .init(to: probe, kind: "touch", payload: Array(#"{"pauseMicroseconds":3000000}"#.utf8)),
                .init(to: probe, kind: "unschedule", payload: Array(#"{"timer":"x"}"#.utf8)),
            ])
            try await eventually(30, "x's firing published while the actor is busy") {
                try await !Self.stored(harness, probe).due.contains { $0.contains("/t") }
            }
            try await Self.fence(harness, probe, afterMs: 200)
            #expect(try await TimeTests.fired(harness, probe).map(\.name) == ["fence"])
            let letters = try await harness.client.takeDeadLetters(limit: scanEveryDeadLetter, timeout: .milliseconds(300)) {
                $0.target == probe.description
            }
            #expect(letters.isEmpty, "\(letters.map(\.reason))")
        }
    }

    @Test("a turn that throws sets nothing: its timer and its delayed send are discarded with it")
    func throwingTurnDiscards() async throws {
        try await withHarness { harness in
            let probe = try await harness.client.spawn(type: harness.type("probe"), id: "throws")
            try await harness.client.send([
                .init(to: probe, kind: "schedule", payload: Array(#"{"timer":"bad","afterMs":200,"fail":true}"#.utf8), id: "bad-timer-\(harness.suffix)"),
                .init(to: probe, kind: "schedule", payload: Array(#"{"afterMs":200,"fail":true}"#.utf8), id: "bad-send-\(harness.suffix)"),
            ])
            let letters = try await takeDeadLetters(harness.client, suffix: harness.suffix,
                                                    ids: ["bad-timer-\(harness.suffix)", "bad-send-\(harness.suffix)"])
            #expect(letters.allSatisfy { $0.reason.contains("probe failure after scheduling") }, "\(letters.map(\.reason))")
            #expect(try await Self.stored(harness, probe) == ("{}", []))
            try await Self.fence(harness, probe, afterMs: 600)
            #expect(try await TimeTests.fired(harness, probe).map(\.name) == ["fence"])
        }
    }

    @Test("stopping an actor clears its timers and reminders: nothing left in Redis, nothing fires or is dead-lettered")
    func stopClears() async throws {
        try await withHarness { harness in
            let probe = try await harness.client.spawn(type: harness.type("probe"), id: "stops")
            let witness = try await harness.client.spawn(type: harness.type("probe"), id: "witness")
            try await TimeTests.schedule(harness, probe, #"{"timer":"t","afterMs":1500}"#)
            try await TimeTests.schedule(harness, probe, #"{"reminder":"r","everyMs":1000,"afterMs":1000}"#)
            try await eventually(30, "both stored") {
                let stored = try await Self.stored(harness, probe)
                return stored.schedules.contains("timer:t") && stored.schedules.contains("reminder:r")
            }
            try await harness.client.stop(probe)
            let stored = try await Self.stored(harness, probe)
            #expect(stored.schedules == "{}")
            #expect(stored.due.isEmpty, "\(stored.due)")
            // Due after t and r would have fired: by then, a firing of theirs would be a dead letter.
            try await Self.fence(harness, witness, afterMs: 2500)
            let letters = try await harness.client.takeDeadLetters(limit: scanEveryDeadLetter, timeout: .milliseconds(300)) {
                $0.target == probe.description
            }
            #expect(letters.isEmpty, "\(letters.map(\.reason))")
        }
    }

    @Test("greenroom.cancel-reminder through an ask: answers whether it cancelled, and the reminder fires no more")
    func cancelFromOutside() async throws {
        try await withHarness { harness in
            let probe = try await harness.client.spawn(type: harness.type("probe"), id: "cancel")
            try await TimeTests.schedule(harness, probe, #"{"reminder":"beat","everyMs":1000,"afterMs":0}"#)
            try await eventually(30, "the reminder fired") {
                try await TimeTests.fired(harness, probe).contains { $0.name == "beat" }
            }
            let cancel = Array(#"{"name":"beat"}"#.utf8)
            let first = try await harness.client.ask(probe, kind: WireFormat.SystemKind.cancelReminder, payload: cancel)
            let beats = try await TimeTests.fired(harness, probe).filter { $0.name == "beat" }.count
            let second = try await harness.client.ask(probe, kind: WireFormat.SystemKind.cancelReminder, payload: cancel)
            #expect(first.text == #"{"cancelled":true}"#)
            #expect(second.text == #"{"cancelled":false}"#)
            #expect(!(try await Self.stored(harness, probe).schedules.contains("reminder:beat")))
            try await Self.fence(harness, probe, afterMs: 2500)
            #expect(try await TimeTests.fired(harness, probe).filter { $0.name == "beat" }.count == beats)
        }
    }

    @Test("a timer whose firing is dead-lettered (a kind the actor refuses) is gone, not listed as still waiting")
    func refusedFiringClearsTimer() async throws {
        try await withHarness { harness in
            let probe = try await harness.client.spawn(type: harness.type("probe"), id: "refused-timer")
            try await TimeTests.schedule(harness, probe, #"{"timer":"odd","kind":"no-such-kind","afterMs":100}"#)
            let letters = try await takeDeadLetters(harness.client, suffix: harness.suffix) { letters in
                letters.contains { $0.kind == "no-such-kind" }
            }
            #expect(letters.first { $0.kind == "no-such-kind" }?.reason.contains("unknown message kind") == true)
            try await eventually(30, "the refused timer gone from the actor's schedules") {
                try await Self.stored(harness, probe).schedules == "{}"
            }
        }
    }

    @Test("bad input dead-letters the turn with a reason that says so, not retried: a negative delay, over a year, a period under a second")
    func badInput() async throws {
        try await withHarness { harness in
            let probe = try await harness.client.spawn(type: harness.type("probe"), id: "bad")
            let cases = [
                ("negative", #"{"afterMs":-1}"#, "a delay cannot be negative"),
                ("year", #"{"timer":"long","afterMs":31622400000}"#, "longer than the maximum of one year"),
                ("period", #"{"reminder":"fast","everyMs":500}"#, "a reminder's period must be at least 1"),
            ]
            try await harness.client.send(cases.map {
                .init(to: probe, kind: "schedule", payload: Array($0.1.utf8), id: "\($0.0)-\(harness.suffix)")
            })
            let letters = try await takeDeadLetters(harness.client, suffix: harness.suffix, ids: Set(cases.map { "\($0.0)-\(harness.suffix)" }))
            for (id, _, reason) in cases {
                let letter = letters.first { $0.messageID == "\(id)-\(harness.suffix)" }
                #expect(letter?.reason.contains(reason) == true, "\(id): \(letter?.reason ?? "no dead letter")")
                #expect(letter?.attempts == 1, "\(id): rejected, not retried")
            }
            #expect(try await Self.stored(harness, probe) == ("{}", []))
        }
    }
}
