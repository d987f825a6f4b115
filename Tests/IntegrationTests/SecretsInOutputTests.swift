import Foundation
import Testing

/// README/RELIABILITY: "no password appears in any output" — help texts
/// (whose defaults come from GREENROOM_*_URL), URL errors, connection errors
/// and the worker's log lines show `user:***@host`, for `enqueue` and
/// `worker` run as the built programs.
@Suite("No password appears in any output", .timeLimit(.minutes(5)))
struct SecretsInOutputTests {
    /// Distinctive pieces: a password split by an unescaped `/` or `?` must
    /// not leak either half.
    static let secret = "Sx7kQ2vW"
    static let otherHalf = "Mn4pR8zT"

    static func expectNoSecret(_ run: CommandRun, sourceLocation: SourceLocation = #_sourceLocation) {
        for piece in [secret, otherHalf] {
            #expect(!run.stdout.contains(piece), "a password in stdout: \(run)", sourceLocation: sourceLocation)
            #expect(!run.stderr.contains(piece), "a password in stderr: \(run)", sourceLocation: sourceLocation)
        }
    }

    static let secretEnvironment = [
        "GREENROOM_AMQP_URL": "amqp://guest:\(secret)@127.0.0.1:1/%2F",
        "GREENROOM_REDIS_URL": "redis://app:\(secret)@127.0.0.1:1/0",
    ]

    @Test("--help shows the URLs from the environment with the password masked", arguments: [
        ("worker", ["--help"]), ("enqueue", ["send", "--help"]), ("enqueue", ["doctor", "--help"]), ("enqueue", ["status", "--help"]),
        ("worker", ["--experimental-dump-help"]),
    ])
    func help(_ program: String, _ arguments: [String]) async throws {
        let run = try await CommandRun.run(program, arguments, environment: Self.secretEnvironment)
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("guest:***@127.0.0.1"), "the masked default is missing: \(run)")
        Self.expectNoSecret(run)
    }

    /// Malformed URLs holding a password, some split by the parser in the
    /// middle of it (an unescaped `/`, `?` or `%`).
    static let badURLs = [
        "amqp://guest:\(secret)@127.0.0.1:notaport/",
        "amqp://guest:\(secret)/\(otherHalf)@127.0.0.1/",
        "amqp://guest:\(secret)?\(otherHalf)@127.0.0.1/",
        "amqp://guest:\(secret)%zz\(otherHalf)@127.0.0.1/",
        "http://guest:\(secret)@127.0.0.1/",
        "guest:\(secret)@127.0.0.1:5672",
        "redis://:\(secret)/\(otherHalf)@127.0.0.1:6379",
        "redis://app:\(secret)?\(otherHalf)@127.0.0.1",
        "rediss://app:\(secret)@127.0.0.1",
    ]

    @Test("a malformed URL is quoted with its password masked", arguments: badURLs)
    func badURL(_ url: String) async throws {
        let flag = url.contains("redis") ? "--redis-url" : "--amqp-url"
        for (program, arguments) in [("enqueue", ["status", flag, url]), ("worker", [flag, url])] {
            let run = try await CommandRun.run(program, arguments)
            #expect(run.status != 0, "\(run)")
            #expect(run.stderr.contains("malformed URL"), "\(run)")
            Self.expectNoSecret(run)
        }
    }

    @Test("a refused password is not echoed by the error, from a flag or the environment")
    func refusedPassword() async throws {
        let amqpURL = "amqp://guest:\(Self.secret)@127.0.0.1:5672/%2F"
        let redisURL = "redis://:\(Self.secret)@127.0.0.1:6379/0"
        let runs = [
            try await CommandRun.run("enqueue", ["status", "--amqp-url", amqpURL]),
            try await CommandRun.run("enqueue", ["doctor", "--messages", "1"], environment: ["GREENROOM_REDIS_URL": redisURL]),
            try await CommandRun.run("enqueue", ["state", "counter/1", "--redis-url", redisURL]),
            try await CommandRun.run("worker", [], environment: ["GREENROOM_AMQP_URL": amqpURL]),
            try await CommandRun.run("worker", ["--redis-url", redisURL]),
        ]
        for run in runs {
            #expect(run.status != nil && run.status != 0, "\(run)")
            Self.expectNoSecret(run)
        }
    }

    @Test("a worker that connects with a password logs neither it nor the URL")
    func workerLog() async throws {
        let redis = try await ScratchRedis.start(password: Self.secret)
        defer { redis.stop() }
        let redisURL = "redis://:\(Self.secret)@127.0.0.1:\(redis.port)/0"
        var generator = SystemRandomNumberGenerator()
        let suffix = "s" + String(generator.next() as UInt32, radix: 36)
        let log = "/tmp/greenroom-test-\(suffix)-secrets.log"
        defer { unlink(log) }
        let worker = try ChildProcess(CommandRun.binary("worker"), [], environment: [
            "GREENROOM_AMQP_URL": TestServers.amqpURL, "GREENROOM_REDIS_URL": redisURL, "GREENROOM_TYPES": "counter",
            "GREENROOM_TYPE_SUFFIX": suffix, "GREENROOM_PARTITIONS": "1", "GREENROOM_LOG_LEVEL": "trace",
        ], logPath: log)
        try await withCleanUp(worker, "cleanup of \(suffix)", cleanUp: { worker in
            _ = await worker.terminate()
            try await RuntimeHarness.deleteEverything(of: ["counter-\(suffix)"], redisURL: redisURL)
        }) { worker in
            try await eventually(60, "the worker's 'worker started' line") {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                if let status = worker.poll() { throw WorkerExited(status: status, log: text) }
                return text.contains("worker started")
            }
            _ = await worker.terminate()
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("127.0.0.1:\(redis.port)"), "the endpoint should be logged: \(text)")
        #expect(!text.contains(Self.secret), "a password in the worker's log: \(text)")
    }
}

struct WorkerExited: Error, CustomStringConvertible {
    let status: Int32
    let log: String
    var description: String { "the worker exited with \(status):\n\(log)" }
}
