import Broker
import Foundation
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// RabbitMQ ending a partition's consumer — here by deleting its queue, as an
/// operator might; `consumer_timeout` or a policy change end it the same way.
@Suite("A partition whose consumer RabbitMQ ends is dropped and taken again", .serialized, .timeLimit(.minutes(5)))
struct ConsumerLossTests {
    @Test("a deleted partition queue: the worker drops that partition alone and takes it again (declaring the queue anew), instead of renewing a lease it no longer consumes")
    func deletedQueue() async throws {
        try await withFleet(partitions: 2) { fleet in
            let client = fleet.client
            let worker = try await fleet.startWorker("a", leaseSeconds: 2)
            let counterType = fleet.type("counter")
            let counter = try ActorAddress(type: counterType, id: id("gone", inPartition: 0, of: 2))
            try await client.send(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true)
            try await eventually(60, "the first add committed") { (try? await client.state(of: counter)) != nil }

            let queue = "greenroom.\(counterType).0"
            let connection = try await TestServers.amqp()
            defer { Task { await connection.close() } }
            _ = try await connection.openChannel().deleteQueue(queue)

            // The broker cancels the consumer; the worker drops the partition and,
            // at the next heartbeat, takes it again — declaring the queue anew.
            try await eventually(60, "\(queue) declared again and consumed") {
                try await RabbitControl.partitionQueues(of: [counterType]).contains { $0.name == queue && $0.consumers == 1 }
            }
            try await client.send(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8))
            let counts = try await waitForCounters(client, [counter], total: 2, seconds: 60)
            #expect(counts == [2])
            #expect(worker.poll() == nil, "the worker must stay up; log:\n\(fleet.log("a").suffix(2_000))")
            #expect(fleet.log("a").contains("RabbitMQ ended a partition's consumer"))
            #expect(!fleet.log("a").contains("lost a connection"), "only the one partition should have been dropped")
            #expect(await worker.terminate(SIGTERM) == 0)
        }
    }
}
