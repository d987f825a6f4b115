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

/// The worker processes one test started, so they can be killed whatever
/// happens to the test (frozen ones too: SIGKILL ends a stopped process).
final class StartedWorkers: Sendable {
    private let started = Mutex<[ChildProcess]>([])

    func add(_ worker: ChildProcess) -> ChildProcess {
        started.withLock { $0.append(worker) }
        return worker
    }

    /// SIGKILLs whatever is still running (a no-op for those already reaped).
    func killAll() async {
        for worker in started.withLock({ $0 }) { await worker.terminate(SIGKILL) }
    }
}

extension ProcessFleet {
    /// Runs `body` with a registry for the workers it starts; afterwards —
    /// passed or failed — kills any still running and deletes the fleet's
    /// queues, keys and dead letters.
    func run(_ body: (StartedWorkers) async throws -> Void) async throws {
        let workers = StartedWorkers()
        try await withCleanup({
            await workers.killAll()
            await client.close()
            try? await RuntimeHarness.deleteEverything(of: RuntimeHarness.typeNames(suffix: suffix))
        }) {
            try await body(workers)
        }
    }

    /// The worker id of a worker process (WorkerRuntime.defaultWorkerID: host-pid).
    func workerID(_ worker: ChildProcess) -> String { "\(RabbitControl.hostName())-\(worker.pid)" }

    /// The worker's log so far.
    func log(_ name: String) -> String { (try? String(contentsOfFile: logPath(name), encoding: .utf8)) ?? "" }
}

extension RuntimeHarness {
    /// Runs `body`, then cleans up (stops the worker, deletes the test's
    /// queues, keys and dead letters) whether it passed or failed.
    func run(_ body: () async throws -> Void) async throws {
        try await withCleanup({ try? await cleanUp() }, body)
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
    static func dedup(_ messageID: String, type: String, partition: Int) -> String { "gr:\(tag(type, partition)):d:\(messageID)" }
    static func epoch(_ type: String, _ partition: Int) -> String { "gr:\(tag(type, partition)):epoch" }
    static func lease(_ type: String, _ partition: Int) -> String { "gr:\(tag(type, partition)):lease" }
}
