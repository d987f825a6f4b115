import Broker
import Foundation
import ServiceLifecycle
import Synchronization
import Testing
import Workers

/// `WorkerRuntime` is a swift-service-lifecycle `Service`: it runs beside
/// other services in one `ServiceGroup` and drains on graceful shutdown.
@Suite("The runtime as a Service in a ServiceGroup", .timeLimit(.minutes(3)))
struct ServiceGroupTests {
    final class Events: Sendable {
        let list = Mutex<[String]>([])
        func append(_ event: String) { list.withLock { $0.append(event) } }
        var all: [String] { list.withLock { $0 } }
    }

    /// Stands for an HTTP server: runs until graceful shutdown, and notes
    /// whether the worker was still consuming when it stopped.
    struct FrontDoor: Service {
        let runtime: WorkerRuntime
        let events: Events

        func run() async throws {
            try await gracefulShutdown()
            let consuming = !runtime.ownedPartitions.isEmpty
            events.append("front door stopped; worker still consuming: \(consuming)")
        }
    }

    @Test("a graceful shutdown stops the later service first, then drains the worker: every message sent before it is applied")
    func shutdownOrder() async throws {
        var generator = SystemRandomNumberGenerator()
        let suffix = "s" + String(generator.next() as UInt32, radix: 36)
        let type = "counter-\(suffix)"
        let amqp = try AMQPConfiguration(url: TestServers.amqpURL)
        let redis = try RedisConfiguration(url: TestServers.redisURL)
        let runtime = WorkerRuntime(configuration: .init(
            amqp: amqp, redis: redis, types: [HostedType(Counter(), name: type)], partitions: 2, workerID: "service-\(suffix)"))
        let events = Events()
        let group = ServiceGroup(configuration: .init(services: [runtime, FrontDoor(runtime: runtime, events: events)], logger: .init(label: "test")))
        let running = Task { try await group.run() }
        let client = try await GreenroomClient.connect(amqp: amqp, redis: redis)
        do {
            try await eventually(60, "the worker consuming") { runtime.ownedPartitions.count == 2 }
            let counter = try ActorAddress(type: type, id: "c")
            let adds = (0..<200).map { _ in GreenroomClient.Outgoing(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true) }
            try await client.send(adds)
            await group.triggerGracefulShutdown()
            try await within(60, "the group to finish") { try await running.value }

            #expect(events.all == ["front door stopped; worker still consuming: true"])
            #expect(runtime.ownedPartitions.isEmpty)
            #expect(await runtime.inFlight() == 0)
            // Whatever the worker had taken was finished; the rest waits in the queue, none lost.
            // The shutdown may come before the first add was taken: then the counter was never spawned.
            let stored = try await client.exists(counter) ? try await client.state(of: counter) : Array("{}".utf8)
            let applied = try JSONDecoder().decode([String: Int].self, from: Data(stored))["count"] ?? 0
            let queued = try await within(30, "queue depth") { try await client.status(types: [type]).partitions.filter { $0.type == type }.map { Int($0.depth ?? 0) }.reduce(0, +) }
            #expect(applied + queued == 200, "applied \(applied) + still queued \(queued)")
        } catch {
            running.cancel()
            throw error
        }
        await client.close()
        try await RuntimeHarness.deleteEverything(of: [type])
    }
}
