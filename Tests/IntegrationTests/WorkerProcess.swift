import Broker
import Foundation
import Workers

/// A real `worker` process hosting the built-ins under a test's type suffix.
enum WorkerProcess {
    static let binary: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/worker").path
    }()

    static func start(suffix: String, partitions: Int = 4, fault: String? = nil, leaseSeconds: Double? = nil, logPath: String) throws -> ChildProcess {
        var environment = [
            "GREENROOM_AMQP_URL": TestServers.amqpURL, "GREENROOM_REDIS_URL": TestServers.redisURL,
            "GREENROOM_TYPE_SUFFIX": suffix, "GREENROOM_PARTITIONS": "\(partitions)", "GREENROOM_LOG_LEVEL": "info",
        ]
        if let fault { environment["GREENROOM_FAULT"] = fault }
        if let leaseSeconds {
            environment["GREENROOM_LEASE_TTL"] = "\(leaseSeconds)"
            environment["GREENROOM_HEARTBEAT"] = "\(leaseSeconds / 6)"
        }
        return try ChildProcess(binary, [], environment: environment, logPath: logPath)
    }

    /// Waits until a worker answers for `type` (by spawning an actor there).
    static func waitUntilServing(_ client: GreenroomClient, type: String, seconds: Double = 60) async throws {
        try await eventually(seconds, "a worker serving \(type)") {
            do {
                try await client.spawn(type: type, id: "ready-probe", timeout: .seconds(2))
                return true
            } catch is UnknownActorType {
                return false
            } catch let error as AMQPError where error.code == .unroutable {
                return false
            } catch is AskTimedOut {
                return false
            } catch is AskFailed {
                return true  // refused ("already exists") means a worker answered
            }
        }
    }
}

/// One test's fleet of real worker processes: a type suffix, a client, and
/// cleanup of everything the test made.
struct ProcessFleet {
    let suffix: String
    let client: GreenroomClient
    var partitions = 4

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
    func startWorker(_ name: String, fault: String? = nil, leaseSeconds: Double? = nil) async throws -> ChildProcess {
        let worker = try WorkerProcess.start(suffix: suffix, partitions: partitions, fault: fault, leaseSeconds: leaseSeconds, logPath: logPath(name))
        try await WorkerProcess.waitUntilServing(client, type: type("probe"))
        return worker
    }

    /// How many of `type`'s partitions have a lease holder, and how many
    /// distinct holders there are.
    func ownership(of builtIn: String) async throws -> (owned: Int, owners: Set<String>) {
        let status = try await client.status()
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
        await client.close()
        try await RuntimeHarness.deleteEverything(of: RuntimeHarness.typeNames(suffix: suffix))
        return statuses
    }
}
