import ArgumentParser
import Workers

/// `enqueue reset-after-data-loss`: the explicit way to go on after Redis lost
/// a type's data (docs/RELIABILITY.md, "Storage durability"). Workers do not
/// consume such a type until its partitions carry the incarnation marker
/// again; this writes it, so they resume from an empty store. The type must
/// be named twice, so it is not typed by accident.
struct ResetAfterDataLoss: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset-after-data-loss",
        abstract: "Accept that Redis lost an actor type's data and let workers consume it again, from empty.",
        discussion: """
            Use only after Redis lost its data (restarted without its append-only file, flushed, disk lost) \
            and no backup can be restored: restoring Redis makes the workers resume with nothing lost. \
            After this, every actor of the type starts from nothing: counters from zero, and messages to \
            actors that no longer exist are dead-lettered.
            """)

    @OptionGroup var servers: ServerOptions
    @Argument(help: "The actor type whose data was lost.") var type: String
    @Option(help: "The type's partition count (the workers' --partitions).") var partitions: Int
    @Option(name: .customLong("confirm-data-loss"), help: "The type's name again, to confirm.") var confirmation: String
    @Flag(help: #"Print {"type": the type, "marked": partitions marked}."#) var json = false

    func validate() throws {
        guard confirmation == type else {
            throw ValidationError("--confirm-data-loss must repeat the type's name ('\(type)'): this starts '\(type)' from an empty store")
        }
        guard (1...4096).contains(partitions) else { throw ValidationError("--partitions must be from 1 to 4096, not \(partitions)") }
    }

    func run() async throws {
        let marked = try await withClient(servers) { client in
            try await client.resetAfterDataLoss(type: type, partitions: partitions)
        }
        if json {
            struct Reset: Encodable { var type: String, marked: Int }
            return print(try jsonText(Reset(type: type, marked: marked.count)))
        }
        if marked.isEmpty {
            print("\(type): every partition already carries the incarnation marker; nothing to reset")
        } else {
            print("\(type): marked \(marked.count) partitions; workers consume them from an empty store at their next heartbeat")
        }
    }
}
