import Broker
import Foundation
import Synchronization
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body`, then `cleanup` — whether `body` returned or threw.
func withCleanup<T: Sendable>(_ cleanup: () async -> Void, _ body: () async throws -> T) async throws -> T {
    do {
        let result = try await body()
        await cleanup()
        return result
    } catch {
        await cleanup()
        throw error
    }
}

extension ProcessFleet {
    /// Runs `body` with the registry of the workers it starts; afterwards —
    /// passed, failed or cancelled — stops any still running (frozen ones
    /// too) and deletes the fleet's queues, keys and dead letters.
    func run(_ body: (StartedWorkers) async throws -> Void) async throws {
        try await withCleanUp(self, "cleanup of fleet \(suffix)", seconds: 120, cleanUp: { try await $0.cleanUp() }) { fleet in
            try await body(fleet.started)
        }
    }

    /// The worker id of a worker process (WorkerRuntime.defaultWorkerID: host-pid).
    func workerID(_ worker: ChildProcess) -> String { "\(RabbitControl.hostName())-\(worker.pid)" }

    /// The worker's log so far.
    func log(_ name: String) -> String { (try? String(contentsOfFile: logPath(name), encoding: .utf8)) ?? "" }
}

extension RuntimeHarness {
    /// Runs `body`, then cleans up (stops the worker, deletes the test's
    /// queues, keys and dead letters) whether it passed, failed or was cancelled.
    func run(_ body: () async throws -> Void) async throws {
        try await withCleanUp(self, "cleanup of harness \(suffix)", cleanUp: { try await $0.cleanUp() }) { _ in try await body() }
    }
}

/// An id with `prefix` whose partition among `partitions` is `partition`.
func id(_ prefix: String, inPartition partition: Int, of partitions: Int) -> String {
    var index = 0
    while Partitioning.partition(of: "\(prefix)\(index)", partitions: partitions) != partition { index += 1 }
    return "\(prefix)\(index)"
}

/// The Redis keys of docs/PROTOCOL.md, for tests that read or write them directly.
enum Keys {
    static func tag(_ type: String, _ partition: Int) -> String { "{\(type).\(partition)}" }
    static func actor(_ address: ActorAddress, partitions: Int) -> String {
        "gr:\(tag(address.type, Partitioning.partition(of: address.id, partitions: partitions))):a:\(address.id)"
    }
    /// The partition's dedup record: a hash of message id → stored sends.
    static func dedup(type: String, partition: Int) -> String { "gr:\(tag(type, partition)):dedup" }
    static func epoch(_ type: String, _ partition: Int) -> String { "gr:\(tag(type, partition)):epoch" }
    static func lease(_ type: String, _ partition: Int) -> String { "gr:\(tag(type, partition)):lease" }
}
