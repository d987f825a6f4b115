import ArgumentParser
import Foundation
import Workers

/// `enqueue reminders`: an actor's timers and reminders.
struct Reminders: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List an actor's timers and reminders, or cancel a reminder.",
        subcommands: [List.self, Cancel.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an actor's timers and reminders: name, kind, period, next due time, message kind.",
            discussion: "enqueue reminders list counter/42   →   reminder  tick  every 2s  next 2026-12-01T10:00:02Z  sends tick")
        @OptionGroup var servers: ServerOptions
        @Argument(help: "Address, TYPE/ID.") var address: String
        @Flag(help: "Print a JSON array.") var json = false

        func validate() throws { _ = try parseAddress(address) }

        func run() async throws {
            let target = try parseAddress(address)
            let schedules = try await withClient(servers) { client in try await client.schedules(of: target) }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(schedules.map(ListedSchedule.init)), as: UTF8.self))
                return
            }
            if schedules.isEmpty { print("\(target) has no timers or reminders") }
            let now = Date()
            for schedule in schedules {
                let every = schedule.every.map { "every \(DelayText.format($0))" } ?? "once"
                let next = schedule.nextDue.map { due in
                    "next \(DelayText.iso8601(due)) (\(due > now ? "in " + DelayText.format(.milliseconds(Int64(due.timeIntervalSince(now) * 1_000))) : "due now"))"
                } ?? "firing now"
                print("\(schedule.kind.rawValue)  \(schedule.name)  \(every)  \(next)  sends \(schedule.messageKind ?? "?")")
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel an actor's reminder, in its turn order; says whether it had one.",
            discussion: "enqueue reminders cancel counter/42 tick   →   cancelled reminder 'tick' of counter/42")
        @OptionGroup var servers: ServerOptions
        @Argument(help: "Address, TYPE/ID.") var address: String
        @Argument(help: "The reminder's name.") var name: String
        @Option(help: "Seconds to wait for the actor to answer.") var timeout: Double = 10
        @Flag(help: #"Print {"cancelled": true|false}."#) var json = false

        func validate() throws {
            _ = try parseAddress(address)
            guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        }

        func run() async throws {
            let target = try parseAddress(address)
            let cancelled = try await withClient(servers) { client in
                try await client.cancelReminder(name, of: target, timeout: seconds(timeout))
            }
            if json { return print(#"{"cancelled":\#(cancelled)}"#) }
            print(cancelled ? "cancelled reminder '\(name)' of \(target)" : "\(target) has no reminder '\(name)'; nothing to cancel")
        }
    }
}

/// One element of `enqueue reminders list --json`.
struct ListedSchedule: Encodable {
    var name: String
    var kind: String
    /// A reminder's period in milliseconds; absent for a timer.
    var everyMilliseconds: Int64?
    /// ISO 8601, UTC; absent while a firing is in flight.
    var nextDue: String?
    var messageKind: String?
    var generation: String

    init(_ schedule: ScheduleInfo) {
        name = schedule.name
        kind = schedule.kind.rawValue
        everyMilliseconds = schedule.every.map { $0.components.seconds * 1_000 + $0.components.attoseconds / 1_000_000_000_000_000 }
        nextDue = schedule.nextDue.map(DelayText.iso8601)
        messageKind = schedule.messageKind
        generation = schedule.generation
    }
}
