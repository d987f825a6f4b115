import Foundation
import Testing

/// `WorkerCommand.main(hosting:)` gives a program hosting any list of
/// behaviours worker's `--types`, and refuses what it cannot host before it
/// connects to anything (`test-worker` hosting, on request, a faulty list:
/// GREENROOM_TEST_FAULTY_HOSTING).
@Suite("Hosting your own behaviours: worker's --types for any list, and a faulty list refused at start", .timeLimit(.minutes(2)))
struct CustomWorkerHostingTests {
    @Test("two handlers for one kind: exit 1, one line naming both handlers and what to do")
    func conflictingHandlers() async throws {
        // A closed RabbitMQ port: the refusal must come before any connection.
        let run = try await CommandRun.run("test-worker", ["--amqp-url", "amqp://127.0.0.1:1"],
                                           environment: ["GREENROOM_TEST_FAULTY_HOSTING": "conflicting-handlers"], seconds: 30)
        #expect(run.status == 1, "\(run)")
        #expect(run.errorLines.count == 1, "\(run)")
        let line = run.errorLines.first ?? ""
        #expect(line.contains("actor type 'conflicted' cannot be hosted"), "\(run)")
        #expect(line.contains("kind 'add' is handled twice"), "\(run)")
        #expect(line.contains("AddOne") && line.contains("AddMany"), "both handlers named: \(run)")
        #expect(line.contains("give each message kind one handler"), "advice: \(run)")
    }

    @Test("two behaviours hosted under one type name: exit 1, one line naming it")
    func duplicateName() async throws {
        let run = try await CommandRun.run("test-worker", ["--amqp-url", "amqp://127.0.0.1:1"],
                                           environment: ["GREENROOM_TEST_FAULTY_HOSTING": "duplicate-name"], seconds: 30)
        #expect(run.status == 1, "\(run)")
        #expect(run.errorLines.count == 1, "\(run)")
        #expect(run.errorLines.first?.contains("more than one behaviour as 'counter'") == true, "\(run)")
    }

    @Test("--types defaults to every hosted type, and an unknown one is refused with the list")
    func typesOfTestWorker() async throws {
        let help = try await CommandRun.run("test-worker", ["--help"], seconds: 30)
        #expect(help.status == 0, "\(help)")
        #expect(help.words.contains("Hosted: account, counter, echo, lateness, probe, ticker, tree."), "\(help)")
        #expect(help.words.contains("(default: account,counter,echo,lateness,probe,ticker,tree)"), "\(help)")

        let unknown = try await CommandRun.run("test-worker", ["--types", "counter,tally"], seconds: 30)
        #expect(unknown.status == CommandRun.usageError, "\(unknown)")
        #expect(unknown.errorLines.first?.contains("unknown actor type 'tally'; this worker hosts account, counter, echo, lateness, probe, ticker, tree") == true,
                "\(unknown)")
    }
}

extension CommandRun {
    /// stdout with every run of whitespace made one space: help text as
    /// ArgumentParser wraps it, searchable for phrases.
    var words: String { stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
}
