import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The helpers every other test waits with: none of them may outlive its deadline.
@Suite("Test helpers: every wait ends at its deadline or on cancellation", .timeLimit(.minutes(1)))
struct WaitHelperTests {
    /// A wait that ignores cancellation: a thread sleeping `seconds`.
    private static func uncancellable(_ seconds: UInt32) async {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                sleep(seconds)
                continuation.resume()
            }
        }
    }

    @Test("within throws TimedOut at its deadline even when the body ignores cancellation")
    func withinDeadline() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: TimedOut.self) {
            try await within(0.2, "a body that ignores cancellation") { await Self.uncancellable(120) }
        }
        // Far less than the body's 120 s (and than the 60 s deadline): it did not wait for the body.
        #expect(clock.now - start < .seconds(30))
    }

    @Test("within throws CancellationError as soon as its caller is cancelled")
    func withinCancelled() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let waiting = Task {
            try await within(60, "a body that ignores cancellation") { await Self.uncancellable(120) }
        }
        try await Task.sleep(for: .milliseconds(100))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        // Far less than the body's 120 s (and than the 60 s deadline): it did not wait for the body.
        #expect(clock.now - start < .seconds(30))
    }

    @Test("within returns the body's value, and rethrows its error")
    func withinPassesThrough() async throws {
        #expect(try await within(5, "a value") { 42 } == 42)
        await #expect(throws: SpawnFailed.self) {
            try await within(5, "an error") { throw SpawnFailed(path: "x", code: ENOENT) }
        }
    }

    @Test("a child that outlives its wait is SIGKILLed and reaped; nil says it did not end by itself")
    func childDeadline() async throws {
        let child = try ChildProcess("/bin/sleep", ["30"])
        let clock = ContinuousClock()
        let start = clock.now
        #expect(await child.exited(within: 0.2) == nil)
        #expect(clock.now - start < .seconds(20), "it waited for the child's 30 s")
        #expect(kill(child.pid, 0) == -1 && errno == ESRCH, "the child should be gone, not a zombie")
    }

    @Test("a cancelled wait for a child kills it")
    func childCancelled() async throws {
        let child = try ChildProcess("/bin/sleep", ["30"])
        let waiting = Task { await child.exited() }
        try await Task.sleep(for: .milliseconds(100))
        waiting.cancel()
        #expect(await waiting.value == nil)
        #expect(child.exitStatus == 128 + SIGKILL)
    }

    @Test("a child leading its own process group is killed with what it started")
    func childGroup() async throws {
        let pidFile = "/tmp/greenroom-test-\(getpid())-grandchild.pid"
        defer { unlink(pidFile) }
        let child = try ChildProcess("/bin/sh", ["-c", "sleep 30 & echo $! > \(pidFile).new; mv \(pidFile).new \(pidFile); wait"], ownGroup: true)
        try await eventually(10, "the grandchild's pid") { FileManager.default.fileExists(atPath: pidFile) }
        let grandchild = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await child.exited(within: 0.2) == nil)
        try await eventually(10, "the grandchild gone") {
            // Gone, or a zombie waiting for init to reap it: either way it runs no more.
            let stat = (try? String(contentsOfFile: "/proc/\(grandchild)/stat", encoding: .utf8)) ?? ""
            return stat.isEmpty || stat.contains(") Z ")
        }
    }

    @Test("terminate reaches a stopped child, and reports exit codes and signals")
    func childStatuses() async throws {
        let stopped = try ChildProcess("/bin/sleep", ["30"])
        kill(stopped.pid, SIGSTOP)
        #expect(await stopped.terminate(SIGTERM, within: 5) == 128 + SIGTERM)
        let failing = try ChildProcess("/bin/sh", ["-c", "exit 3"])
        #expect(await failing.exited(within: 5) == 3)
        let stubborn = try ChildProcess("/bin/sh", ["-c", "trap '' TERM; sleep 30"])
        try await Task.sleep(for: .milliseconds(200))  // let the shell install its trap
        #expect(await stubborn.terminate(SIGTERM, within: 0.3) == nil, "ignoring SIGTERM ends in SIGKILL")
    }
}
