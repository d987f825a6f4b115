import Broker
import Testing

@Suite("Broker-side errors, cancels and direct reply-to", .timeLimit(.minutes(3)))
struct AMQPChannelErrorTests {
    @Test("consuming a missing queue fails with 404 NOT_FOUND; the connection survives")
    func missingQueue() async throws {
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        let missing = TestServers.unique("missing")
        let error = await #expect(throws: AMQPError.self) {
            _ = try await channel.consume(queue: missing)
        }
        #expect(error?.code == .channelClosed)
        #expect(error?.replyCode == 404)
        #expect(error?.replyText?.contains("NOT_FOUND") == true)

        // The channel is gone and says so; the connection is fine.
        let later = await #expect(throws: AMQPError.self) { try await channel.setPrefetch(1) }
        #expect(later?.replyCode == 404)
        #expect(connection.isOpen)
        let fresh = try await connection.openChannel()
        try await fresh.setPrefetch(10)
        await connection.close()
    }

    @Test("redeclaring a queue with other arguments fails with 406 PRECONDITION_FAILED")
    func mismatchedArguments() async throws {
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        let queue = TestServers.unique("sac")
        try await channel.declareQueue(queue, durable: true, arguments: ["x-single-active-consumer": true])
        let error = await #expect(throws: AMQPError.self) {
            try await channel.declareQueue(queue, durable: true, arguments: ["x-single-active-consumer": false])
        }
        #expect(error?.replyCode == 406)
        let cleanup = try await connection.openChannel()
        try await cleanup.deleteQueue(queue)
        await connection.close()
    }

    @Test("deleting a queue under a consumer ends the consumer with a cancel notification")
    func consumerCancelNotification() async throws {
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        let queue = TestServers.unique("cancelled")
        try await channel.declareQueue(queue, durable: false)
        let consumer = try await channel.consume(queue: queue)

        let other = try await connection.openChannel()
        try await other.deleteQueue(queue)

        let error = await #expect(throws: AMQPError.self) {
            _ = try await take(1, from: consumer)
        }
        #expect(error?.code == .consumerCancelled)
        await connection.close()
    }

    @Test("cancelling a consumer ends its sequence normally")
    func clientCancel() async throws {
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        let queue = TestServers.unique("client-cancel")
        try await channel.declareQueue(queue, durable: false)
        let consumer = try await channel.consume(queue: queue)
        try await consumer.cancel()
        let received = try await take(1, from: consumer)
        #expect(received.isEmpty)
        try await channel.deleteQueue(queue)
        await connection.close()
    }

    @Test("direct reply-to: a request and its reply through amq.rabbitmq.reply-to")
    func directReplyTo() async throws {
        let connection = try await TestServers.amqp()
        let queue = TestServers.unique("rpc")

        let server = try await connection.openChannel()
        try await server.declareQueue(queue, durable: false)
        let requests = try await server.consume(queue: queue)
        let serverTask = Task {
            let request = try #require(try await take(1, from: requests).first)
            let replyTo = try #require(request.properties.replyTo)
            try await server.publish(
                AMQPMessage("pong:" + (request.text ?? ""), properties: .init(correlationID: request.properties.correlationID)),
                routingKey: replyTo)
            try await server.ack(request.deliveryTag)
        }

        let client = try await connection.openChannel()
        let replies = try await client.consume(queue: AMQPChannel.directReplyTo, noAck: true)
        try await client.publish(
            AMQPMessage("ping", properties: .init(correlationID: "call-7", replyTo: AMQPChannel.directReplyTo)),
            routingKey: queue)
        let reply = try #require(try await take(1, from: replies).first)
        #expect(reply.text == "pong:ping")
        #expect(reply.properties.correlationID == "call-7")
        try await serverTask.value
        try await server.deleteQueue(queue)
        await connection.close()
    }

    @Test("closing the connection ends consumers and later calls fail with a clear error")
    func closeEndsEverything() async throws {
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        let queue = TestServers.unique("close")
        try await channel.declareQueue(queue, durable: false, autoDelete: true)
        let consumer = try await channel.consume(queue: queue)
        await connection.close()
        #expect(!connection.isOpen)
        #expect(try await take(1, from: consumer).isEmpty)
        let error = await #expect(throws: AMQPError.self) { try await channel.setPrefetch(1) }
        #expect(error?.code == .connectionClosed)
        await connection.close()  // idempotent
    }
}
