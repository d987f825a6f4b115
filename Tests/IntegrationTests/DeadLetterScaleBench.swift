import Foundation
import Testing

/// How long `enqueue dead …` takes with 100,000 dead letters (the queue's
/// bound), measured, not asserted: run by hand, numbers into BENCHMARKS.md.
///
///     GREENROOM_BENCH_DEAD_LETTERS=1 swift test --filter DeadLetterScaleBench
///
/// On a RabbitMQ node of its own (filling the shared queue to its bound would
/// drop other tests' letters). Each command is a fresh `enqueue` process, so
/// the times include starting it and connecting; peak RSS from /usr/bin/time.
@Suite("Dead letters at scale: enqueue dead with 100,000 letters (a measurement)", .timeLimit(.minutes(15)),
       .enabled(if: ProcessInfo.processInfo.environment["GREENROOM_BENCH_DEAD_LETTERS"] != nil))
struct DeadLetterScaleBench {
    @Test("list, stats and purge timed against a full queue")
    func measure() async throws {
        let rabbit = try await ScratchRabbit.start()
        defer { rabbit.remove() }
        let late = 20
        let letters = (0..<(100_000 - late)).map { index in
            FakeDeadLetter(target: "t\(index % 10)/a\(index % 100)", id: "L\(index)",
                           reason: index % 4 == 0 ? "failed after 5 attempts: timeout talking to the payment service"
                               : "actor t\(index % 10)/a\(index % 100) does not exist (never spawned, or stopped)",
                           body: #"{"order":\#(index),"amount":12.5,"currency":"EUR"}"#)
        } + (0..<late).map { FakeDeadLetter(target: "late/x", id: "Z\($0)", reason: "failed after 5 attempts: late") }
        let fillStart = ContinuousClock.now
        try await publishDeadLetters(letters, amqpURL: rabbit.url)
        print("BENCH filled \(letters.count) letters in \(ContinuousClock.now - fillStart)")

        for arguments in [
            ["dead", "list", "--limit", "20", "--json"],
            ["dead", "list", "--type", "t3", "--limit", "20", "--json"],
            ["dead", "list", "--reason", "exhausted", "--limit", "20", "--json"],
            ["dead", "list", "--type", "late", "--limit", "20", "--json"],
            ["dead", "list", "--type", "nosuch", "--json"],
            ["dead", "stats"],
            ["dead", "purge", "--type", "late", "--yes", "--json"],
        ] {
            let start = ContinuousClock.now
            let run = try await CommandRun.run("/usr/bin/time", ["-f", "peak-rss-kb %M", CommandRun.binary("enqueue")] + arguments,
                                               environment: ["GREENROOM_AMQP_URL": rabbit.url], seconds: 600)
            let elapsed = ContinuousClock.now - start
            #expect(run.status == 0, "\(run)")
            let rss = run.stderr.split(separator: "\n").last { $0.hasPrefix("peak-rss-kb") } ?? "?"
            let lines = run.stdout.split(separator: "\n")
            print("BENCH enqueue \(arguments.joined(separator: " ")): \(elapsed), \(rss), \(lines.count) lines, first: \(lines.first?.prefix(100) ?? "")")
            // The next command finds every letter back in the queue.
            try await eventually(60, "every letter back") {
                let stats = try await CommandRun.run("enqueue", ["dead", "stats", "--json"], environment: ["GREENROOM_AMQP_URL": rabbit.url])
                return stats.stdout.contains(#""total":\#(arguments.contains("purge") ? 100_000 - late : 100_000)"#)
            }
        }
    }
}
