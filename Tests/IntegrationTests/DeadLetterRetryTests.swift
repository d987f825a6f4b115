import Broker
import Foundation
import Testing
import Workers

/// A message refused on arrival whose dead letter cannot be published is
/// nacked back to its queue after a pause and tried again — not left
/// unacked on the worker's channel for good. On a scratch node: the test
/// removes `greenroom.dead`, which the shared node's other suites use.
@Suite("A dead letter that cannot be published is retried, not left unacked", .timeLimit(.minutes(3)))
struct DeadLetterRetryTests {
    @Test("with greenroom.dead gone the refused message goes back to its queue; once the queue is back it is dead-lettered")
    func retriedUntilPublishable() async throws {
        let rabbit = try await ScratchRabbit.start()
        defer { rabbit.remove() }
        var generator = SystemRandomNumberGenerator()
        let type = "counter-r" + String(generator.next() as UInt32, radix: 36)
        let amqp = try AMQPConfiguration(url: rabbit.url)
        let redis = try RedisConfiguration(url: TestServers.redisURL)
        let runtime = WorkerRuntime(configuration: .init(
            amqp: amqp, redis: redis, types: [HostedType(Counter(), name: type)], partitions: 1, workerID: "retry-\(type)"))
        try await runtime.start()
        let client = try await GreenroomClient.connect(amqp: amqp, redis: redis)
        do {
            let connection = try await AMQPConnection.connect(amqp)
            let channel = try await connection.openChannel()
            try await channel.enableConfirms()
            // Nothing behind the dead-letter exchange: every dead letter is unroutable.
            _ = try await channel.deleteQueue(Topology.deadQueue)
            let partition = PartitionID(type: type, index: 0)
            try await channel.publish(
                AMQPMessage("not json", properties: .init(
                    headers: [WireFormat.toHeader: .string("\(type)/c")], persistent: true, messageID: "bad-\(type)", type: "add")),
                exchange: Topology.actorsExchange, routingKey: partition.routingKey, mandatory: true)
            // Not a wait for a result: time for the refusal to fail and be handed back (0.5 s, then 1 s later again).
            try await Task.sleep(for: .seconds(2))
            try await channel.declareQueue(Topology.deadQueue, durable: true)
            try await channel.bindQueue(Topology.deadQueue, to: Topology.deadExchange, routingKey: "")
            try await eventually(30, "the dead letter published once greenroom.dead is back") {
                try await channel.inspectQueue(Topology.deadQueue).messageCount == 1
            }
            let rows = try await rabbit.ctl(["list_queues", "name", "messages"])
            #expect(rows.contains(partition.queue), "\(rows)")
            #expect(try await channel.inspectQueue(partition.queue).messageCount == 0)
            await connection.close()
        } catch {
            await runtime.shutdown()
            throw error
        }
        await runtime.shutdown()
        try await client.deleteType(type)
        await client.close()
    }
}
