import Foundation
import Testing
import Workers

/// One bad invocation of `enqueue` or `worker`, and the words its error line
/// must contain (key words, not sentences: the wording may change).
struct BadCommand: Sendable, CustomTestStringConvertible {
    let program: String
    let arguments: [String]
    var environment: [String: String] = [:]
    let keywords: [String]

    var testDescription: String {
        (environment.map { "\($0.key)=\($0.value) " }.joined() + ([program] + arguments).joined(separator: " "))
    }

    static func enqueue(_ arguments: [String], _ keywords: [String]) -> BadCommand {
        BadCommand(program: "enqueue", arguments: arguments, keywords: keywords)
    }

    static func worker(_ arguments: [String], _ keywords: [String]) -> BadCommand {
        BadCommand(program: "worker", arguments: arguments, keywords: keywords)
    }

    static let closedAMQP = ["--amqp-url", "amqp://127.0.0.1:1"]
    static let closedRedis = ["--redis-url", "redis://127.0.0.1:1"]
    static let amqpClosed = ["connect", "RabbitMQ", "127.0.0.1:1"]
    static let redisClosed = ["connect", "Redis", "127.0.0.1:1"]
    /// A type no worker ever hosted.
    static let unknownType = "nosuch-" + String(UInt32.random(in: 0...UInt32.max), radix: 36)

    /// Every subcommand against a server that is not there.
    static let unreachable: [BadCommand] = [
        .enqueue(["send", "counter/1", "add"] + closedAMQP, amqpClosed),
        .enqueue(["send", "counter/1", "add"] + closedRedis, redisClosed),
        .enqueue(["ask", "counter/1", "get"] + closedAMQP, amqpClosed),
        .enqueue(["spawn", "counter", "1"] + closedRedis, redisClosed),
        .enqueue(["state", "counter/1"] + closedRedis, redisClosed),
        .enqueue(["stop", "counter/1"] + closedAMQP, amqpClosed),
        .enqueue(["find", "--type", "counter"] + closedRedis, redisClosed),
        .enqueue(["status"] + closedAMQP, amqpClosed),
        .enqueue(["dead", "list"] + closedAMQP, amqpClosed),
        .enqueue(["reminders", "list", "counter/1"] + closedRedis, redisClosed),
        .enqueue(["reminders", "cancel", "counter/1", "tick"] + closedAMQP, amqpClosed),
        .enqueue(["dead", "replay"] + closedRedis, redisClosed),
        .enqueue(["dead", "purge", "--yes"] + closedAMQP, amqpClosed),
        .enqueue(["dead", "stats"] + closedAMQP, amqpClosed),
        .enqueue(["doctor", "--messages", "10"] + closedAMQP, amqpClosed),
        .enqueue(["doctor", "--messages", "10"] + closedRedis, redisClosed),
        .enqueue(["bench", "--workers", "0", "--actors", "1", "--messages", "1"] + closedAMQP, amqpClosed),
        .worker(closedAMQP, amqpClosed),
        .worker(closedRedis, redisClosed),
    ]

    /// URLs that cannot be right.
    static let badURLs: [BadCommand] = [
        .enqueue(["send", "counter/1", "add", "--amqp-url", "http://127.0.0.1:5672"], ["scheme", "http"]),
        .enqueue(["status", "--redis-url", "mysql://127.0.0.1"], ["scheme", "mysql"]),
        .enqueue(["state", "counter/1", "--redis-url", "redis://127.0.0.1:notaport"], ["port", "notaport"]),
        .enqueue(["status", "--amqp-url", "amqp://"], ["host"]),
        .worker(["--amqp-url", "http://127.0.0.1:5672"], ["scheme", "http"]),
        .worker(["--redis-url", "mysql://127.0.0.1"], ["scheme", "mysql"]),
    ]

    /// Addresses and type names that break the naming rules.
    static let badAddresses: [BadCommand] = [
        .enqueue(["send", "no-slash", "add"], ["no-slash", "address"]),
        .enqueue(["ask", "bad address/1", "get"], ["bad address", "type"]),
        .enqueue(["state", "counter/"], ["counter/", "ID"]),
        .enqueue(["stop", "nope"], ["nope", "address"]),
        .enqueue(["spawn", "Counter", "1"], ["Counter", "type"]),
        .enqueue(["find", "--children", "nope"], ["nope", "address"]),
        .enqueue(["dead", "replay", "--type", "bad type"], ["bad type"]),
        .enqueue(["reminders", "list", "nope"], ["nope", "address"]),
        .enqueue(["reminders", "cancel", "counter/", "tick"], ["counter/", "ID"]),
    ]

    /// Well-formed addresses of a type no worker hosts.
    static let unknownTypes: [BadCommand] = [
        .enqueue(["send", "\(unknownType)/1", "add"], [unknownType, "unknown"]),
        .enqueue(["ask", "\(unknownType)/1", "get"], [unknownType, "unknown"]),
        .enqueue(["spawn", unknownType, "1"], [unknownType, "unknown"]),
        .enqueue(["state", "\(unknownType)/1"], [unknownType, "unknown"]),
        .enqueue(["stop", "\(unknownType)/1"], [unknownType, "unknown"]),
        .enqueue(["reminders", "list", "\(unknownType)/1"], [unknownType, "unknown"]),
        .enqueue(["reminders", "cancel", "\(unknownType)/1", "tick"], [unknownType, "unknown"]),
    ]

    /// Payloads and files that are not what they should be.
    static let badPayloads: [BadCommand] = [
        .enqueue(["send", "counter/1", "add", #"{"by":"#], ["JSON"]),
        .enqueue(["ask", "counter/1", "get", "{bad"], ["JSON"]),
        .enqueue(["spawn", "counter", "1", "--state", "{bad"], ["JSON"]),
        .enqueue(["send", "--file", "/nonexistent/messages.jsonl"], ["/nonexistent/messages.jsonl", "No such file"]),
    ]

    /// `--delay` and `--at` that cannot be right (docs/TIME.md): each says
    /// what is wrong, before connecting (CommandLineNothingSentTests: nothing sent).
    static let badTimes: [BadCommand] = [
        .enqueue(["send", "counter/1", "add", "--delay", "5x"], ["--delay", "'5x'", "unknown unit", "250ms, 5s"]),
        .enqueue(["send", "counter/1", "add", "--delay", "-5s"], ["--delay", "negative", "0s"]),
        .enqueue(["send", "counter/1", "add", "--delay=-5s"], ["--delay", "negative"]),
        .enqueue(["send", "counter/1", "add", "--delay", "5"], ["'5'", "no unit", "5s"]),
        .enqueue(["send", "counter/1", "add", "--delay", "1.5h"], ["whole numbers", "1h30m"]),
        .enqueue(["send", "counter/1", "add", "--delay", "400d"], ["400d", "maximum", "365 days"]),
        .enqueue(["send", "counter/1", "add", "--at", "2020-01-01T00:00:00Z"], ["2020-01-01T00:00:00Z", "in the past", "now is", "drop --at"]),
        .enqueue(["send", "counter/1", "add", "--at", "tomorrow"], ["tomorrow", "ISO 8601", "2026-12-01T10:00:00Z"]),
        .enqueue(["send", "counter/1", "add", "--at", "2099-01-01T00:00:00Z"], ["2099-01-01T00:00:00Z", "maximum", "365 days"]),
        .enqueue(["send", "counter/1", "add", "--delay", "5s", "--at", "2099-01-01T00:00:00Z"], ["--delay", "--at", "not both"]),
        .enqueue(["send", "--file", "-", "--delay", "5x"], ["--delay", "'5x'"]),
    ]

    /// Missing arguments and option values out of range.
    static let badOptions: [BadCommand] = [
        .enqueue(["send"], ["ADDRESS", "KIND", "--file"]),
        .enqueue(["send", "counter/1", "add", "--file", "-"], ["--file"]),
        .enqueue(["ask", "counter/1"], ["missing", "kind"]),
        .enqueue(["spawn"], ["missing", "type"]),
        .enqueue(["find"], ["--type", "--children", "--exists"]),
        .enqueue(["ask", "counter/1", "get", "--timeout=0"], ["--timeout"]),
        .enqueue(["doctor", "--messages", "0"], ["--messages", "0"]),
        .enqueue(["bench", "--actors", "0"], ["--actors"]),
        .enqueue(["bench", "--delays", "--workers", "0"], ["--delays", "--workers"]),
        .enqueue(["bench", "--delays", "--drain"], ["--drain", "--delays"]),
        .enqueue(["dead", "list", "--limit", "many"], ["many", "--limit"]),
        .enqueue(["frobnicate"], ["frobnicate"]),
        .enqueue(["reminders", "cancel", "counter/1"], ["missing", "name"]),
        .worker(["--partitions", "0"] + closedAMQP, ["--partitions", "0"]),
        .worker(["--partitions=-3"] + closedAMQP, ["--partitions", "-3"]),
        .worker(["--partitions", "5000"] + closedAMQP, ["--partitions", "5000"]),
        .worker(["--partitions", "many"], ["many", "--partitions"]),
        .worker(["--types", "counter,nosuch"], ["nosuch"]),
        .worker(["--concurrency", "0"], ["--concurrency"]),
        .worker(["--lease-ttl", "1", "--heartbeat", "1"], ["--lease-ttl", "--heartbeat"]),
        .worker(["--log-level", "loud"], ["--log-level", "loud"]),
    ]
}

/// README: "A bad address, an unknown actor, an unreachable server or a
/// timeout is one line on stderr and a non-zero exit" — for `enqueue` and
/// for `worker`, run as the built programs.
@Suite("The command lines fail with one line that says why, and a non-zero exit", .timeLimit(.minutes(5)))
struct CommandLineErrorTests {
    private static func expectOneLine(_ bad: BadCommand, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let run = try await CommandRun.run(bad.program, bad.arguments, environment: bad.environment)
        #expect(run.status != nil, "did not end by itself: \(run)", sourceLocation: sourceLocation)
        #expect(run.status != 0, "\(run)", sourceLocation: sourceLocation)
        #expect(run.errorLines.count == 1, "one error line expected: \(run)", sourceLocation: sourceLocation)
        let line = run.errorLines.first?.lowercased() ?? ""
        for word in bad.keywords {
            #expect(line.contains(word.lowercased()), "'\(word)' missing from the error: \(run)", sourceLocation: sourceLocation)
        }
    }

    @Test("an unreachable server", arguments: BadCommand.unreachable)
    func unreachable(_ bad: BadCommand) async throws { try await Self.expectOneLine(bad) }

    @Test("a malformed server URL", arguments: BadCommand.badURLs)
    func badURL(_ bad: BadCommand) async throws { try await Self.expectOneLine(bad) }

    @Test("a malformed address or type name", arguments: BadCommand.badAddresses)
    func badAddress(_ bad: BadCommand) async throws { try await Self.expectOneLine(bad) }

    @Test("an actor type no worker hosts", arguments: BadCommand.unknownTypes)
    func unknownType(_ bad: BadCommand) async throws { try await Self.expectOneLine(bad) }

    @Test("a payload that is not JSON, a file that is not there", arguments: BadCommand.badPayloads)
    func badPayload(_ bad: BadCommand) async throws { try await Self.expectOneLine(bad) }

    @Test("a delay or time to send at that cannot be right", arguments: BadCommand.badTimes)
    func badTime(_ bad: BadCommand) async throws { try await Self.expectOneLine(bad) }

    @Test("a missing argument or an option out of range", arguments: BadCommand.badOptions)
    func badOption(_ bad: BadCommand) async throws { try await Self.expectOneLine(bad) }

    @Test("a malformed GREENROOM_* value is refused like the flag it stands for, not silently replaced by the default")
    func badEnvironment() async throws {
        var bad = BadCommand.worker(BadCommand.closedAMQP, ["GREENROOM_PARTITIONS", "many"])
        bad.environment = ["GREENROOM_PARTITIONS": "many"]
        try await Self.expectOneLine(bad)
    }
}
