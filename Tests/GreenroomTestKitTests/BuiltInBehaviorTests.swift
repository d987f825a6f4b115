import GreenroomTestKit
import Testing
import Workers

// What the built-in behaviours do with a message, without servers. (Moved
// here from the integration suite, which keeps the distributed guarantees.)
// Counter is typed; echo, account and tree are driven through the string
// API: their kinds and payloads are the wire format, whatever their Swift
// types become.

@Suite("counter", .timeLimit(.minutes(1)))
struct CounterBehaviorTests {
    @Test("add counts and replies with the new state; get replies with the state")
    func counts() async throws {
        let counter = BehaviorTest(Counter(), id: "c1")
        for _ in 0..<10 { try await counter.receive(Counter.Add(by: 2)) }
        #expect(counter.state.count == 20)
        #expect(try await counter.ask(Counter.Get()) == Counter.State(count: 20))
        #expect(try await counter.ask(Counter.Add(by: -5)) == Counter.State(count: 15))
        #expect(counter.stateJSON == #"{"count":15}"#)
    }

    @Test("an add that would overflow is refused with the reason, not trapped, and changes nothing")
    func overflow() async throws {
        let counter = BehaviorTest(Counter(), state: Counter.State(count: .max))
        let record = try await counter.receive(Counter.Add(by: 1))
        #expect(record.deadLetter?.reason == "adding 1 to 9223372036854775807 overflows")
        #expect(record.deadLetter?.attempts == 1, "refused, not retried")
        #expect(counter.state.count == .max)
    }

    @Test("in a system: spawned with a state, counted, asked")
    func inSystem() async throws {
        let system = TestSystem()
        system.host(Counter())
        let counter = try await system.spawn(Counter.self, id: "c", state: Counter.State(count: 10))
        for _ in 0..<5 { try await system.send(Counter.Add(by: 1), to: counter) }
        #expect(try await system.ask(Counter.Get(), of: counter).count == 15)
    }
}

@Suite("echo", .timeLimit(.minutes(1)))
struct EchoBehaviorTests {
    @Test("ping replies pong with the object it got")
    func echoes() async throws {
        let echo = BehaviorTest(Echo(), id: "e")
        let record = try await echo.receive(kind: "ping", json: #"{"a":[1,2,{"b":null}],"s":"x"}"#)
        #expect(record.reply?.kind == "pong")
        #expect(record.reply?.json == #"{"a":[1,2,{"b":null}],"s":"x"}"#)
        #expect(echo.stateJSON == #"{"pings":1}"#)
    }

    @Test("anything but an object is refused; a ping count that cannot grow is refused, not trapped")
    func refusals() async throws {
        let echo = BehaviorTest(Echo())
        #expect(try await echo.receive(kind: "ping", json: "[1]").deadLetter?.attempts == 1)
        #expect(try await echo.receive(kind: "pong").deadLetter?.attempts == 1)
        let full = BehaviorTest(Echo(), json: #"{"pings": 9223372036854775807}"#)
        let record = try await full.receive(kind: "ping", json: #"{"t": 1}"#)
        #expect(record.deadLetter?.reason.contains("ping count 9223372036854775807 cannot grow") == true, "\(record)")
        #expect(full.stateJSON == #"{"pings":9223372036854775807}"#)
    }
}

@Suite("account", .timeLimit(.minutes(1)))
struct AccountBehaviorTests {
    @Test("deposit, withdraw and get reply with the balance; an overdraft is refused with a reply and changes nothing")
    func balance() async throws {
        let account = BehaviorTest(Account(), id: "a", json: #"{"balance": 1000}"#)
        let overdraft = try await account.receive(kind: "withdraw", json: #"{"amount": 5000}"#)
        #expect(overdraft.committed)
        #expect(overdraft.reply?.json == #"{"balance":1000,"ok":false,"reason":"insufficient funds"}"#)
        #expect(try await account.receive(kind: "deposit", json: #"{"amount": 5}"#).reply?.json == #"{"balance":1005,"ok":true}"#)
        #expect(try await account.receive(kind: "withdraw", json: #"{"amount": 1005}"#).reply?.json == #"{"balance":0,"ok":true}"#)
        #expect(try await account.receive(kind: "get").reply?.json == #"{"balance":0,"ok":true}"#)
        #expect(account.stateJSON == #"{"balance":0}"#)
    }

    @Test("a transfer debits now and sends the credit as a deposit; a refused one sends nothing")
    func transfer() async throws {
        let account = BehaviorTest(Account(), id: "a", json: #"{"balance": 10}"#)
        let record = try await account.receive(kind: "transfer", json: #"{"to": "account/b", "amount": 4}"#)
        #expect(record.reply?.json == #"{"balance":6,"ok":true}"#)
        #expect(record.sent.map(\.description) == [#"deposit {"amount":4} to account/b from account/a"#])
        let refused = try await account.receive(kind: "transfer", json: #"{"to": "account/b", "amount": 7}"#)
        #expect(refused.reply?.json == #"{"balance":6,"ok":false,"reason":"insufficient funds"}"#)
        #expect(refused.sent.isEmpty)
        let elsewhere = try await account.receive(kind: "transfer", json: #"{"to": "counter/b", "amount": 1}"#)
        #expect(elsewhere.deadLetter?.attempts == 1)
        #expect(account.stateJSON == #"{"balance":6}"#)
    }

    @Test("amounts must be positive; a deposit that would overflow is refused, not trapped")
    func limits() async throws {
        let account = BehaviorTest(Account(), id: "rich")
        #expect(try await account.receive(kind: "deposit", json: #"{"amount": 9223372036854775807}"#).committed)
        let over = try await account.receive(kind: "deposit", json: #"{"amount": 1}"#)
        #expect(over.deadLetter?.reason.contains("depositing 1 into a balance of 9223372036854775807 overflows") == true, "\(over)")
        #expect(over.deadLetter?.attempts == 1)
        for amount in [0, -3] {
            #expect(try await account.receive(kind: "withdraw", json: #"{"amount": \#(amount)}"#).deadLetter?.attempts == 1)
        }
        #expect(account.stateJSON == #"{"balance":9223372036854775807}"#)
    }

    @Test("transfers among accounts conserve the total")
    func conserved() async throws {
        let system = TestSystem()
        system.host(Account())
        let ids = ["a", "b", "c"]
        for id in ids { try await system.spawn(type: "account", id: id, json: #"{"balance": 100}"#) }
        for step in 0..<30 {
            let from = ids[step % 3], to = ids[(step + 1) % 3]
            try await system.send(kind: "transfer", json: #"{"to": "account/\#(to)", "amount": \#(step + 1)}"#,
                                  to: try ActorAddress(type: "account", id: from))
        }
        try await system.settle()
        let balances = try ids.map { try #require(system.stateJSON(of: try ActorAddress(type: "account", id: $0))) }
        let total = try balances.map { try #require(Int($0.filter(\.isNumber))) }.reduce(0, +)
        #expect(total == 300, "\(balances)")
        #expect(system.deadLetters.isEmpty)
    }
}

@Suite("tree", .timeLimit(.minutes(1)))
struct TreeBehaviorTests {
    @Test("grow spawns the tree, count counts a node's children, stopping the root stops them all")
    func growCountStop() async throws {
        let system = TestSystem()
        system.host(Tree())
        let root = try await system.spawn(type: "tree", id: "root")
        try await system.send(kind: "grow", json: #"{"depth": 2, "fanout": 3}"#, to: root)
        try await system.settle()
        #expect(system.find(type: "tree").count == 13)
        #expect(system.children(of: root).map(\.id) == ["root.0", "root.1", "root.2"])
        #expect(try await system.ask(kind: "count", of: try ActorAddress(type: "tree", id: "root.1")).json == #"{"children":3}"#)
        try await system.stop(root)
        try await system.settle()
        #expect(system.find(type: "tree").isEmpty)
        let again = await #expect(throws: AskFailed.self) { try await system.ask(kind: "count", of: root) }
        #expect(again?.reason.contains("does not exist") == true)
        #expect(system.deadLetters.map(\.kind) == ["count"], "the stop reached every node once")
    }

    @Test("one grow: the children and their grow messages, in one turn")
    func oneTurn() async throws {
        let tree = BehaviorTest(Tree(), id: "t")
        let record = try await tree.receive(kind: "grow", json: #"{"depth": 1, "fanout": 2}"#)
        #expect(record.spawned.map(\.description) == [#"tree/t.0 with {"depth":0,"grown":false}"#, #"tree/t.1 with {"depth":0,"grown":false}"#])
        #expect(record.sent.map(\.description) == [#"grow {"depth":0,"fanout":2} to tree/t.0 from tree/t"#,
                                                   #"grow {"depth":0,"fanout":2} to tree/t.1 from tree/t"#])
        #expect(try await tree.receive(kind: "count").reply?.json == #"{"children":2}"#)
    }

    @Test("a grow too big, out of range, or a second grow is refused, not run")
    func limits() async throws {
        let tree = BehaviorTest(Tree(), id: "huge")
        let huge = try await tree.receive(kind: "grow", json: #"{"depth": 6, "fanout": 10}"#)
        #expect(huge.deadLetter?.reason.contains("makes 1111111 actors; at most \(Tree.maximumNodes)") == true, "\(huge)")
        #expect(huge.spawned.isEmpty)
        for json in [#"{"depth": 7, "fanout": 2}"#, #"{"depth": 1, "fanout": 0}"#, #"{"depth": 1}"#] {
            #expect(try await tree.receive(kind: "grow", json: json).deadLetter?.attempts == 1, "\(json)")
        }
        #expect(try await tree.receive(kind: "grow", json: #"{"depth": 0, "fanout": 1}"#).committed)
        let second = try await tree.receive(kind: "grow", json: #"{"depth": 0, "fanout": 1}"#)
        #expect(second.deadLetter?.reason.contains("has already grown") == true, "\(second)")
        #expect(tree.deadLetters.count == 5)
    }
}
