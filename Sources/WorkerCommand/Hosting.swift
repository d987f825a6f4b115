import CommandLineAdvice
import Foundation
import Synchronization
import Workers

extension WorkerCommand {
    /// Runs a worker program hosting `types`: the whole `worker` command line
    /// (every flag and `GREENROOM_*` variable, `--types` defaulting to every
    /// hosted type, signals, graceful shutdown, logging), with one line of
    /// advice and a non-zero exit on an error. A team's own executable is
    ///
    /// ```swift
    /// import WorkerCommand
    /// import Workers
    ///
    /// await WorkerCommand.main(hosting: [HostedType(Tally())])
    /// ```
    ///
    /// `hooks` builds the turn hooks from the environment when the worker
    /// starts; an error it throws is refused like a bad flag.
    public static func main(hosting types: [HostedType],
                            hooks: @escaping @Sendable () throws -> [any TurnHooks] = { [] }) async {
        hosting.withLock { $0 = Hosting(types: types, hooks: hooks) }
        await mainWithAdvice()
    }

    /// The behaviours `worker` hosts: counter, echo, account, tree, ticker
    /// (a reminder), and lateness (for the delays benchmark).
    public static var builtIns: [HostedType] {
        [HostedType(Counter()), HostedType(Echo()), HostedType(Account()), HostedType(Tree()), HostedType(Ticker()), HostedType(Lateness())]
    }

    /// What the command run next hosts. ArgumentParser makes the command
    /// from its type (its option defaults and help are static), so the list
    /// is handed over here, once, before parsing.
    static let hosting = Mutex(Hosting(types: builtIns, hooks: { [] }))

    struct Hosting: Sendable {
        var types: [HostedType]
        var hooks: @Sendable () throws -> [any TurnHooks]

        /// The hosted types by name (the first, if two share one: `run` refuses that).
        var byName: [String: HostedType] {
            Dictionary(types.map { ($0.typeName, $0) }) { first, _ in first }
        }

        /// Type names given to more than one hosted type.
        var duplicateNames: [String] {
            Dictionary(grouping: types.map(\.typeName)) { $0 }.filter { $0.value.count > 1 }.keys.sorted()
        }
    }
}

/// The program hosts two behaviours under one type name: it has to be built
/// differently (rename one, `HostedType(_:name:)`).
struct DuplicateHostedTypes: Error, CustomStringConvertible {
    let names: [String]

    var description: String {
        "this program hosts more than one behaviour as \(names.map { "'\($0)'" }.joined(separator: ", ")); "
            + "give each HostedType its own name (HostedType(_:name:))"
    }
}
