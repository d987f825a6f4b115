import Foundation
import Testing
import Workers

/// A client's delayed send, end to end through a worker: not handled before
/// its time, handled once after it, holding back none of the actor's other
/// messages meanwhile.
@Suite("A client's delayed message runs when due, not before", .timeLimit(.minutes(2)))
struct DelayedSendTests {
    static func count(_ harness: RuntimeHarness, _ counter: ActorAddress) async throws -> Int {
        try JSONDecoder().decode(Counter.State.self, from: Data(try await harness.client.state(of: counter))).count
    }

    @Test("enqueue send --delay and a typed send(after:): later messages go first, the delayed ones once, when due")
    func delayedThenNow() async throws {
        try await withHarness { harness in
            let counter = try await harness.client.spawn(type: harness.type("counter"), id: "later")
            let sent = Date()
            let delayed = try await CommandRun.run("enqueue", ["send", counter.description, "add", #"{"by":1}"#, "--delay", "8s"])
            #expect(delayed.status == 0, "\(delayed)")
            try await harness.client.send(Counter.Add(by: 100), to: ActorRef<Counter>(counter), after: .seconds(8), id: "typed-delayed")
            // Sent after them, handled first: the delayed ones wait in the due set, not in the mailbox.
            // (8 s: a loaded machine may take seconds to start enqueue and connect.)
            let now = try await harness.client.ask(counter, kind: "add", payload: Array(#"{"by":10}"#.utf8))
            #expect(now.text == #"{"count":10}"#)
            try await eventually(30, "both delayed adds applied") { try await Self.count(harness, counter) == 111 }
            #expect(Date().timeIntervalSince(sent) >= 8)
            // The typed one again, same id, after it ran: dedup keeps it to once.
            try await harness.client.send(Counter.Add(by: 100), to: ActorRef<Counter>(counter), after: .milliseconds(200), id: "typed-delayed")
            try await harness.client.send(to: counter, kind: "add", payload: Array(#"{"by":1000}"#.utf8), after: .milliseconds(400))
            try await eventually(30, "the last delayed add applied") { try await Self.count(harness, counter) >= 1_111 }
            #expect(try await Self.count(harness, counter) == 1_111)
        }
    }
}
