import Broker
import Foundation
import Testing
import Workers

/// What goes wrong with typed messages, and what each error says: a payload
/// that does not decode and an unknown kind (dead-lettered by a real worker),
/// two handlers for one kind (the worker refuses to start), a reply of
/// another shape than the caller declared (the caller's error).
@Suite("Typed messages: bad input and mistakes are named", .timeLimit(.minutes(3)))
struct TypedBadInputTests {
    @Test("a known kind whose payload does not decode, and an unknown kind, are dead-lettered at once with the field or the kinds taken")
    func deadLettered() async throws {
        try await withHarness { harness in
            let client = harness.client
            let suffix = harness.suffix
            let counter = try await client.spawn(Counter.self, id: "strict", typeName: harness.type("counter"))
            let account = try await client.spawn(Account.self, id: "strict", state: Account.State(balance: 10), typeName: harness.type("account"))
            let echo = try await client.spawn(Echo.self, id: "strict", typeName: harness.type("echo"))
            let tree = try await client.spawn(Tree.self, id: "strict", typeName: harness.type("tree"))
            let cases: [(to: ActorAddress, kind: String, payload: String, reason: String)] = [
                (counter.address, "add", #"{"by": "two"}"#, "payload of 'add' does not decode as Add: 'by' is not Int"),
                (counter.address, "add", #"{"by": null}"#, "payload of 'add' does not decode as Add: 'by' is null, expected Int"),
                (counter.address, "add", #"{"by": 0.5}"#,
                 "payload of 'add' does not decode as Add: a number does not fit its field (a fraction or a number out of range for an integer): 'by' is 0.5"),
                (account.address, "deposit", #"{"amount": "5"}"#, "payload of 'deposit' does not decode as Deposit: 'amount' is not Int"),
                (account.address, "transfer", #"{"to": "nobody", "amount": 1}"#,
                 "payload of 'transfer' does not decode as Transfer: 'to' is invalid: invalid actor address 'nobody': an address is TYPE/ID, e.g. counter/42; there is no '/'"),
                (echo.address, "ping", #"[1, 2]"#, "payload of 'ping' does not decode as Ping: the value is not an object"),
                (tree.address, "grow", #"{"depth": 2}"#, "payload of 'grow' does not decode as Grow: missing field 'fanout'"),
                (counter.address, "explode", #"{}"#, "unknown message kind 'explode' for \(harness.type("counter")); it takes: add, get"),
                (account.address, "refund", #"{"amount": 1}"#,
                 "unknown message kind 'refund' for \(harness.type("account")); it takes: deposit, get, transfer, withdraw"),
            ]
            let ids = cases.indices.map { "bad-\($0)-\(suffix)" }
            for (id, bad) in zip(ids, cases) {
                try await client.send(to: bad.to, kind: bad.kind, payload: Array(bad.payload.utf8), id: id)
            }
            let letters = try await takeDeadLetters(client, suffix: suffix, ids: Set(ids))
            for (id, bad) in zip(ids, cases) {
                let letter = try #require(letters.first { $0.messageID == id })
                #expect(letter.reason == bad.reason)
                #expect(letter.attempts == 1, "refused by the handler, not retried: \(letter.reason)")
                #expect(letter.kind == bad.kind && letter.target == bad.to.description && letter.body == bad.payload, "the message itself, untouched")
            }
            // An asking sender hears the same reason at once.
            let refused = await #expect(throws: AskFailed.self) {
                _ = try await client.ask(counter.address, kind: "add", payload: Array(#"{"by": "two"}"#.utf8))
            }
            #expect(refused?.reason == "payload of 'add' does not decode as Add: 'by' is not Int")
            // Nothing was applied.
            #expect(try await client.state(of: counter) == Counter.State(count: 0))
            #expect(try await client.state(of: account) == Account.State(balance: 10))
            #expect(try await client.state(of: echo) == Echo.State(pings: 0))
            #expect(try await client.state(of: tree) == Tree.State())
        }
    }

    /// A behaviour written with a mistake: two message types claim `add`.
    struct Doubled: TypedBehavior {
        struct State: Codable, Sendable { var total = 0 }
        struct Add: ActorMessage {
            static let kind = "add"
            var by: Int
        }
        struct AddTwice: ActorMessage {
            static let kind = "add"
            var by: Int
        }
        struct Get: ActorRequest {
            static let kind = "get"
            typealias Reply = State
        }

        static let typeName = "doubled"
        static let initialState = State()

        let handlers = Handlers<Doubled>()
            .on(Add.self) { add, state, _ in state.total += add.by }
            .on(Get.self) { _, state, _ in state }
            .on(AddTwice.self) { add, state, _ in state.total += 2 * add.by }
    }

    @Test("two handlers for one kind: the worker refuses to start, naming both")
    func twoHandlersForOneKind() async throws {
        // A port nothing listens on: if the check were missing, start would fail otherwise (cannot connect).
        let runtime = WorkerRuntime(configuration: .init(
            amqp: try AMQPConfiguration(url: "amqp://127.0.0.1:1"), redis: try RedisConfiguration(url: "redis://127.0.0.1:1"),
            types: [HostedType(Counter()), HostedType(Doubled())]))
        let error = await #expect(throws: WorkerConfigurationError.self) { try await runtime.start() }
        #expect(error?.code == .faultyBehavior(type: "doubled"))
        #expect(error?.description == "actor type 'doubled' cannot be hosted: kind 'add' is handled twice in doubled: by Add and by AddTwice")
        #expect(HostedType(Counter()).problems.isEmpty)
    }

    /// A behaviour that claims a kind only the runtime receives.
    struct Spawning: TypedBehavior {
        struct State: Codable, Sendable {}
        struct Spawn: ActorMessage { static let kind = WireFormat.SystemKind.spawn }

        static let typeName = "spawning"
        static let initialState = State()

        let handlers = Handlers<Spawning>().on(Spawn.self) { _, _, _ in }
    }

    @Test("a handler for greenroom.spawn, which never reaches a behaviour, also stops the start")
    func systemKind() async throws {
        let runtime = WorkerRuntime(configuration: .init(
            amqp: try AMQPConfiguration(url: "amqp://127.0.0.1:1"), redis: try RedisConfiguration(url: "redis://127.0.0.1:1"),
            types: [HostedType(Spawning(), name: "spawning-x")]))
        let error = await #expect(throws: WorkerConfigurationError.self) { try await runtime.start() }
        #expect(error?.code == .faultyBehavior(type: "spawning-x"))
        #expect(error?.description == "actor type 'spawning-x' cannot be hosted: kind 'greenroom.spawn' of Spawn in spawning is the runtime's own, "
                + "never delivered to a behaviour: give Spawn another kind")
    }

    /// `get` as a caller who believes it answers an account's `Outcome`.
    struct GetAsOutcome: ActorRequest {
        static let kind = "get"
        typealias Reply = Account.Outcome
    }

    @Test("a reply, or a state, of another shape than the caller declared throws ReplyDoesNotDecode, saying what came")
    func replyDoesNotDecode() async throws {
        try await withHarness { harness in
            let client = harness.client
            let counter = try await client.spawn(Counter.self, id: "not-an-account", state: Counter.State(count: 3), typeName: harness.type("counter"))
            let reply = await #expect(throws: ReplyDoesNotDecode.self) { _ = try await client.ask(GetAsOutcome(), of: counter) }
            #expect(reply?.address == counter.address)
            #expect(reply?.kind == "get")
            #expect(reply?.expected == "Outcome")
            #expect(reply?.problem == "missing field 'ok'")
            #expect(reply?.reply == #"{"count":3}"#)
            #expect(reply?.description == #"the answer of \#(counter.address) to 'get' does not decode as Outcome: missing field 'ok' (it was {"count":3})"#)

            let state = await #expect(throws: ReplyDoesNotDecode.self) { _ = try await client.state(of: ActorRef<Account>(counter.address)) }
            #expect(state?.kind == "state")
            #expect(state?.problem == "missing field 'balance'")
            // The actor is unharmed: the mismatch was the caller's.
            #expect(try await client.ask(Counter.Get(), of: counter) == Counter.State(count: 3))
        }
    }
}
