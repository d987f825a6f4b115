import Foundation
import GreenroomTestSupport
import Testing
import Workers

/// `enqueue reminders list|cancel` against an actor that set its own timer
/// and reminder in a turn (the probe's `schedule`), in a real worker.
@Suite("enqueue reminders list and cancel, on an actor's own reminder", .timeLimit(.minutes(3)))
struct ReminderCommandTests {
    static func fired(_ harness: RuntimeHarness, _ address: ActorAddress) async throws -> [Probe.Fired] {
        try JSONDecoder().decode(Probe.State.self, from: Data(try await harness.client.state(of: address))).fired ?? []
    }

    @Test("list shows what the turn set; cancel says whether there was one, and the reminder stops firing")
    func listThenCancel() async throws {
        try await withHarness { harness in
            let probe = try await harness.client.spawn(type: harness.type("probe"), id: "clock")
            let before = Date()
            try await harness.client.send(to: probe, kind: "schedule", payload: Array(#"{"reminder":"beat","everyMs":1000,"afterMs":0}"#.utf8))
            try await harness.client.send(to: probe, kind: "schedule", payload: Array(#"{"timer":"later","afterMs":600000,"kind":"wake"}"#.utf8))
            try await eventually(30, "the reminder fired twice") {
                try await Self.fired(harness, probe).filter { $0.name == "beat" }.count >= 2
            }

            let listed = try await harness.client.schedules(of: probe)
            #expect(listed.map(\.name) == ["beat", "later"], "\(listed)")
            #expect(listed.first?.kind == .reminder && listed.first?.every == .seconds(1) && listed.first?.messageKind == "tick")
            #expect(listed.last?.kind == .timer && listed.last?.every == nil && listed.last?.messageKind == "wake")
            let later = try #require(listed.last?.nextDue)
            #expect(later.timeIntervalSince(before) >= 600 && later.timeIntervalSince(before) < 660, "\(later)")

            let list = try await CommandRun.run("enqueue", ["reminders", "list", probe.description])
            #expect(list.status == 0, "\(list)")
            #expect(list.stdout.contains("reminder  beat  every 1s  next "), "\(list)")
            #expect(list.stdout.contains("timer  later  once  next "), "\(list)")

            let cancel = try await CommandRun.run("enqueue", ["reminders", "cancel", probe.description, "beat"])
            #expect(cancel.status == 0 && cancel.stdout.contains("cancelled reminder 'beat' of \(probe)"), "\(cancel)")
            let again = try await CommandRun.run("enqueue", ["reminders", "cancel", probe.description, "beat"])
            #expect(again.status == 0 && again.stdout.contains("has no reminder 'beat'"), "\(again)")
            #expect(try await harness.client.cancelReminder("never-set", of: probe) == false)
            // A timer is not a reminder: cancelling one by that name finds none.
            #expect(try await harness.client.cancelReminder("later", of: probe) == false)
            #expect(try await harness.client.schedules(of: probe).map(\.name) == ["later"])

            // Stopped: a firing already on its way may still run, none after a fence
            // set later than a period.
            try await harness.client.send(to: probe, kind: "schedule", payload: Array(#"{"timer":"fence","afterMs":2500}"#.utf8))
            try await eventually(30, "the fence timer fired") { try await Self.fired(harness, probe).contains { $0.name == "fence" } }
            let fired = try await Self.fired(harness, probe)
            let lastBeat = try #require(fired.lastIndex { $0.name == "beat" })
            #expect(lastBeat < fired.firstIndex { $0.name == "fence" }!, "\(fired)")
        }
    }
}
