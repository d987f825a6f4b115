import Foundation
import Testing
import Workers

/// True when python3 can import pika (scripts/test installs it).
let pikaAvailable: Bool = {
    guard let python = try? ChildProcess("/usr/bin/env", ["python3", "-c", "import pika"]) else { return false }
    return python.waitForExit() == 0
}()

@Suite("docs/PROTOCOL.md is enough for another language", .enabled(if: pikaAvailable, "python3 with pika is needed (pip install pika)"))
struct PythonClientTests {
    @Test("examples/send.py (pika) spawns a counter, adds 5 and reads it back over direct reply-to")
    func pythonExample() async throws {
        let fleet = try await ProcessFleet.make()
        let suffix = fleet.suffix
        let worker = try await fleet.startWorker("py")

        let output = fleet.logPath("python-output")
        let script = URL(fileURLWithPath: WorkerProcess.binary).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/send.py").path
        let python = try ChildProcess("/usr/bin/env", ["python3", script, "counter-\(suffix)/from-python", "4"],
                                      environment: ["GREENROOM_AMQP_URL": TestServers.amqpURL], logPath: output)
        let status = try await within(60, "examples/send.py") { await python.exited() }
        let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(status == 0, "\(printed)")
        #expect(printed.contains(#"counter-\#(suffix)/from-python: {"count":5} (reply)"#), "\(printed)")

        #expect(try await fleet.finish(stopping: worker) == 0)
    }
}
