import Foundation
import Testing
import Workers

/// The built-ins through the typed API, against real servers: typed spawns
/// with typed state, sends, asks with typed replies, typed state — and, in
/// Tree, a behaviour's own typed spawn and send.
@Suite("Typed messages against real servers", .timeLimit(.minutes(3)))
struct TypedMessageTests {
    @Test("counter, echo and account: typed spawn, send, ask and state")
    func builtIns() async throws {
        try await withHarness { harness in
            let client = harness.client
            let counter = try await client.spawn(Counter.self, id: "typed", state: Counter.State(count: 40), typeName: harness.type("counter"))
            try await client.send(Counter.Add(by: 1), to: counter)
            #expect(try await client.ask(Counter.Add(by: 1), of: counter) == Counter.State(count: 42))
            #expect(try await client.ask(Counter.Get(), of: counter) == Counter.State(count: 42))
            #expect(try await client.state(of: counter) == Counter.State(count: 42))

            let echo = try await client.spawn(Echo.self, typeName: harness.type("echo"))
            let ping = Echo.Ping(["hello": "greenroom", "n": 7, "x": 2.5, "list": [1, nil, true], "nested": ["deep": ["a"]]])
            #expect(try await client.ask(ping, of: echo) == ping)
            // The reply's wire kind is the request's replyKind.
            let raw = try await client.ask(echo.address, kind: Echo.Ping.kind, payload: Array(#"{"a":1}"#.utf8))
            #expect(raw.kind == "pong")
            #expect(raw.text == #"{"a":1}"#)
            #expect(try await client.state(of: echo) == Echo.State(pings: 2))

            let alice = try await client.spawn(Account.self, id: "alice", state: Account.State(balance: 100), typeName: harness.type("account"))
            let bob = try await client.spawn(Account.self, id: "bob", typeName: harness.type("account"))
            #expect(try await client.ask(Account.Transfer(to: bob, amount: 30), of: alice) == Account.Outcome(ok: true, balance: 70))
            #expect(try await client.ask(Account.Withdraw(amount: 71), of: alice) == Account.Outcome(ok: false, balance: 70, reason: "insufficient funds"))
            #expect(try await client.ask(Account.Deposit(amount: 5), of: alice) == Account.Outcome(ok: true, balance: 75))
            // The credit is a typed send from alice's turn.
            try await eventually(30, "bob credited") { try await client.state(of: bob) == Account.State(balance: 30) }
            #expect(try await client.ask(Account.Get(), of: bob) == Account.Outcome(ok: true, balance: 30))
            let refused = await #expect(throws: AskFailed.self) {
                try await client.ask(Account.Transfer(to: ActorRef(counter.address), amount: 1), of: alice)
            }
            #expect(refused?.reason == "can only transfer to another account, not \(counter.address)")
            #expect(try await client.state(of: alice) == Account.State(balance: 75))
        }
    }

    @Test("a tree grows from one typed message: each node's handler spawns its children and sends them Grow, typed")
    func tree() async throws {
        try await withHarness { harness in
            let client = harness.client
            let type = harness.type("tree")
            let root = try await client.spawn(Tree.self, id: "root", typeName: type)
            try await client.send(Tree.Grow(depth: 2, fanout: 3), to: root)
            let nodes = try await within(30, "13 grown nodes") {
                while true {
                    let nodes = try await client.find(type: type).map { ActorRef<Tree>($0) }
                    if nodes.count == 13 {
                        var grown = true
                        for node in nodes { grown = try await client.state(of: node).grown && grown }
                        if grown { return nodes }
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            #expect(try await client.ask(Tree.Count(), of: root) == Tree.Children(children: 3))
            #expect(try await client.children(of: root.address).map(\.id) == ["root.0", "root.1", "root.2"])
            let middle = try ActorRef<Tree>(id: "root.1", typeName: type)
            #expect(try await client.state(of: middle) == Tree.State(depth: 1, grown: true))
            #expect(try await client.ask(Tree.Count(), of: middle) == Tree.Children(children: 3))
            let leaf = try ActorRef<Tree>(id: "root.1.2", typeName: type)
            #expect(nodes.contains(leaf))
            #expect(try await client.state(of: leaf) == Tree.State(depth: 0, grown: true))
            #expect(try await client.ask(Tree.Count(), of: leaf) == Tree.Children(children: 0))
        }
    }

    @Test("a typed behaviour without a handler for child-failed ignores it: a tree whose child failed every attempt is not dead-lettered itself")
    func childFailedIgnored() async throws {
        try await withHarness { harness in
            let client = harness.client
            let root = try await client.spawn(Tree.self, id: "parent", typeName: harness.type("tree"))
            // A probe child of the tree (a spawn names its parent on the wire), which fails every attempt.
            let child = try harness.address("probe", "failing-child")
            _ = try await client.ask(child, kind: WireFormat.SystemKind.spawn, payload: Array(#"{"parent": "\#(root.address)"}"#.utf8))
            let id = "doomed-\(harness.suffix)"
            try await client.send(to: child, kind: "fail", payload: Array(#"{"times": 99}"#.utf8), id: id)
            let letters = try await takeDeadLetters(client, suffix: harness.suffix, ids: [id])
            let childLetters = letters.filter { $0.messageID == id }
            #expect(childLetters.count == 1 && childLetters[0].reason.contains("failed after 3 attempts"), "\(letters.map(\.reason))")
            // The parent heard child-failed (sent after the child's dead letter) and let it be.
            _ = try await Quiet.settle("child-failed handled", types: [harness.type("tree"), harness.type("probe")], runtimes: [harness.runtime]) {
                try await client.state(of: root)
            }
            let parentLetters = letters.filter { $0.target == root.address.description }
                + (try await client.takeDeadLetters(limit: scanEveryDeadLetter, timeout: .milliseconds(500)) { $0.target == root.address.description })
            #expect(parentLetters.isEmpty, "\(parentLetters.map(\.reason))")
            #expect(try await client.state(of: root) == Tree.State())
        }
    }
}
