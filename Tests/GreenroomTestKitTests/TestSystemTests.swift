import GreenroomTestKit
import Testing
import Workers

@Suite("TestSystem: many actors in memory", .timeLimit(.minutes(1)))
struct TestSystemTests {
    @Test("spawn, send, settle, ask, state; find and exists")
    func basics() async throws {
        let system = TestSystem()
        system.host(Tally())
        let ref = try await system.spawn(Tally.self, id: "x")
        try await system.send(Tally.Add(by: 1), to: ref)
        try await system.send(Tally.Add(by: 2), to: ref)
        #expect(system.state(of: ref)?.total == 0, "send only queues")
        try await system.settle()
        #expect(system.state(of: ref)?.total == 3)
        #expect(try await system.ask(Tally.Get(), of: ref).total == 3)
        #expect(try await system.ask(kind: "get", of: ref.address).json == #"{"total":3}"#)
        let other = try await system.spawn(Tally.self, id: "y", state: Tally.State(total: 10))
        #expect(system.stateJSON(of: other.address) == #"{"total":10}"#)
        #expect(system.find(type: "tally").map(\.description) == ["tally/x", "tally/y"])
        #expect(system.exists(ref))
        #expect(!system.exists(try ActorAddress(parsing: "tally/z")))
    }

    @Test("messages from one sender arrive in the order sent, whatever other senders do")
    func orderPerSender() async throws {
        let system = TestSystem()
        system.host(Tally())
        system.host(Recorder())
        let recorder = try await system.spawn(Recorder.self, id: "r")
        let senders = [try await system.spawn(Tally.self, id: "a"), try await system.spawn(Tally.self, id: "b")]
        for seq in 0..<50 {
            for sender in senders { try await system.send(Tally.Forward(to: recorder, seq: seq), to: sender) }
            try await system.send(Recorder.Note(from: "outside", seq: seq), to: recorder)
        }
        try await system.settle()
        let notes = try #require(system.state(of: recorder)).notes
        #expect(notes.count == 150)
        for sender in ["a", "b", "outside"] {
            #expect(notes.filter { $0.from == sender }.map(\.seq) == Array(0..<50), "from \(sender)")
        }
    }

    @Test("a failing message is retried on the virtual clock; its actor's later messages wait, other actors go on")
    func retriesHoldOnlyTheirActor() async throws {
        let system = TestSystem()
        let flaky = Flaky(clock: system.clock)
        system.host(flaky)
        let a = try await system.spawn(Flaky.self, id: "a")
        let b = try await system.spawn(Flaky.self, id: "b")
        try await system.send(Flaky.Work(seq: 1, failures: 2), to: a)
        try await system.send(Flaky.Work(seq: 2), to: a)
        try await system.send(Flaky.Work(seq: 3), to: b)
        try await system.settle()
        #expect(system.state(of: a)?.handled == [1, 2])
        #expect(system.state(of: b)?.handled == [3])
        #expect(flaky.seconds("a", 1) == [.zero, .milliseconds(100), .milliseconds(300)])
        #expect(flaky.seconds("a", 2) == [.milliseconds(300)], "behind the retried message")
        #expect(flaky.seconds("b", 3) == [.zero], "not held up by a")
        #expect(system.clock.now.sinceStart == .milliseconds(300))
        #expect(system.deadLetters.isEmpty)
    }

    @Test("out of attempts: the dead letter carries the error, and the parent receives child-failed")
    func childFailed() async throws {
        let system = TestSystem()
        system.host(Parent())
        system.host(HostedType(Flaky(clock: system.clock), retry: RetryPolicy(attempts: 2, initialDelay: .seconds(5))))
        let parent = try await system.spawn(Parent.self, id: "p")
        try await system.send(Parent.Adopt(id: "kid"), to: parent)
        try await system.settle()
        let kid = ActorRef<Flaky>(try ActorAddress(parsing: "flaky/kid"))
        #expect(system.children(of: parent) == [kid.address])
        try await system.send(Flaky.Work(seq: 1, failures: 99), to: kid)
        try await system.settle()
        let letter = try #require(system.deadLetters.first)
        #expect(system.deadLetters.count == 1)
        #expect(letter.actor == kid.address && letter.kind == "work" && letter.attempts == 2)
        #expect(letter.reason == "failed after 2 attempts: boom on attempt 2")
        #expect(letter.error is Flaky.Boom)
        #expect(system.clock.now.sinceStart == .seconds(5))
        let heard = try await system.ask(Parent.Failures(), of: parent)
        #expect(heard.map { [$0.child.description, $0.kind, $0.error, $0.messageID] } == [[kid.description, "work", letter.reason, letter.id]])
        // A rejected message is dead-lettered at once: no retry, no child-failed.
        try await system.send(kind: "work", json: #"{"seq": "one"}"#, to: kid.address)
        try await system.settle()
        #expect(system.deadLetters.last?.attempts == 1)
        #expect(try await system.ask(Parent.Failures(), of: parent).count == 1)
    }

    @Test("stop cascades to children; the stopped refuse later messages")
    func stopCascade() async throws {
        let system = TestSystem()
        system.host(Parent())
        system.host(Flaky(clock: system.clock))
        let parent = try await system.spawn(Parent.self, id: "p")
        for id in ["k1", "k2"] { try await system.send(Parent.Adopt(id: id), to: parent) }
        try await system.settle()
        #expect(system.find(type: "flaky").map(\.description) == ["flaky/k1", "flaky/k2"])
        try await system.stop(parent)
        try await system.settle()
        #expect(system.find(type: "flaky").isEmpty)
        #expect(!system.exists(parent))
        #expect(system.children(of: parent).isEmpty)
        #expect(system.state(of: parent) == nil)
        let kid = try ActorAddress(parsing: "flaky/k1")
        try await system.send(kind: "work", json: #"{"seq": 1, "failures": 0}"#, to: kid)
        try await system.settle()
        #expect(system.deadLetters.map(\.reason) == ["actor flaky/k1 does not exist (never spawned, or stopped)"])
        let again = await #expect(throws: AskFailed.self) { try await system.stop(parent) }
        #expect(again?.reason == "actor parent/p is not running (never spawned, or already stopped)")
    }

    @Test("a turn that stops its actor stops the children too, even one spawned in that turn")
    func selfStop() async throws {
        let system = TestSystem()
        system.host(Parent())
        system.host(Flaky(clock: system.clock))
        let parent = try await system.spawn(Parent.self, id: "p")
        try await system.send(Parent.Adopt(id: "early"), to: parent)
        try await system.settle()
        try await system.send(Parent.Retire(adopting: "late"), to: parent)
        try await system.settle()
        #expect(system.find(type: "flaky").isEmpty)
        #expect(system.find(type: "parent").isEmpty)
        #expect(system.records.filter { $0.stopped }.count == 1)
    }

    @Test("refusals before the behaviour runs: unknown actor, spawn twice, unhosted type; spawnIfMissing creates")
    func refusals() async throws {
        let system = TestSystem()
        system.host(Tally())
        let ghost = ActorRef<Tally>(try ActorAddress(parsing: "tally/ghost"))
        let asked = await #expect(throws: AskFailed.self) { try await system.ask(Tally.Get(), of: ghost) }
        #expect(asked?.reason == "actor tally/ghost does not exist (never spawned, or stopped)")
        try await system.send(Tally.Add(by: 5), to: ghost, spawnIfMissing: true)
        try await system.settle()
        #expect(system.state(of: ghost)?.total == 5)
        let twice = await #expect(throws: AskFailed.self) { try await system.spawn(Tally.self, id: "ghost") }
        #expect(twice?.reason == "actor tally/ghost already exists (active); spawn each address once")
        try await system.send(kind: "ping", to: try ActorAddress(parsing: "echo/e"))
        try await system.settle()
        #expect(system.deadLetters.last?.reason == "this worker does not host actor type 'echo'")
        #expect(system.deadLetters.map(\.attempts) == [0, 0, 0])
    }

    @Test("many tasks driving one system at once: every ask answered, one turn at a time")
    func concurrentCallers() async throws {
        let system = TestSystem()
        let overlap = Overlap()
        system.host(overlap)
        let ref = try await system.spawn(Overlap.self, id: "o")
        let answers = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 {
                group.addTask { try await system.ask(Overlap.Touch(), of: ref) }
                group.addTask {
                    try await system.send(Overlap.Touch(), to: ref)
                    try await system.settle()
                    return 0
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let asked = answers.filter { $0 > 0 }
        #expect(asked.count == 20 && Set(asked).count == 20, "each ask answered by its own turn: \(asked)")
        #expect(system.state(of: ref)?.turns == 40)
        #expect(overlap.peaks.all.max() == 1, "turns of one actor overlapped: \(overlap.peaks.all)")
    }

    @Test("a request handled without a reply is an error, not a hang")
    func noReply() async throws {
        let system = TestSystem()
        system.host(Tally())
        let ref = try await system.spawn(Tally.self, id: "x")
        await #expect(throws: TestKitError.self) { try await system.ask(kind: "add", json: #"{"by": 1}"#, of: ref.address) }
        #expect(system.state(of: ref)?.total == 1)
    }

    @Test("actors that message each other forever make settle throw instead of hang")
    func endless() async throws {
        let system = TestSystem()
        system.host(Bouncer())
        let a = try await system.spawn(Bouncer.self, id: "a")
        try await system.send(Bouncer.Ball(), to: a)
        let error = await #expect(throws: TestKitError.self) { try await system.settle(maximumTurns: 500) }
        #expect(error?.description.contains("still running after 500 turns") == true)
    }
}

/// Sends each ball back to itself: never settles.
struct Bouncer: TypedBehavior {
    struct State: Codable, Sendable {}
    struct Ball: ActorMessage { static let kind = "ball" }
    static let typeName = "bouncer"
    static let initialState = State()
    let handlers = Handlers<Bouncer>()
        .on(Ball.self) { ball, _, context in try context.send(ball, to: context.me(as: Bouncer.self)) }
}
