import Foundation
import Testing
import Workers

/// A kind is a string on the wire, whatever wrote it: one actor takes typed
/// messages from Swift, strings from `enqueue`, and JSON from pika
/// (examples/send.py), and counts every one exactly once.
@Suite("Typed and string messages meet on the wire", .timeLimit(.minutes(3)))
struct TypedInteropTests {
    @Test("one counter: typed adds from GreenroomClient, string adds from enqueue, JSON from pika — its state is exactly the sum")
    func threeSenders() async throws {
        let check = try ChildProcess(PythonClientTests.python, ["-c", "import pika"])
        try #require(await check.exited(within: 30) == 0,
                     "\(PythonClientTests.python) cannot import pika: install Debian's python3-pika (scripts/test does, with apt-get)")
        try await withHarness { harness in
            let client = harness.client
            // Typed spawn with a typed state.
            let counter = try await client.spawn(Counter.self, id: "interop", state: Counter.State(count: 1000), typeName: harness.type("counter"))

            // Typed, from Swift: 3 × 1.
            for _ in 0..<3 { try await client.send(Counter.Add(by: 1), to: counter) }

            // Strings, from the command line: 2 × 20.
            for _ in 0..<2 {
                let sent = try await CommandRun.run("enqueue", ["send", counter.address.description, "add", #"{"by": 20}"#])
                #expect(sent.status == 0, "\(sent)")
            }

            // JSON, from pika: adds 5, then asks `get` over direct reply-to; it sends after the others were confirmed.
            let output = "/tmp/greenroom-typed-interop-\(harness.suffix).out"
            defer { unlink(output) }
            let script = URL(fileURLWithPath: WorkerProcess.binary).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("examples/send.py").path
            let url = String(TestServers.amqpURL.prefix { $0 != "?" })  // pika does not know Greenroom's URL options
            let python = try ChildProcess(PythonClientTests.python, [script, counter.address.description, String(harness.runtime.configuration.partitions)],
                                          environment: ["GREENROOM_AMQP_URL": url], logPath: output)
            let status = await python.exited(within: 60)
            let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(status == 0, "\(printed)")
            #expect(printed.contains(#"\#(counter.address): {"count":1048} (reply)"#), "\(printed)")

            // Read back typed and as strings: 1000 + 3 + 40 + 5.
            #expect(try await client.ask(Counter.Get(), of: counter) == Counter.State(count: 1048))
            #expect(try await client.state(of: counter) == Counter.State(count: 1048))
            let asked = try await CommandRun.run("enqueue", ["ask", counter.address.description, "get"])
            #expect(asked.status == 0 && asked.stdout == "{\"count\":1048}\n", "\(asked)")
            let state = try await CommandRun.run("enqueue", ["state", "--json", counter.address.description])
            #expect(state.stdout == "{\"count\":1048}\n", "\(state)")
            // A typed ask after them all: the reply is the new state.
            #expect(try await client.ask(Counter.Add(by: 2), of: counter) == Counter.State(count: 1050))
        }
    }
}
