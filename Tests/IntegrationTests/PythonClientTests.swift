import Foundation
import Testing
import Workers

/// docs/PROTOCOL.md's promise that any AMQP client can talk to actors, kept by
/// running examples/send.py. It needs Debian's python3-pika (scripts/test
/// installs it); without it this test fails — it is never skipped silently.
@Suite("docs/PROTOCOL.md is enough for another language", .timeLimit(.minutes(3)))
struct PythonClientTests {
    static let python = "/usr/bin/python3"

    @Test("examples/send.py (pika) spawns a counter, adds 5 and reads it back over direct reply-to")
    func pythonExample() async throws {
        let check = try ChildProcess(Self.python, ["-c", "import pika"])
        try #require(await check.exited(within: 30) == 0,
                     "\(Self.python) cannot import pika: install Debian's python3-pika (scripts/test does, with apt-get)")
        try await withFleet { fleet in
            let suffix = fleet.suffix
            let worker = try await fleet.startWorker("py")

            let output = fleet.logPath("python-output")
            let script = URL(fileURLWithPath: WorkerProcess.binary).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("examples/send.py").path
            // Without Greenroom's URL options (connection_timeout), which pika does not know.
            let url = String(TestServers.amqpURL.prefix { $0 != "?" })
            let python = try ChildProcess(Self.python, [script, "counter-\(suffix)/from-python", "4"],
                                          environment: ["GREENROOM_AMQP_URL": url], logPath: output)
            let status = await python.exited(within: 60)
            let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(status == 0, "\(printed)")
            #expect(printed.contains(#"counter-\#(suffix)/from-python: {"count":5} (reply)"#), "\(printed)")

            #expect(await worker.terminate(SIGTERM) == 0)
        }
    }
}
