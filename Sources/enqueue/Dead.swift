import ArgumentParser
import Foundation
import Workers

/// `enqueue dead`: the dead-letter queue.
struct Dead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, replay or purge dead letters.",
        subcommands: [List.self, Replay.self, Purge.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show dead letters (they stay in the queue).")
        @OptionGroup var servers: ServerOptions
        @Option(help: "At most this many.") var limit: Int = 20
        @Flag(help: "Print JSON lines.") var json = false

        func run() async throws {
            let letters = try await withClient(servers) { client in try await client.deadLetters(limit: limit) }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                for letter in letters { print(String(decoding: try encoder.encode(letter), as: UTF8.self)) }
                return
            }
            if letters.isEmpty { print("no dead letters") }
            for letter in letters {
                print("\(letter.target ?? "<no target>")  \(letter.kind ?? "?")  id=\(letter.messageID ?? "?")  attempts=\(letter.attempts)")
                print("  why:  \(letter.reason)")
                print("  body: \(letter.body.prefix(200))")
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead letters back to their actors (same message id; fix the cause first).")
        @OptionGroup var servers: ServerOptions
        @Option(help: "Look at most at this many.") var limit: Int = 100
        @Option(help: "Only those addressed to this actor type.") var type: String?

        func validate() throws {
            if let type { try ActorAddress.validate(type: type) }
        }

        func run() async throws {
            let prefix = type.map { $0 + "/" }
            let count = try await withClient(servers) { client in
                try await client.replayDeadLetters(limit: limit) { letter in
                    prefix.map { letter.target?.hasPrefix($0) == true } ?? true
                }
            }
            print("replayed \(count) dead letter\(count == 1 ? "" : "s")")
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete every dead letter.")
        @OptionGroup var servers: ServerOptions

        func run() async throws {
            let count = try await withClient(servers) { client in try await client.purgeDeadLetters() }
            print("purged \(count) dead letter\(count == 1 ? "" : "s")")
        }
    }
}
