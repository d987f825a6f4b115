import Broker
import Foundation
import Synchronization
import Workers

/// One test's fleet of real worker processes: a type suffix, a client, the
/// workers it started, and cleanup of everything the test made.
struct ProcessFleet: Sendable {
    let suffix: String
    let client: GreenroomClient
    var partitions = 4
    /// Every worker `startWorker` started, so cleanup can stop the ones the
    /// test did not.
    let started = StartedWorkers()

    static func make(partitions: Int = 4) async throws -> ProcessFleet {
        var generator = SystemRandomNumberGenerator()
        let suffix = "p" + String(generator.next() as UInt32, radix: 36)
        let client = try await GreenroomClient.connect(
            amqp: try AMQPConfiguration(url: TestServers.amqpURL), redis: try RedisConfiguration(url: TestServers.redisURL))
        return ProcessFleet(suffix: suffix, client: client, partitions: partitions)
    }

    /// The built-in `type` under this fleet's suffix.
    func type(_ builtIn: String) -> String { "\(builtIn)-\(suffix)" }

    func logPath(_ name: String) -> String { "/tmp/greenroom-test-\(suffix)-\(name).log" }

    /// Starts a worker named `name` (its log: `logPath(name)`) and waits until it serves.
    func startWorker(_ name: String, fault: String? = nil, leaseSeconds: Double? = nil,
                     environment: [String: String] = [:]) async throws -> ChildProcess {
        let worker = try WorkerProcess.start(suffix: suffix, partitions: partitions, fault: fault, leaseSeconds: leaseSeconds,
                                             logPath: logPath(name), environment: environment)
        started.add(worker)
        try await WorkerProcess.waitUntilServing(client, type: type("probe"))
        return worker
    }

    /// How many of `type`'s partitions have a lease holder, and how many
    /// distinct holders there are.
    func ownership(of builtIn: String) async throws -> (owned: Int, owners: Set<String>) {
        let status = try await client.status(types: [type(builtIn)])
        let partitions = status.partitions.filter { $0.type == type(builtIn) }
        let owners = partitions.compactMap(\.owner)
        return (owners.count, Set(owners))
    }

    /// Stops `worker` with SIGTERM, returning its exit status, and deletes
    /// the fleet's queues, keys and dead letters.
    func finish(stopping worker: ChildProcess) async throws -> Int32? {
        try await finish(stopping: [worker]).first ?? nil
    }

    func finish(stopping workers: [ChildProcess]) async throws -> [Int32?] {
        var statuses: [Int32?] = []
        for worker in workers { statuses.append(await worker.terminate(SIGTERM)) }
        try await cleanUp()
        return statuses
    }

    /// Stops every worker still running (SIGTERM, SIGKILL after 30 s), closes
    /// the client and deletes the fleet's queues, keys and dead letters.
    /// Idempotent. Prefer `withFleet`, which does this even when the test fails.
    func cleanUp() async throws {
        for worker in started.all where worker.poll() == nil {
            await worker.terminate(SIGTERM)
        }
        await client.close()
        try await RuntimeHarness.deleteEverything(of: RuntimeHarness.typeNames(suffix: suffix))
    }
}

/// Makes a fleet, runs `body` with it, and cleans up — workers stopped, queues
/// and keys deleted — even when `body` throws or the test is cancelled.
func withFleet<T>(partitions: Int = 4, _ body: (ProcessFleet) async throws -> T) async throws -> T {
    let fleet = try await ProcessFleet.make(partitions: partitions)
    return try await withCleanUp(fleet, "cleanup of fleet \(fleet.suffix)", seconds: 120, cleanUp: { try await $0.cleanUp() }, body)
}

/// The worker processes a fleet started.
final class StartedWorkers: Sendable {
    private let workers = Mutex<[ChildProcess]>([])

    @discardableResult
    func add(_ worker: ChildProcess) -> ChildProcess {
        workers.withLock { $0.append(worker) }
        return worker
    }

    var all: [ChildProcess] { workers.withLock { $0 } }
}
