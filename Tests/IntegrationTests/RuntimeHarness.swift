import Foundation
import Broker
import GreenroomTestSupport
import Synchronization
import Workers

/// An in-process worker hosting the built-in behaviours under type names
/// unique to one test, plus a client, and cleanup of everything they made.
struct RuntimeHarness {
    let suffix: String
    let runtime: WorkerRuntime
    let client: GreenroomClient
    let typeNames: [String]
    let redisURL: String

    /// The unique type name standing for a built-in type in this test.
    func type(_ builtIn: String) -> String { "\(builtIn)-\(suffix)" }

    func address(_ builtIn: String, _ id: String) throws -> ActorAddress {
        try ActorAddress(type: type(builtIn), id: id)
    }

    static func start(partitions: Int = 4, concurrency: Int = 64, retry: RetryPolicy = RetryPolicy(attempts: 3, initialDelay: .milliseconds(10)),
                      redisURL: String = TestServers.redisURL) async throws -> RuntimeHarness {
        var generator = SystemRandomNumberGenerator()
        let suffix = "t" + String(generator.next() as UInt32, radix: 36)
        let types = [
            HostedType(Counter(), name: "counter-\(suffix)", retry: retry),
            HostedType(Echo(), name: "echo-\(suffix)", retry: retry),
            HostedType(Account(), name: "account-\(suffix)", retry: retry),
            HostedType(Tree(), name: "tree-\(suffix)", retry: retry),
            HostedType(Probe(), name: "probe-\(suffix)", retry: retry),
        ]
        let amqp = try AMQPConfiguration(url: TestServers.amqpURL)
        let redis = try RedisConfiguration(url: redisURL)
        let runtime = WorkerRuntime(configuration: .init(
            amqp: amqp, redis: redis, types: types, partitions: partitions, concurrency: concurrency, workerID: "test-\(suffix)"))
        try await runtime.start()
        let client: GreenroomClient
        do {
            client = try await GreenroomClient.connect(amqp: amqp, redis: redis)
        } catch {
            await runtime.shutdown()
            throw error
        }
        return RuntimeHarness(suffix: suffix, runtime: runtime, client: client, typeNames: types.map(\.typeName), redisURL: redisURL)
    }

    /// Stops the worker and deletes the test's queues and Redis keys. Prefer
    /// `withHarness`, which does this even when the test fails.
    func cleanUp() async throws {
        await runtime.shutdown()
        await client.close()
        try await Self.deleteEverything(of: typeNames, redisURL: redisURL)
    }

    /// The built-in type names under a test suffix.
    static func typeNames(suffix: String) -> [String] {
        ["counter", "echo", "account", "tree", "probe"].map { "\($0)-\(suffix)" }
    }

    /// Deletes the dead letters, partition queues and Redis keys of `typeNames`.
    static func deleteEverything(of typeNames: [String], redisURL: String = TestServers.redisURL) async throws {
        let client = try await GreenroomClient.connect(
            amqp: try AMQPConfiguration(url: TestServers.amqpURL), redis: try RedisConfiguration(url: redisURL))
        // Dead letters the test left (refused asks, …): take every one addressed to its types.
        let prefixes = typeNames.map { $0 + "/" }
        _ = try await client.takeDeadLetters(limit: scanEveryDeadLetter, timeout: .milliseconds(500)) { letter in
            prefixes.contains { letter.target?.hasPrefix($0) == true }
        }
        for type in typeNames { try await client.deleteType(type) }
        await client.close()
    }
}

/// Starts a harness, runs `body` with it, and cleans up — the worker
/// stopped, the test's queues and keys deleted — even when `body` throws
/// or the test is cancelled.
func withHarness<T>(partitions: Int = 4, concurrency: Int = 64, retry: RetryPolicy = RetryPolicy(attempts: 3, initialDelay: .milliseconds(10)),
                 redisURL: String = TestServers.redisURL, _ body: (RuntimeHarness) async throws -> T) async throws -> T {
    let harness = try await RuntimeHarness.start(partitions: partitions, concurrency: concurrency, retry: retry, redisURL: redisURL)
    return try await withCleanUp(harness, "cleanup of harness \(harness.suffix)", cleanUp: { try await $0.cleanUp() }, body)
}

extension RuntimeHarness {
    /// Waits until `count` dead letters for this test's actors are in the
    /// dead-letter queue, removes them and returns them.
    func takeDeadLetters(_ count: Int, seconds: Double = 60) async throws -> [DeadLetter] {
        let suffix = suffix
        let collected = Collected()
        try await eventually(seconds, "\(count) dead letters") {
            let batch = try await client.takeDeadLetters(limit: scanEveryDeadLetter, timeout: .milliseconds(300)) { letter in
                letter.target?.contains("-\(suffix)/") == true || letter.body.contains(suffix)
            }
            return await collected.add(batch) >= count
        }
        return await collected.all
    }
}

actor Collected {
    private(set) var all: [DeadLetter] = []
    private(set) var total = 0

    func add(_ letters: [DeadLetter]) -> Int {
        all += letters
        return all.count
    }

    func add(_ count: Int) -> Int {
        total += count
        return total
    }
}

/// Waits until every counter's committed count is `total` — or any passes it,
/// which would be a message applied twice, so there is no point waiting — and
/// returns the counts. On timeout the error says which counters fell short
/// and where they stood.
/// With `throwsOnTimeout` false, a timeout returns the counts last seen
/// (for a caller that judges them itself).
func waitForCounters(_ client: GreenroomClient, _ counters: [ActorAddress], total: Int, seconds: Double = 300,
                     throwsOnTimeout: Bool = true) async throws -> [Int] {
    let last = Mutex<[Int]?>(nil)
    do {
        return try await within(seconds, "every counter at \(total)") {
            while true {
                let counts = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                    for (index, counter) in counters.enumerated() {
                        group.addTask {
                            let state = try? await client.state(of: counter)
                            return (index, try state.map { try JSONDecoder().decode(Counter.State.self, from: Data($0)).count } ?? 0)
                        }
                    }
                    var counts = [Int](repeating: 0, count: counters.count)
                    for try await (index, count) in group { counts[index] = count }
                    return counts
                }
                last.withLock { $0 = counts }
                if counts.allSatisfy({ $0 == total }) || counts.contains(where: { $0 > total }) { return counts }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    } catch let timeout as TimedOut {
        guard let counts = last.withLock({ $0 }) else { throw timeout }
        if !throwsOnTimeout { return counts }
        let short = zip(counters, counts).filter { $0.1 != total }.map { "\($0.0.id)=\($0.1)" }
        throw TimedOut(what: "\(timeout.what); last seen: \(short.count) of \(counts.count) short (\(short.prefix(10).joined(separator: ", ")))",
                       seconds: timeout.seconds)
    }
}
