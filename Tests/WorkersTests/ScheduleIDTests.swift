import Testing
@testable import Workers

@Suite("Ids of timers and reminders")
struct ScheduleIDTests {
    @Test("a timer set again by each of its firings keeps an id of bounded length")
    func boundedChain() {
        var id = "9f1c7e52-1b7e-4c57-a0a4-3f0f7c3bd9a1"
        for _ in 0..<1_000 { id = "\(TurnContext.stem(of: id))/t0" }
        #expect(id.utf8.count <= 64 + 3)
    }

    @Test("short ids are kept as they are; long ones become distinct digests")
    func digests() {
        #expect(TurnContext.stem(of: "m-1") == "m-1")
        let long = String(repeating: "a", count: 100)
        let other = String(repeating: "a", count: 99) + "b"
        #expect(TurnContext.stem(of: long) == TurnContext.stem(of: long))
        #expect(TurnContext.stem(of: long) != TurnContext.stem(of: other))
        #expect(TurnContext.stem(of: long).utf8.count <= 33)
    }

    @Test("a reminder that missed periods fires once and keeps its phase")
    func missedPeriods() {
        let entry = DueEntry(to: try! ActorAddress(type: "t", id: "a"), kind: "tick", payload: Array("{}".utf8), id: "g", due: 1_000, every: 100)
        #expect(DueDispatcher.firing(entry, due: 1_000, now: 1_000) == (0, 1_100))
        #expect(DueDispatcher.firing(entry, due: 1_000, now: 1_350) == (3, 1_400))
        let timer = DueEntry(to: try! ActorAddress(type: "t", id: "a"), kind: "tick", payload: Array("{}".utf8), id: "g", due: 1_000)
        #expect(DueDispatcher.firing(timer, due: 1_000, now: 5_000) == (0, nil))
    }
}
