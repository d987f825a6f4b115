import Broker
import Foundation
import Testing
import Workers

@Suite("The actor runtime against real servers")
struct RuntimeTests {
    @Test("spawn, send, ask: a counter counts and replies")
    func counterBasics() async throws {
        let harness = try await RuntimeHarness.start()
        let counter = try await harness.client.spawn(type: harness.type("counter"), id: "c1")
        for _ in 0..<10 {
            try await harness.client.send(to: counter, kind: "add", payload: Array(#"{"by":2}"#.utf8))
        }
        let reply = try await harness.client.ask(counter, kind: "get")
        #expect(try JSONDecoder().decode(Counter.State.self, from: Data(reply.payload)).count == 20)
        #expect(String(decoding: try await harness.client.state(of: counter), as: UTF8.self) == #"{"count":20}"#)
        try await harness.cleanUp()
    }

    @Test("echo replies with the object it got")
    func echo() async throws {
        let harness = try await RuntimeHarness.start()
        let echo = try await harness.client.spawn(type: harness.type("echo"), id: "e")
        let reply = try await harness.client.ask(echo, kind: "ping", payload: Array(#"{"a":[1,2,{"b":null}],"s":"x"}"#.utf8))
        #expect(reply.kind == "pong")
        #expect(reply.text == #"{"a":[1,2,{"b":null}],"s":"x"}"#)
        try await harness.cleanUp()
    }

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
