import Broker
import Foundation
import Testing
import Synchronization
import Workers

/// `withHarness` and `withFleet` leave nothing behind, even when the test fails.
@Suite("Cleanup runs when a test fails or is cancelled", .timeLimit(.minutes(3)))
struct CleanUpTests {
    struct Planned: Error {}

    /// True once the type's queues and Redis keys are gone.
    private static func deleted(_ address: ActorAddress) async throws -> Bool {
        let client = try await GreenroomClient.connect(
            amqp: try AMQPConfiguration(url: TestServers.amqpURL), redis: try RedisConfiguration(url: TestServers.redisURL))
        defer { Task { await client.close() } }
        do {
            _ = try await client.state(of: address)
            return false
        } catch is UnknownActorType {
            return true
        }
    }

    @Test("withHarness: the test's types are deleted after the body throws")
    func harnessAfterThrow() async throws {
        let counter = Captured<ActorAddress>()
        await #expect(throws: Planned.self) {
            try await withHarness { harness in
                counter.set(try await harness.client.spawn(type: harness.type("counter"), id: "c"))
                throw Planned()
            }
        }
        #expect(try await Self.deleted(try #require(counter.value)))
    }

    @Test("withHarness: cleanup still runs when the test is cancelled mid-body")
    func harnessAfterCancel() async throws {
        let counter = Captured<ActorAddress>()
        let (spawned, spawnedContinuation) = AsyncStream<Void>.makeStream()
        let test = Task {
            try await withHarness { harness in
                counter.set(try await harness.client.spawn(type: harness.type("counter"), id: "c"))
                spawnedContinuation.finish()
                try await Task.sleep(for: .seconds(600))
            }
        }
        for await _ in spawned {}
        test.cancel()
        await #expect(throws: CancellationError.self) { try await test.value }
        #expect(try await Self.deleted(try #require(counter.value)))
    }

    @Test("withFleet: a worker the test left running is stopped gracefully after the body throws")
    func fleetAfterThrow() async throws {
        let worker = Captured<ChildProcess>()
        await #expect(throws: Planned.self) {
            try await withFleet { fleet in
                worker.set(try await fleet.startWorker("left-running"))
                throw Planned()
            }
        }
        #expect(try #require(worker.value).exitStatus == 0)
    }
}

/// A value handed out of a closure that is not allowed to return it.
final class Captured<Value: Sendable>: Sendable {
    private let stored = Mutex<Value?>(nil)
    func set(_ value: Value) { stored.withLock { $0 = value } }
    var value: Value? { stored.withLock { $0 } }
}
