import Broker
import Foundation
import Testing
import Workers

@Suite("The actor runtime against real servers", .timeLimit(.minutes(5)))
struct RuntimeTests {
    @Test("a message to an actor never spawned is refused with the reason, unless sent with spawn")
    func unknownActor() async throws {
        let harness = try await RuntimeHarness.start()
        let ghost = try harness.address("counter", "ghost")
        let error = await #expect(throws: AskFailed.self) { _ = try await harness.client.ask(ghost, kind: "get") }
        #expect(error?.reason.contains("does not exist") == true)

        let created = try harness.address("counter", "created")
        try await harness.client.send(to: created, kind: "add", payload: Array(#"{"by":5}"#.utf8), spawnIfMissing: true)
        let reply = try await harness.client.ask(created, kind: "get")
        #expect(reply.text == #"{"count":5}"#)
        try await harness.cleanUp()
    }
}

@Suite("Dead letters can be listed and replayed", .timeLimit(.minutes(5)))
struct DeadLetterReplayTests {
    @Test("a message refused because its actor did not exist is applied once replayed after a spawn")
    func replay() async throws {
        let harness = try await RuntimeHarness.start()
        let late = try harness.address("counter", "late")
        try await harness.client.send(to: late, kind: "add", payload: Array(#"{"by":7}"#.utf8), id: "late-\(harness.suffix)")
        let prefix = harness.type("counter") + "/"
        try await eventually(30, "the refused message in the dead-letter queue") {
            try await harness.client.deadLetters(limit: 10_000, timeout: .milliseconds(300)).contains { $0.messageID == "late-\(harness.suffix)" }
        }
        try await harness.client.spawn(type: late.type, id: late.id)
        // Other tests browse the dead-letter queue too (their unacked reads hide
        // messages for a moment), so replay until ours has gone back.
        let replayed = Collected()
        try await eventually(30, "the dead letter replayed") {
            let count = try await harness.client.replayDeadLetters(limit: 10_000, timeout: .milliseconds(500)) { $0.target?.hasPrefix(prefix) == true }
            return await replayed.add(count) >= 1
        }
        #expect(await replayed.total == 1)
        try await eventually(30, "the replayed add applied") { try await harness.client.state(of: late) == Array(#"{"count":7}"#.utf8) }
        try await harness.cleanUp()
    }
}
