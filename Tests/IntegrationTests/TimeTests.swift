import Foundation
import GreenroomTestSupport
import Testing
import Workers

@Suite("Delayed messages, timers and reminders in one worker", .timeLimit(.minutes(5)))
struct TimeTests {
    static func fired(_ harness: RuntimeHarness, _ address: ActorAddress) async throws -> [Probe.Fired] {
        try JSONDecoder().decode(Probe.State.self, from: Data(try await harness.client.state(of: address))).fired ?? []
    }

    static func schedule(_ harness: RuntimeHarness, _ address: ActorAddress, _ json: String) async throws {
        try await harness.client.send(to: address, kind: "schedule", payload: Array(json.utf8))
    }

    @Test("a timer, a delayed send and a reminder fire; a cancelled timer does not; a reminder stops when cancelled")
    func basics() async throws {
        try await withHarness { harness in
            let probe = try await harness.client.spawn(type: harness.type("probe"), id: "clock")
            try await Self.schedule(harness, probe, #"{"timer":"gone","afterMs":400}"#)
            try await Self.schedule(harness, probe, #"{"timer":"once","afterMs":300}"#)
            try await Self.schedule(harness, probe, #"{"afterMs":200}"#)
            try await harness.client.send(to: probe, kind: "unschedule", payload: Array(#"{"timer":"gone"}"#.utf8))
            try await Self.schedule(harness, probe, #"{"timer":"after-gone","afterMs":900}"#)
            try await eventually(30, "the timers and the delayed send fired") {
                try await Self.fired(harness, probe).contains { $0.name == "after-gone" }
            }
            let fired = try await Self.fired(harness, probe)
            // Due 200 ms, 300 ms and 900 ms after their turns: the last is last; "gone" never ran.
            #expect(fired.count == 3)
            #expect(Set(fired.map(\.name)) == [nil, "once", "after-gone"])
            #expect(fired.last?.name == "after-gone")
            #expect(fired.allSatisfy { ($0.lateMs ?? -1) >= 0 })

            try await Self.schedule(harness, probe, #"{"reminder":"beat","everyMs":1000,"afterMs":0}"#)
            try await eventually(30, "the reminder fired twice") {
                try await Self.fired(harness, probe).filter { $0.name == "beat" }.count >= 2
            }
            try await harness.client.send(to: probe, kind: "unschedule", payload: Array(#"{"reminder":"beat"}"#.utf8))
            try await Self.schedule(harness, probe, #"{"timer":"fence","afterMs":2500}"#)
            try await eventually(30, "the timer after the cancel fired") {
                try await Self.fired(harness, probe).contains { $0.name == "fence" }
            }
            let beats = try await Self.fired(harness, probe).filter { $0.name == "beat" }
            let fence = try await Self.fired(harness, probe).firstIndex { $0.name == "fence" }!
            let lastBeat = try await Self.fired(harness, probe).lastIndex { $0.name == "beat" }!
            #expect(beats.count >= 2 && beats.count <= 4)
            #expect(lastBeat < fence)
            #expect(Set(beats.map(\.id)).count == beats.count)
        }
    }
}
