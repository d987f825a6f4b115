import ArgumentParser
import Foundation
import Workers

/// `enqueue dead`: the dead-letter queue.
struct Dead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count, list, replay or purge dead letters.",
        discussion: """
            After an incident: `dead stats` (what is there, by type and reason), `dead list --reason exhausted` \
            (look at some), fix the cause, `dead replay --reason exhausted --limit 100000`, then \
            `dead purge --type T` for what should not run again. Filters combine; every letter is looked at, \
            and the ones not taken stay in the queue, in order.
            """,
        subcommands: [List.self, Stats.self, Replay.self, Purge.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show dead letters that pass the filters (they stay in the queue).",
            discussion: "enqueue dead list --type counter --reason exhausted --limit 5")
        @OptionGroup var servers: ServerOptions
        @OptionGroup var filter: DeadLetterFilterOptions
        @Option(help: "At most this many (the scan stops at the last one).") var limit: Int = 20
        @Flag(help: "Print one JSON object per letter, one per line.") var json = false

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be positive, not \(limit)") }
        }

        func run() async throws {
            let progress = ScanProgressLine("looked at")
            let letters = try await withClient(servers) { client in
                try await client.deadLetters(matching: filter.filter, limit: limit, progress: progress.update)
            }
            progress.finish()
            if json {
                for letter in letters { print(try jsonText(ListedDeadLetter(letter))) }
                return
            }
            if letters.isEmpty { print("no dead letters" + (filter.filter.isEmpty ? "" : " match \(filter.summary)")) }
            for letter in letters {
                print("\(letter.target ?? "<no target>")  \(letter.kind ?? "?")  id=\(letter.messageID ?? "?")  attempts=\(letter.attempts)  "
                    + "class=\(letter.reasonClass.rawValue)")
                print("  why:  \(letter.reason)")
                print("  body: \(letter.body.prefix(200))")
            }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count every dead letter by actor type and reason class, with an example reason of each.")
        @OptionGroup var servers: ServerOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let progress = ScanProgressLine("counted")
            let stats = try await withClient(servers) { client in try await client.deadLetterStats(progress: progress.update) }
            progress.finish()
            if json {
                print(try jsonText(stats))
                return
            }
            print("\(stats.total.formattedWithSeparators) dead letter\(stats.total == 1 ? "" : "s")")
            guard !stats.groups.isEmpty else { return }
            let typeWidth = max(4, stats.groups.map { ($0.type ?? "-").count }.max() ?? 0)
            let countWidth = max(5, stats.groups.map { $0.count.formattedWithSeparators.count }.max() ?? 0)
            let classWidth = DeadLetterClass.allCases.map(\.rawValue.count).max() ?? 0
            print("\(pad("count", countWidth, right: true))  \(pad("type", typeWidth))  \(pad("class", classWidth))  example reason")
            for group in stats.groups {
                let count = pad(group.count.formattedWithSeparators, countWidth, right: true)
                let type = pad(group.type ?? "-", typeWidth)
                let reasonClass = pad(group.reasonClass.rawValue, classWidth)
                print("\(count)  \(type)  \(reasonClass)  \(group.example.prefix(120))")
            }
        }

        private func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, width - text.count))
            return right ? fill + text : text + fill
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead letters that pass the filters back to their actors (same message id; fix the cause first).",
            discussion: """
                Each letter leaves the queue only once RabbitMQ confirmed its copy: an interrupted replay \
                loses nothing. Letters without a valid target stay.
                """)
        @OptionGroup var servers: ServerOptions
        @OptionGroup var filter: DeadLetterFilterOptions
        @Option(help: "At most this many.") var limit: Int = 100
        @Flag(help: "Print the count as JSON.") var json = false

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be positive, not \(limit)") }
        }

        func run() async throws {
            let progress = ScanProgressLine("looked at")
            let count = try await withClient(servers) { client in
                try await client.replayDeadLetters(matching: filter.filter, limit: limit, progress: progress.update)
            }
            progress.finish()
            print(json ? #"{"replayed":\#(count)}"# : "replayed \(count) dead letter\(count == 1 ? "" : "s")")
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the dead letters that pass the filters (every one without filters), after confirmation.",
            discussion: """
                On a terminal it counts them first and asks; elsewhere (a script, a pipe) it deletes nothing \
                unless given --yes.
                """)
        @OptionGroup var servers: ServerOptions
        @OptionGroup var filter: DeadLetterFilterOptions
        @Flag(help: "Delete without asking.") var yes = false
        @Flag(help: "Print the count as JSON.") var json = false

        func run() async throws {
            let confirmed = yes
            if !confirmed, isatty(0) == 0 {
                throw PurgeNotConfirmed(filter: filter.summary)
            }
            let count: Int? = try await withClient(servers) { client in
                if !confirmed {
                    let progress = ScanProgressLine("counted")
                    let matching = try await client.deadLetterCount(matching: filter.filter, progress: progress.update)
                    progress.finish()
                    guard matching > 0 else { return 0 }
                    FileHandle.standardError.write(Data("purge \(matching) dead letter\(matching == 1 ? "" : "s") (\(filter.summary))? [y/N] ".utf8))
                    guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased().trimmingCharacters(in: .whitespaces)) else {
                        return nil
                    }
                }
                let progress = ScanProgressLine("looked at")
                defer { progress.finish() }
                return try await client.purgeDeadLetters(matching: filter.filter, progress: progress.update)
            }
            guard let count else {
                print(json ? #"{"purged":0}"# : "nothing purged")
                return
            }
            print(json ? #"{"purged":\#(count)}"# : "purged \(count) dead letter\(count == 1 ? "" : "s")")
        }
    }
}

/// `--type`, `--reason` and `--id`: which dead letters a command applies to.
struct DeadLetterFilterOptions: ParsableArguments {
    @Option(help: "Only letters addressed to this actor type.") var type: String?
    @Option(help: .init("Only letters whose reason contains this text (case-insensitive), or of this reason class: "
        + DeadLetterClass.allCases.map(\.rawValue).joined(separator: ", ") + ".", valueName: "text|class"))
    var reason: String?
    @Option(help: "Only the letter with this message id.") var id: String?

    func validate() throws {
        if let type { try ActorAddress.validate(type: type) }
        if reason?.isEmpty == true { throw ValidationError("--reason must not be empty") }
    }

    var filter: DeadLetterFilter { DeadLetterFilter(type: type, reason: reason, id: id) }

    /// The filter in words, for messages: "type counter, reason 'exhausted'" or "all".
    var summary: String {
        let parts = [type.map { "type \($0)" }, reason.map { "reason '\($0)'" }, id.map { "id \($0)" }].compactMap { $0 }
        return parts.isEmpty ? "all" : parts.joined(separator: ", ")
    }
}

/// One element of `enqueue dead list --json`: the letter and its reason class.
struct ListedDeadLetter: Encodable {
    let letter: DeadLetter

    init(_ letter: DeadLetter) {
        self.letter = letter
    }

    func encode(to encoder: any Encoder) throws {
        try letter.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(letter.reasonClass, forKey: .reasonClass)
    }

    private enum Key: String, CodingKey { case reasonClass }
}

/// `dead purge` without --yes where nobody can answer: nothing was deleted.
struct PurgeNotConfirmed: Error, CustomStringConvertible {
    let filter: String
    var description: String {
        "refusing to purge dead letters (\(filter)) without confirmation: standard input is not a terminal; "
            + "nothing was deleted — pass --yes to purge them"
    }
}

/// `value` as one line of JSON, keys sorted.
func jsonText<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
