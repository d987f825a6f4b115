import Foundation
import GreenroomTestKit
import Testing
import Workers

@Suite("The test kit's time: delayed sends, timers and reminders on the TestClock", .timeLimit(.minutes(1)))
struct TimeKitTests {
    static func ring(_ label: String, cancel: String? = nil) -> Alarm.Ring { Alarm.Ring(label: label, cancel: cancel) }

    @Test("a timer fires only once the clock reaches its time, into the actor, as a firing with its due time; then it is gone")
    func timerWaitsForTheClock() async throws {
        let alarm = BehaviorTest(Alarm())
        let record = try await alarm.receive(Alarm.Arm(name: "t", afterMilliseconds: 5_000, ring: Self.ring("wake")))
        #expect(record.scheduled.map(\.name) == ["t"])
        #expect(alarm.scheduled.map(\.due) == [TestClock.Instant(sinceStart: .seconds(5))])
        #expect(try await alarm.advance(by: .milliseconds(4_999)).isEmpty)
        #expect(alarm.state.rang.isEmpty)
        let fired = try await alarm.advance(by: .milliseconds(1))
        #expect(fired.count == 1 && fired.allSatisfy(\.committed))
        #expect(fired.first?.message.firing?.name == "t")
        #expect(alarm.state.rang == [Alarm.Rang(label: "wake", name: "t", missed: 0,
                                                scheduledAt: alarm.clock.start.addingTimeInterval(5))])
        #expect(alarm.scheduled.isEmpty, "a fired timer is gone")
        #expect(try await alarm.advance(by: .seconds(60)).isEmpty)
    }

    @Test("setting a timer again replaces it; a cancelled one never runs; timers fire in due order")
    func replaceAndCancel() async throws {
        let alarm = BehaviorTest(Alarm())
        try await alarm.receive(Alarm.Arm(name: "a", afterMilliseconds: 5_000, ring: Self.ring("first")))
        try await alarm.receive(Alarm.Arm(name: "a", afterMilliseconds: 3_000, ring: Self.ring("replaced")))
        try await alarm.receive(Alarm.Arm(name: "b", afterMilliseconds: 2_000, ring: Self.ring("cancelled")))
        try await alarm.receive(Alarm.Arm(name: "c", afterMilliseconds: 1_000, ring: Self.ring("early")))
        try await alarm.receive(Alarm.Disarm(timer: "b"))
        #expect(alarm.scheduled.map(\.name) == ["c", "a"])
        try await alarm.advance(by: .seconds(10))
        #expect(alarm.state.rang.map(\.label) == ["early", "replaced"])
    }

    @Test("a firing already due when its timer is cancelled (by an earlier firing's turn) is void: not run, not dead-lettered")
    func voidFiring() async throws {
        let alarm = BehaviorTest(Alarm())
        // Both due at 1 s: "a" (set first, so first in due order) cancels "b" before b's firing runs.
        try await alarm.receive(Alarm.Arm(name: "a", afterMilliseconds: 1_000, ring: Self.ring("a", cancel: "b")))
        try await alarm.receive(Alarm.Arm(name: "b", afterMilliseconds: 1_000, ring: Self.ring("b")))
        let fired = try await alarm.advance(by: .seconds(1))
        #expect(alarm.state.rang.map(\.label) == ["a"])
        #expect(fired.count == 1)
        #expect(alarm.deadLetters.isEmpty)
    }

    @Test("a reminder fires every period; one due several times during one advance fires once, with the periods it missed, and keeps its phase")
    func reminderMissedPeriods() async throws {
        let alarm = BehaviorTest(Alarm())
        try await alarm.receive(Alarm.Repeat(name: "beat", everyMilliseconds: 1_000, label: "beat"))
        try await alarm.advance(by: .seconds(1))
        try await alarm.advance(by: .seconds(1))
        #expect(alarm.state.rang.map(\.missed) == [0, 0])
        // Due at 3 s; the clock jumps to 7.5 s: 4 whole periods missed, one firing.
        let late = try await alarm.advance(by: .milliseconds(5_500))
        #expect(late.count == 1)
        #expect(alarm.state.rang.last == Alarm.Rang(label: "beat", name: "beat", missed: 4, scheduledAt: alarm.clock.start.addingTimeInterval(3)))
        #expect(alarm.scheduled.first?.due == TestClock.Instant(sinceStart: .seconds(8)), "next: 3 s + 5 periods")
        #expect(alarm.scheduled.first?.isReminder == true && alarm.scheduled.first?.every == .seconds(1))
        try await alarm.advance(by: .milliseconds(500))
        #expect(alarm.state.rang.map(\.missed) == [0, 0, 4, 0])
        // Reminder firings have their own ids: GENERATION@DUE.
        let ids = alarm.records.filter { $0.message.kind == "ring" }.map(\.message.id)
        #expect(Set(ids).count == 4)
    }

    @Test("a reminder can start at a date, and stops when cancelled")
    func reminderStartAndCancel() async throws {
        let alarm = BehaviorTest(Alarm())
        try await alarm.receive(Alarm.Repeat(name: "r", everyMilliseconds: 60_000, label: "r", start: alarm.clock.date.addingTimeInterval(10)))
        try await alarm.advance(by: .seconds(10))
        #expect(alarm.state.rang.count == 1)
        try await alarm.receive(Alarm.Disarm(reminder: "r"))
        #expect(alarm.scheduled.isEmpty)
        #expect(try await alarm.advance(by: .seconds(600)).isEmpty)
    }

    @Test("a turn that throws sets nothing: rejected at once, or after every retry")
    func throwingTurnDiscardsSchedules() async throws {
        let alarm = BehaviorTest(Alarm(), retry: RetryPolicy(attempts: 2, initialDelay: .seconds(1)))
        let rejected = try await alarm.receive(Alarm.Arm(name: "x", afterMilliseconds: 100, ring: Self.ring("x"), thenFail: true))
        #expect(rejected.deadLetter?.reason == "rejected after arming, as asked")
        let failed = try await alarm.receive(Alarm.Arm(name: "y", afterMilliseconds: 100, ring: Self.ring("y"), thenFail: false))
        #expect(failed.deadLetter?.attempts == 2)
        #expect(failed.scheduled.isEmpty && alarm.scheduled.isEmpty)
        try await alarm.advance(by: .seconds(60))
        #expect(alarm.state.rang.isEmpty)
    }

    @Test("stopping clears every timer and reminder: by the actor's own stop, and by a stop from outside")
    func stopClears() async throws {
        let alarm = BehaviorTest(Alarm())
        try await alarm.receive(Alarm.Arm(name: "t", afterMilliseconds: 1_000, ring: Self.ring("t")))
        try await alarm.receive(Alarm.Repeat(name: "r", everyMilliseconds: 1_000, label: "r"))
        try await alarm.receive(Alarm.Quit())
        #expect(alarm.scheduled.isEmpty)
        #expect(try await alarm.advance(by: .seconds(5)).isEmpty)

        let system = TestSystem()
        system.host(Alarm())
        let other = try await system.spawn(Alarm.self, id: "o")
        try await system.send(Alarm.Repeat(name: "r", everyMilliseconds: 1_000, label: "r"), to: other)
        try await system.settle()
        #expect(system.scheduled.count == 1)
        try await system.stop(other)
        #expect(system.scheduled.isEmpty)
        #expect(try await system.advance(by: .seconds(5)).isEmpty)
        #expect(system.deadLetters.isEmpty)
    }

    @Test("a delayed send is delivered once the clock reaches it (TestSystem), or shows in sent then (BehaviorTest); at: a date")
    func delayedSends() async throws {
        let system = TestSystem()
        system.host(Alarm())
        let from = try await system.spawn(Alarm.self, id: "from")
        let to = try await system.spawn(Alarm.self, id: "to")
        try await system.send(Alarm.Later(to: to, afterMilliseconds: 2_000, ring: Self.ring("after")), to: from)
        try await system.send(Alarm.Later(to: to, at: system.clock.date.addingTimeInterval(1), ring: Self.ring("at")), to: from)
        try await system.settle()
        #expect(system.state(of: to)?.rang.isEmpty == true, "settle does not move the clock to a delayed message")
        #expect(system.scheduled.map(\.message.kind) == ["ring", "ring"])
        try await system.advance(by: .seconds(2))
        let rang = system.state(of: to)?.rang ?? []
        #expect(rang.map(\.label) == ["at", "after"])
        #expect(rang.map(\.scheduledAt) == [system.clock.start.addingTimeInterval(1), system.clock.start.addingTimeInterval(2)])
        #expect(rang.allSatisfy { $0.name == nil })

        let alarm = BehaviorTest(Alarm())
        try await alarm.receive(Alarm.Later(to: alarm.ref, afterMilliseconds: 500, ring: Self.ring("kept")))
        #expect(alarm.sent.isEmpty)
        try await alarm.advance(by: .milliseconds(500))
        #expect(alarm.sent.map(\.kind) == ["ring"])
        #expect(alarm.sent.first?.scheduledAt == alarm.clock.start.addingTimeInterval(0.5))
        #expect(alarm.state.rang.isEmpty, "a BehaviorTest keeps what is sent, its own delayed sends too")
    }

    @Test("settle moves the clock through a pending retry, firing a timer due before it at its time, first")
    func settleFiresOnTheWay() async throws {
        let system = TestSystem()
        system.host(HostedType(Alarm(), retry: RetryPolicy(attempts: 2, initialDelay: .seconds(3))))
        let alarm = try await system.spawn(Alarm.self, id: "a")
        try await system.send(Alarm.Arm(name: "t", afterMilliseconds: 1_000, ring: Self.ring("t")), to: alarm)
        try await system.send(Alarm.Arm(name: "u", afterMilliseconds: 1_000, ring: Self.ring("u"), thenFail: false), to: alarm)
        try await system.settle()
        let ring = system.records.first { $0.message.kind == "ring" }
        #expect(system.state(of: alarm)?.rang.map(\.label) == ["t"])
        #expect(ring?.message.scheduledAt == system.clock.start.addingTimeInterval(1))
        let last = system.records.last { $0.message.kind == "arm" }
        #expect(last?.deadLetter?.attempts == 2)
        #expect(system.clock.now == TestClock.Instant(sinceStart: .seconds(3)))
    }

    @Test("greenroom.cancel-reminder from outside: in turn order, answers whether there was one")
    func cancelFromOutside() async throws {
        let system = TestSystem()
        system.host(Alarm())
        let alarm = try await system.spawn(Alarm.self, id: "a")
        try await system.send(Alarm.Repeat(name: "beat", everyMilliseconds: 1_000, label: "beat"), to: alarm)
        #expect(try await system.cancelReminder("beat", of: alarm) == true)
        #expect(try await system.cancelReminder("beat", of: alarm) == false)
        #expect(try await system.advance(by: .seconds(10)).isEmpty)
        try await system.stop(alarm)
        await #expect(throws: AskFailed.self) { try await system.cancelReminder("beat", of: alarm) }
    }

    @Test("a date absurdly far ahead is refused like any date over a year ahead, one absurdly far back is now: neither traps the process")
    func absurdDates() async throws {
        let alarm = BehaviorTest(Alarm())
        let ahead = try await alarm.receive(Alarm.Later(to: alarm.ref, at: Date(timeIntervalSince1970: 1e300), ring: Self.ring("never")))
        #expect(ahead.deadLetter?.reason.contains("more than one year ahead") == true, "\(ahead)")
        let back = try await alarm.receive(Alarm.Later(to: alarm.ref, at: Date(timeIntervalSince1970: -1e300), ring: Self.ring("now")))
        #expect(back.scheduled.map(\.due) == [alarm.clock.now])
        let start = try await alarm.receive(Alarm.Repeat(name: "r", everyMilliseconds: 1_000, label: "r", start: Date(timeIntervalSince1970: 1e300)))
        #expect(start.deadLetter?.reason.contains("more than one year ahead") == true, "\(start)")
    }

    @Test("bad input is dead-lettered with a reason that says so: a negative delay, over a year, a period under a second")
    func badInput() async throws {
        let alarm = BehaviorTest(Alarm())
        let negative = try await alarm.receive(Alarm.Arm(name: "n", afterMilliseconds: -1, ring: Self.ring("n")))
        #expect(negative.deadLetter?.reason.contains("a delay cannot be negative") == true, "\(negative)")
        let long = try await alarm.receive(Alarm.Arm(name: "l", afterMilliseconds: 366 * 86_400_000, ring: Self.ring("l")))
        #expect(long.deadLetter?.reason.contains("longer than the maximum of one year") == true, "\(long)")
        let fast = try await alarm.receive(Alarm.Repeat(name: "f", everyMilliseconds: 999, label: "f"))
        #expect(fast.deadLetter?.reason.contains("period must be at least") == true, "\(fast)")
        #expect(alarm.deadLetters.allSatisfy { $0.attempts == 1 })
        #expect(alarm.scheduled.isEmpty)
    }
}
