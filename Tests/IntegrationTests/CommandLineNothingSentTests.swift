import Foundation
import Testing
import Workers

/// A refused `enqueue` command sends nothing: checked against a live actor,
/// by sending one good add to it afterwards and asking for its count (same
/// actor, so same partition queue, behind anything a refused command might
/// have published): only that add's effect, and no dead letters.
@Suite("A refused enqueue command publishes nothing", .timeLimit(.minutes(3)))
struct CommandLineNothingSentTests {
    /// Runs each of `commands` (each must fail), then proves the counter saw
    /// nothing but one good add and nothing was dead-lettered.
    private static func expectNothingSent(_ harness: RuntimeHarness, _ counter: ActorAddress, after commands: [[String]]) async throws {
        for arguments in commands {
            let run = try await CommandRun.run("enqueue", arguments)
            #expect(run.status != nil && run.status != 0, "\(run)")
        }
        let client = harness.client
        try await client.send(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true)
        // Handled after the add, so after anything that was queued before it.
        let reply = try await client.ask(counter, kind: "get", timeout: .seconds(30))
        let state = try JSONDecoder().decode(Counter.State.self, from: Data(reply.payload))
        #expect(state.count == 1, "something besides the good add reached \(counter)")
        let prefix = harness.type("counter") + "/"
        let dead = try await client.takeDeadLetters(limit: scanEveryDeadLetter, timeout: .milliseconds(500)) { $0.target?.hasPrefix(prefix) == true }
        #expect(dead.isEmpty, "\(dead)")
    }

    @Test("bad payloads, unreachable or malformed servers, a bad line in a file")
    func refusedCommands() async throws {
        try await withHarness { harness in
            let counter = try harness.address("counter", "target")
            let file = "/tmp/greenroom-test-\(harness.suffix)-bad.jsonl"
            defer { unlink(file) }
            try "{\"to\": \"\(counter)\", \"kind\": \"add\", \"payload\": {\"by\": 1000}}\nnot json\n".write(toFile: file, atomically: true, encoding: .utf8)
            let add = [counter.description, "add", #"{"by":1000}"#, "--spawn"]
            try await Self.expectNothingSent(harness, counter, after: [
                ["send", counter.description, "add", #"{"by":1000"#, "--spawn"],
                ["send"] + add + ["--amqp-url", "amqp://127.0.0.1:1"],
                ["send"] + add + ["--redis-url", "redis://127.0.0.1:1"],
                ["send"] + add + ["--amqp-url", "http://127.0.0.1:5672"],
                ["send", "--file", file, "--spawn"],
                ["send"] + add + ["--delay", "5x"],
                ["send"] + add + ["--delay", "-1s"],
                ["send"] + add + ["--delay", "366d"],
                ["send"] + add + ["--at", "2020-01-01T00:00:00Z"],
                ["send"] + add + ["--delay", "1s", "--at", "2099-01-01T00:00:00Z"],
                ["ask", counter.description, "add", #"{"by":1000"#],
                ["spawn", harness.type("counter"), counter.id, "--state", #"{"count":1000"#],
            ])
        }
    }

    @Test("a bad line late in a file: the lines before it are not sent either")
    func badLineAfterAFullBatch() async throws {
        try await withHarness { harness in
            let counter = try harness.address("counter", "target")
            let file = "/tmp/greenroom-test-\(harness.suffix)-late-bad.jsonl"
            defer { unlink(file) }
            let good = "{\"to\": \"\(counter)\", \"kind\": \"add\", \"payload\": {\"by\": 1000}, \"spawn\": true}\n"
            try (String(repeating: good, count: 600) + "not json\n").write(toFile: file, atomically: true, encoding: .utf8)
            try await Self.expectNothingSent(harness, counter, after: [["send", "--file", file]])
        }
    }
}
