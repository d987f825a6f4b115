import Foundation

/// One run of a built program (`enqueue`, `worker` in .build/debug) as a
/// child process: its exit status and what it printed on each stream.
struct CommandRun: Sendable, CustomStringConvertible {
    let command: String
    /// The exit status; nil if it did not end by itself within the limit.
    let status: Int32?
    let stdout: String
    let stderr: String

    /// ArgumentParser's exit status for usage errors (EX_USAGE).
    static let usageError: Int32 = 64

    /// The error lines on stderr: all of them, except ArgumentParser's
    /// usage text ("Help:", "Usage:" and what follows) after a usage error.
    var errorLines: [String] {
        let lines = stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let usage = lines.firstIndex { $0.hasPrefix("Usage:") || $0.hasPrefix("Help:") } ?? lines.endIndex
        return Array(lines[..<usage])
    }

    var description: String { "\(command) → exit \(status.map(String.init) ?? "none (killed)")\nstderr:\n\(stderr)stdout:\n\(stdout)" }

    /// The path of a program built beside the `worker` the tests use; an
    /// absolute path (a program of another package) as it is.
    static func binary(_ name: String) -> String {
        if name.hasPrefix("/") { return name }
        return URL(fileURLWithPath: WorkerProcess.binary).deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Runs `program` with `arguments`, with the test servers' URLs in its
    /// environment (plus `environment`), and waits at most `seconds`.
    static func run(_ program: String, _ arguments: [String], environment: [String: String] = [:], seconds: Double = 60) async throws -> CommandRun {
        let base = "/tmp/greenroom-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer {
            unlink(base + ".out")
            unlink(base + ".err")
        }
        let child = try ChildProcess(binary(program), arguments,
                                     environment: ["GREENROOM_AMQP_URL": TestServers.amqpURL, "GREENROOM_REDIS_URL": TestServers.redisURL]
                                        .merging(environment) { $1 },
                                     logPath: base + ".out", errorPath: base + ".err")
        let status = await child.exited(within: seconds)
        return CommandRun(command: ([program] + arguments).joined(separator: " "), status: status,
                          stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
                          stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
    }
}
