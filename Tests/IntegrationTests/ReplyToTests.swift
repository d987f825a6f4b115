import Broker
import Foundation
import Testing
import Workers

/// Replies go only to RabbitMQ's direct reply-to (`amq.rabbitmq.reply-to…`),
/// which Greenroom's clients use: any other `reply_to` is ignored, so no
/// sender can make a worker write into a queue of its choosing.
@Suite("reply_to is honoured only for direct reply-to", .timeLimit(.minutes(2)))
struct ReplyToTests {
    @Test("an echo, and a refused message, with reply_to naming another queue write nothing into it")
    func otherQueueIgnored() async throws {
        try await withHarness { harness in
            let echo = try await harness.client.spawn(type: harness.type("echo"), id: "e")
            let amqp = try await TestServers.amqp()
            let channel = try await amqp.openChannel()
            try await channel.enableConfirms()
            // Exclusive: RabbitMQ deletes it when this connection closes.
            let victim = TestServers.unique("victim")
            try await channel.declareQueue(victim, durable: false, exclusive: true)
            let partitions = harness.runtime.configuration.partitions
            func ping(_ target: ActorAddress, id: String) async throws {
                try await channel.publish(
                    AMQPMessage(#"{"t":"\#(harness.suffix)"}"#, properties: .init(
                        contentType: "application/json", headers: [WireFormat.toHeader: .string(target.description)],
                        persistent: true, correlationID: "c-\(id)", replyTo: victim, messageID: id, type: "ping")),
                    exchange: Topology.actorsExchange, routingKey: PartitionID(of: target, partitions: partitions).routingKey, mandatory: true)
            }
            try await ping(echo, id: "ping-\(harness.suffix)")
            let refusedID = "refused-\(harness.suffix)"
            try await ping(try harness.address("echo", "never-spawned"), id: refusedID)

            // Same actor, later message: once it is answered, the first ping was handled.
            #expect(try await harness.client.ask(echo, kind: "ping", payload: Array(#"{"n":1}"#.utf8)).text == #"{"n":1}"#)
            _ = try await takeDeadLetters(harness.client, suffix: harness.suffix, ids: [refusedID])
            #expect(try await channel.inspectQueue(victim).messageCount == 0)
            await amqp.close()
        }
    }
}
