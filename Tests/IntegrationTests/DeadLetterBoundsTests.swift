import Broker
import Foundation
import Testing
import Workers

/// `greenroom.dead` is bounded by length (the oldest dropped first) and age,
/// and a deployment whose queue was made without the bounds keeps working.
/// On a scratch node: the shared node's greenroom.dead serves other suites.
@Suite("greenroom.dead is bounded by length and age", .timeLimit(.minutes(3)))
struct DeadLetterBoundsTests {
    @Test("a new greenroom.dead keeps the newest N letters, carries the TTL; an unbounded one from before is used as it is")
    func boundedAndExisting() async throws {
        let rabbit = try await ScratchRabbit.start()
        defer { rabbit.remove() }
        let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: rabbit.url))
        let channel = try await connection.openChannel()
        try await channel.enableConfirms()
        #expect(try await Topology.declareShared(on: channel, deadLetterBounds: .init(maximumLength: 5, maximumAgeSeconds: 3_600)) == .asAsked)
        for index in 0..<8 {
            try await channel.publish(AMQPMessage(#"{"n":\#(index)}"#), exchange: Topology.deadExchange, routingKey: "")
        }
        #expect(try await channel.inspectQueue(Topology.deadQueue).messageCount == 5)
        let reader = try await connection.openChannel()
        let kept = try await take(5, from: try await reader.consume(queue: Topology.deadQueue, noAck: true))
        #expect(kept.map(\.text) == (3..<8).map { #"{"n":\#($0)}"# }, "the oldest were dropped")
        try await reader.close()
        let arguments = try await rabbit.ctl(["list_queues", "name", "arguments"])
        #expect(arguments.contains("x-message-ttl") && arguments.contains("3600000"), "\(arguments)")

        // Declared again with other bounds (or by an older Greenroom without any):
        // RabbitMQ refuses to change arguments, the queue is used as it is.
        #expect(try await Topology.declareShared(on: channel, deadLetterBounds: .init(maximumLength: 7)) == .otherBounds)
        try await channel.publish(AMQPMessage(#"{"n":8}"#), exchange: Topology.deadExchange, routingKey: "")
        #expect(try await channel.inspectQueue(Topology.deadQueue).messageCount == 1, "the channel still works")
        _ = try await channel.deleteQueue(Topology.deadQueue)
        try await channel.declareQueue(Topology.deadQueue, durable: true)
        #expect(try await Topology.declareShared(on: channel) == .otherBounds)
        await connection.close()
    }
}
