import Foundation
import Synchronization
import Testing

/// `enqueue dead purge` on a terminal (a pty from util-linux `script`):
/// it counts the matching letters and asks.
@Suite("enqueue dead purge asks on a terminal", .timeLimit(.minutes(3)))
struct DeadLetterPurgePromptTests {
    @Test("it shows the count and the filter; 'n' deletes nothing, 'y' deletes exactly those")
    func asks() async throws {
        var generator = SystemRandomNumberGenerator()
        let type = "ask-" + String(generator.next() as UInt32, radix: 36)
        let letters = (0..<2).map { FakeDeadLetter(target: "\(type)/a", id: "\(type)-\($0)", reason: "failed after 1 attempts: test") }
        try await publishDeadLetters(letters)
        let purge = { @Sendable (answer: String) async throws -> CommandRun in
            let command = "\(CommandRun.binary("enqueue")) dead purge --type \(type)"
            return try await CommandRun.run("/bin/sh", ["-c", "printf '\(answer)\\n' | script -qec '\(command)' /dev/null"])
        }
        // Another test's browse may hide a letter for a moment: wait until the count shown is both.
        try await eventually(30, "the prompt counting both letters, declined") {
            let declined = try await purge("n")
            #expect(declined.status == 0, "\(declined)")
            return declined.stdout.contains("purge 2 dead letters (type \(type))? [y/N]") && declined.stdout.contains("nothing purged")
        }
        let purged = Mutex(0)
        try await eventually(30, "both purged once confirmed") {
            let confirmed = try await purge("y")
            // The answer goes on after the prompt, on its line.
            let count = confirmed.stdout.firstMatch(of: /purged (\d+) dead letter/).flatMap { Int($0.1) } ?? 0
            return purged.withLock { $0 += count; return $0 } >= 2
        }
        #expect(purged.withLock { $0 } == 2)
    }
}
