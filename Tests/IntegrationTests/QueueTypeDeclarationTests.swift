import Broker
import CommandLineAdvice
import Testing
import Workers

/// Declaring partition queues of one type where they exist as the other, or
/// as quorum queues made without a leader locator (by an older Greenroom).
@Suite("Partition queues and their type", .timeLimit(.minutes(2)))
struct QueueTypeDeclarationTests {
    @Test("a queue that exists as the other type: a configuration error saying which --queue-type to give", arguments: [
        (QueueType.classic, QueueType.quorum), (.quorum, .classic),
    ])
    func otherType(existing: QueueType, asked: QueueType) async throws {
        let partition = PartitionID(type: TestServers.unique("qtype").replacingOccurrences(of: ".", with: "-"), index: 0)
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        try await Topology.declarePartition(partition, queueType: existing, on: channel)
        var refusal: (any Error)?
        do {
            try await Topology.declarePartition(partition, queueType: asked, on: channel)
        } catch {
            refusal = error
        }
        let cleanup = try await connection.openChannel()
        try await cleanup.deleteQueue(partition.queue)
        await connection.close()

        let error = try #require(refusal as? WorkerConfigurationError, "\(String(describing: refusal))")
        #expect(error.code == .queueTypeMismatch(queue: partition.queue, existing: existing, asked: asked))
        #expect(Advice.line(for: error).hasPrefix(
            "queue '\(partition.queue)' exists as a \(existing) queue, and this program declares its queues \(asked); "
                + "RabbitMQ cannot change the type of a queue — give --queue-type \(existing) (or GREENROOM_QUEUE_TYPE=\(existing))"),
            "\(Advice.line(for: error))")
    }

    @Test("a quorum queue made without a leader locator is used as it is, and the channel stays open")
    func olderQuorumQueue() async throws {
        let partition = PartitionID(type: TestServers.unique("qlocator").replacingOccurrences(of: ".", with: "-"), index: 0)
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        try await channel.declareQueue(partition.queue, durable: true, arguments: [
            "x-single-active-consumer": true, "x-dead-letter-exchange": .string(Topology.deadExchange), "x-queue-type": "quorum",
        ])
        var problem: (any Error)?
        do {
            try await Topology.declareShared(on: channel)
            try await Topology.declarePartition(partition, queueType: .quorum, on: channel)
            try await Topology.declarePartition(partition, queueType: .quorum, on: channel)
            #expect(try await channel.inspectQueue(partition.queue).messageCount == 0, "the channel is still open")
        } catch {
            problem = error
        }
        let cleanup = try await connection.openChannel()
        try await cleanup.deleteQueue(partition.queue)
        await connection.close()
        #expect(problem == nil, "\(String(describing: problem))")
    }

    @Test("the default type follows the URL: quorum for several nodes, classic for one")
    func defaultType() throws {
        #expect(QueueType.default(for: try AMQPConfiguration(url: "amqp://a,b,c/")) == .quorum)
        #expect(QueueType.default(for: try AMQPConfiguration(url: "amqp://a/")) == .classic)
        let runtime = WorkerRuntime.Configuration(amqp: try AMQPConfiguration(url: "amqp://a:1,b:2/"), types: [])
        #expect(runtime.queueType == .quorum)
        let asked = WorkerRuntime.Configuration(amqp: try AMQPConfiguration(url: "amqp://a:1,b:2/"), types: [], queueType: .classic)
        #expect(asked.queueType == .classic)
    }
}
