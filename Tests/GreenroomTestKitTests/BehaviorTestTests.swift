import GreenroomTestKit
import Testing
import Workers

@Suite("BehaviorTest: one behaviour, one actor, the runtime's turn semantics", .timeLimit(.minutes(1)))
struct BehaviorTestTests {
    @Test("a typed message commits its state; a typed request returns the typed reply")
    func typed() async throws {
        let tally = BehaviorTest(Tally(), id: "x", state: Tally.State(total: 1))
        #expect(tally.address.description == "tally/x")
        let record = try await tally.receive(Tally.Add(by: 2))
        #expect(record.committed)
        #expect(record.attempt == 1)
        #expect(record.message.kind == "add" && record.message.json == #"{"by":2}"#)
        #expect(record.reply == nil, "add replies with nothing")
        #expect(tally.state == Tally.State(total: 3))
        let reply: Tally.State = try await tally.ask(Tally.Get())
        #expect(reply.total == 3)
        #expect(tally.stateJSON == #"{"total":3}"#)
    }

    @Test("the string escape hatch: a kind and JSON, as enqueue or pika would send them")
    func strings() async throws {
        let tally = BehaviorTest(Tally())
        #expect(tally.address.description == "tally/test")
        try await tally.receive(kind: "add", json: #"{"by": 2}"#)
        let get = try await tally.receive(kind: "get")
        #expect(get.reply?.json == #"{"total":2}"#)
        #expect(try get.reply?.decode(Tally.State.self) == Tally.State(total: 2))

        let wrong = try await tally.receive(kind: "add", json: #"{"by": "two"}"#)
        #expect(wrong.deadLetter?.reason.contains("'by'") == true, "\(wrong)")
        #expect(wrong.deadLetter?.attempts == 1, "a payload that does not decode is not retried")
        let unknown = try await tally.receive(kind: "explode")
        #expect(unknown.deadLetter?.reason == "unknown message kind 'explode' for tally; it takes: add, forward, get")
        #expect(tally.deadLetters.map(\.kind) == ["add", "explode"])
        #expect(tally.state.total == 2)
        await #expect(throws: TestKitError.self) { try await tally.receive(kind: "add", json: "{not json") }
    }

    @Test("a turn that throws leaves no trace: not its state, not its sends; it is retried on the test clock")
    func commitOnlyOnReturn() async throws {
        let clock = TestClock()
        let flaky = Flaky(clock: clock)
        let test = BehaviorTest(flaky, clock: clock)
        let record = try await test.receive(Flaky.Work(seq: 7, failures: 2))
        #expect(record.committed)
        #expect(record.attempt == 3)
        #expect(test.state.handled == [7], "two failed attempts appended 7 to copies that were thrown away")
        #expect(test.sent.map(\.json) == [#"{"seq":7}"#], "only the committed attempt's send")
        #expect(record.sent.map(\.kind) == ["done"])
        // The default policy: 100 ms, then 200 ms, on the virtual clock.
        #expect(flaky.seconds("test", 7) == [.zero, .milliseconds(100), .milliseconds(300)])
        #expect(clock.now.sinceStart == .milliseconds(300))
        let failed = test.records.filter { !$0.committed }
        #expect(failed.map(\.failure) == ["boom on attempt 1", "boom on attempt 2"])
        #expect(failed.allSatisfy { $0.sent.isEmpty && $0.error is Flaky.Boom })
        #expect(test.deadLetters.isEmpty)
    }

    @Test("out of attempts: a dead letter carrying the error, and child-failed to the parent")
    func deadLetterAfterRetries() async throws {
        let clock = TestClock()
        let parent = try ActorAddress(parsing: "parent/p")
        let test = BehaviorTest(Flaky(clock: clock), id: "kid", parent: parent,
                                retry: RetryPolicy(attempts: 3, initialDelay: .seconds(1)), clock: clock)
        let record = try await test.receive(Flaky.Work(seq: 1, failures: 99))
        let letter = try #require(record.deadLetter)
        #expect(letter.attempts == 3)
        #expect(letter.reason == "failed after 3 attempts: boom on attempt 3")
        #expect((letter.error as? Flaky.Boom)?.attempt == 3)
        #expect(record.attempt == 3)
        #expect(clock.now.sinceStart == .seconds(3), "1 s, then 2 s")
        #expect(test.state.handled.isEmpty)
        let notice = try #require(test.sent.last)
        #expect(notice.to == parent)
        let failed = try notice.decode(ChildFailed.self)
        #expect([failed.child.description, failed.kind, failed.error, failed.messageID] == ["flaky/kid", "work", letter.reason, letter.id])
        // The actor goes on.
        #expect(try await test.receive(Flaky.Work(seq: 2)).committed)
        #expect(test.state.handled == [2])
    }

    @Test("a stopped actor's later messages are dead-lettered, as the runtime does")
    func stop() async throws {
        let test = BehaviorTest(Flaky(clock: TestClock()))
        let quit = try await test.receive(Flaky.Quit())
        #expect(quit.committed && quit.stopped)
        #expect(test.isStopped)
        let late = try await test.receive(Flaky.Work(seq: 1))
        #expect(late.deadLetter?.reason == "actor flaky/test does not exist (never spawned, or stopped)")
        #expect(late.deadLetter?.attempts == 0)
        #expect(late.attempt == 0)
    }

    @Test("spawns are recorded; the children count as live until the actor stops")
    func spawns() async throws {
        let test = BehaviorTest(Parent(), id: "p")
        let record = try await test.receive(Parent.Adopt(id: "kid"))
        #expect(record.spawned.map(\.address.description) == ["flaky/kid"])
        #expect(record.spawned.first?.stateJSON == nil)
        #expect(test.children.map(\.description) == ["flaky/kid"])
        #expect(test.state.children.map(\.description) == ["flaky/kid"])
        #expect(try await test.receive(Parent.Retire()).stopped)
        #expect(test.children.isEmpty)
    }

    @Test("a behaviour the runtime would refuse to host is refused here too, naming both handlers")
    func faultyBehavior() async throws {
        let test = BehaviorTest(Twice())
        let error = await #expect(throws: WorkerConfigurationError.self) { try await test.receive(Twice.Add(by: 1)) }
        #expect(error?.code == .faultyBehavior(type: "twice"))
        #expect(error?.description.contains("by Add and by Plus") == true, "\(String(describing: error))")
    }

    @Test("a state given as JSON is checked as a spawn checks it")
    func jsonState() async throws {
        let good = BehaviorTest(Tally(), json: #"{"total": 40}"#)
        #expect(try await good.ask(Tally.Get()).total == 40)
        let bad = BehaviorTest(Tally(), json: #"{"total": "many"}"#)
        await #expect(throws: MessageRejected.self) { try await bad.receive(Tally.Add(by: 1)) }
    }

    @Test("without expectingReply a reply is dropped, as for enqueue send")
    func noReplyExpected() async throws {
        let tally = BehaviorTest(Tally())
        #expect(try await tally.receive(Tally.Get(), expectingReply: false).reply == nil)
        #expect(try await tally.receive(Tally.Get()).reply?.json == #"{"total":0}"#)
    }
}
