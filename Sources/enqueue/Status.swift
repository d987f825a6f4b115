import ArgumentParser
import Foundation
import Workers

/// `enqueue status`: live workers, partition owners, queue depths, dead letters.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show live workers, who owns each partition, queue depths and the dead-letter count.")

    @OptionGroup var servers: ServerOptions
    @Option(help: "Show partitions of this type only.") var type: String?
    @Option(name: .customLong("lease-ttl"),
            help: "How long a silent worker counts as live, in seconds (default: the lease TTL the workers wrote to Redis).")
    var leaseTTL: Double?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if let leaseTTL, !(leaseTTL > 0) { throw ValidationError("--lease-ttl must be positive, not \(leaseTTL)") }
    }

    func run() async throws {
        var status = try await withClient(servers) { client in
            // Only the type's partitions are inspected (each costs a round trip to both servers).
            try await client.status(leaseMilliseconds: leaseTTL.map { Int($0 * 1_000) }, types: type.map { [$0] })
        }
        if let type { status.partitions = status.partitions.filter { $0.type == type } }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
            return
        }
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        print("workers: \(status.workers.count) live (lease TTL \(Report.format(.milliseconds(status.leaseMilliseconds)))"
            + (leaseTTL == nil ? ")" : ", from --lease-ttl)"))
        for worker in status.workers {
            let seen = worker.info.lastSeenMilliseconds.map { "\(max(0, now - $0)) ms ago" } ?? "?"
            print("  \(worker.info.id)  host \(worker.info.host) pid \(worker.info.pid)  partitions \(worker.partitions)  "
                + "concurrency \(worker.info.concurrency)  types \(worker.info.types.joined(separator: ","))  seen \(seen)")
        }
        print("partitions:")
        for partition in status.partitions {
            let depth = partition.depth.map(String.init) ?? "no queue"
            print("  \(partition.queue.padding(toLength: 28, withPad: " ", startingAt: 0))  owner \(partition.owner ?? "-")  "
                + "depth \(depth)  consumers \(partition.consumers.map(String.init) ?? "-")")
        }
        print("dead letters: \(status.deadLetters)")
        print("incarnation: \(status.incarnation ?? "none (Redis holds no Greenroom data)")")
        for lost in status.typesWithoutData {
            print("DATA LOST: live workers host '\(lost)' but Redis has no record of it; they do not consume it. "
                + "Restore Redis from a backup, or see `enqueue reset-after-data-loss --help`")
        }
    }
}
