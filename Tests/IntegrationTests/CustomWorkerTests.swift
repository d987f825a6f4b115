import Broker
import Foundation
import Testing
import Workers

/// The example package users copy (examples/custom-worker), built as its own
/// package (scripts/test builds it before the suites run): its
/// `custom-worker` on the real servers, driven by `enqueue` as the README
/// shows.
@Suite("examples/custom-worker: a team's own worker, on the real servers", .timeLimit(.minutes(5)))
struct CustomWorkerTests {
    static let buildCommand = "swift build --package-path examples/custom-worker"

    /// examples/custom-worker/.build/debug/custom-worker in this checkout.
    static let binary: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent("examples/custom-worker/.build/debug/custom-worker").path
    }()

    /// The built `custom-worker`; a test fails, naming the command that builds it, when it is missing.
    static func builtBinary(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(FileManager.default.isExecutableFile(atPath: binary),
                     "examples/custom-worker is not built: \(binary) is missing; run `\(buildCommand)` (scripts/test does)",
                     sourceLocation: sourceLocation)
        return binary
    }

    @Test("send add {by: 2} --spawn, ask get, and `enqueue state --json` prints exactly {\"total\":2}")
    func tallyThroughEnqueue() async throws {
        let binary = try Self.builtBinary()
        var generator = SystemRandomNumberGenerator()
        // The worker's type suffix: this run's `tally` is `tally-<suffix>`,
        // shared with no other run, and deleted afterwards.
        let suffix = "c" + String(generator.next() as UInt32, radix: 36)
        let type = "tally-\(suffix)"
        let logPath = "/tmp/greenroom-test-\(suffix)-custom-worker.log"
        let worker = try ChildProcess(binary, [], environment: [
            "GREENROOM_AMQP_URL": TestServers.amqpURL, "GREENROOM_REDIS_URL": TestServers.redisURL,
            "GREENROOM_TYPE_SUFFIX": suffix, "GREENROOM_PARTITIONS": "2",
        ], logPath: logPath)
        let client = try await GreenroomClient.connect(
            amqp: try AMQPConfiguration(url: TestServers.amqpURL), redis: try RedisConfiguration(url: TestServers.redisURL))
        try await withCleanUp((worker, client), "cleanup of \(type)", cleanUp: { worker, client in
            await worker.terminate(SIGTERM)
            await client.close()
            try await RuntimeHarness.deleteEverything(of: [type])
            unlink(logPath)
        }) { worker, client in
            try await WorkerProcess.waitUntilServing(client, type: type)

            let send = try await CommandRun.run("enqueue", ["send", "\(type)/x", "add", #"{"by": 2}"#, "--spawn"])
            #expect(send.status == 0, "\(send)")
            let ask = try await CommandRun.run("enqueue", ["ask", "\(type)/x", "get"])
            #expect(ask.status == 0, "\(ask)")
            #expect(ask.stdout.contains(#"{"total":2}"#), "\(ask)")
            let state = try await CommandRun.run("enqueue", ["state", "\(type)/x", "--json"])
            #expect(state.status == 0, "\(state)")
            #expect(state.stdout == #"{"total":2}"# + "\n", "\(state)")

            // A graceful stop on SIGTERM, as `worker` does.
            let status = await worker.terminate(SIGTERM)
            #expect(status == 0, "custom-worker's log: \((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
        }
    }

    @Test("its command line is worker's, named after the program, hosting tally")
    func commandLine() async throws {
        let binary = try Self.builtBinary()
        let help = try await Self.run(binary, ["--help"])
        #expect(help.status == 0, "\(help)")
        #expect(help.words.contains("USAGE: custom-worker"), "\(help)")
        #expect(help.words.contains("Hosted: tally."), "\(help)")
        for flag in ["--amqp-url", "--redis-url", "--types", "--concurrency", "--partitions", "--max-crashes", "--turn-deadline",
                     "--drain-timeout", "--lease-ttl", "--require-durable-redis", "--log-level"] {
            #expect(help.words.contains(flag), "\(flag) missing from custom-worker --help")
        }

        let unknown = try await Self.run(binary, ["--types", "counter"])
        #expect(unknown.status == CommandRun.usageError, "\(unknown)")
        #expect(unknown.errorLines.count == 1, "\(unknown)")
        #expect(unknown.errorLines.first?.contains("unknown actor type 'counter'; this worker hosts tally") == true, "\(unknown)")

        let badEnvironment = try await Self.run(binary, [], environment: ["GREENROOM_CONCURRENCY": "lots"])
        #expect(badEnvironment.status == CommandRun.usageError, "\(badEnvironment)")
        #expect(badEnvironment.errorLines.first?.contains("GREENROOM_CONCURRENCY") == true, "\(badEnvironment)")

        let closed = try await Self.run(binary, ["--amqp-url", "amqp://127.0.0.1:1"])
        #expect(closed.status == 1, "\(closed)")
        #expect(closed.errorLines.count == 1, "\(closed)")
        #expect(closed.errorLines.first?.contains("try scripts/services up") == true, "one line with advice: \(closed)")
    }

    /// Runs the program at `path` (not one of the main package's).
    private static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> CommandRun {
        try await CommandRun.run(path, arguments, environment: environment, seconds: 30)
    }
}
