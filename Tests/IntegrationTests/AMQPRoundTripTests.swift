import Broker
import Testing

@Suite("AMQP against a real RabbitMQ", .timeLimit(.minutes(3)))
struct AMQPRoundTripTests {
    @Test("publish, consume and ack round trip with properties intact")
    func roundTrip() async throws {
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        let queue = TestServers.unique("roundtrip")
        try await channel.declareQueue(queue, durable: false, autoDelete: false)
        try await channel.enableConfirms()

        let properties = AMQPProperties(
            contentType: "application/json", headers: ["x-greenroom-to": "counter/1", "attempt": .int32(3), "nested": .table(["ok": true])],
            persistent: true, correlationID: "corr-1", replyTo: "somewhere", messageID: "m-1", timestamp: 1_700_000_000, type: "add")
        try await channel.publish(AMQPMessage(#"{"by":1}"#, properties: properties), routingKey: queue, mandatory: true)

        let consumer = try await channel.consume(queue: queue)
        let delivery = try #require(try await take(1, from: consumer).first)
        #expect(delivery.text == #"{"by":1}"#)
        #expect(delivery.properties == properties)
        #expect(delivery.redelivered == false)
        #expect(delivery.routingKey == queue)
        try await channel.ack(delivery.deliveryTag)
        try await consumer.cancel()

        let info = try await channel.inspectQueue(queue)
        #expect(info.messageCount == 0)
        try await channel.deleteQueue(queue)
        await connection.close()
    }

    @Test("a message left unacked comes back, marked redelivered, after its channel closes")
    func unackedIsRedelivered() async throws {
        let connection = try await TestServers.amqp()
        let queue = TestServers.unique("redeliver")
        let setup = try await connection.openChannel()
        try await setup.declareQueue(queue, durable: false)
        try await setup.enableConfirms()
        try await setup.publish(AMQPMessage("once", properties: .init(messageID: "r-1")), routingKey: queue)

        let first = try await connection.openChannel()
        let firstConsumer = try await first.consume(queue: queue)
        let original = try #require(try await take(1, from: firstConsumer).first)
        #expect(original.redelivered == false)
        try await first.close()  // no ack: the broker must requeue it

        let second = try await connection.openChannel()
        let secondConsumer = try await second.consume(queue: queue)
        let again = try #require(try await take(1, from: secondConsumer).first)
        #expect(again.redelivered == true)
        #expect(again.properties.messageID == "r-1")
        #expect(again.text == "once")
        try await second.ack(again.deliveryTag)
        try await setup.deleteQueue(queue)
        await connection.close()
    }

    @Test("multiple ack, nack with requeue, and reject to a dead-letter exchange")
    func acknowledgementVariants() async throws {
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        let queue = TestServers.unique("acks")
        let dead = TestServers.unique("acks-dead")
        try await channel.declareQueue(dead, durable: false)
        try await channel.declareQueue(queue, durable: false, arguments: [
            "x-dead-letter-exchange": "", "x-dead-letter-routing-key": .string(dead),
        ])
        try await channel.enableConfirms()
        for index in 0..<4 {
            try await channel.publish(AMQPMessage("m\(index)"), routingKey: queue)
        }
        let consumer = try await channel.consume(queue: queue)
        let firstFour = try await take(4, from: consumer)
        #expect(firstFour.map(\.text) == ["m0", "m1", "m2", "m3"])
        try await channel.ack(firstFour[1].deliveryTag, multiple: true)  // m0 and m1
        try await channel.nack(firstFour[2].deliveryTag, requeue: true)  // m2 comes back
        try await channel.reject(firstFour[3].deliveryTag, requeue: false)  // m3 is dead-lettered

        let requeued = try #require(try await take(1, from: consumer).first)
        #expect(requeued.text == "m2")
        #expect(requeued.redelivered)
        try await channel.ack(requeued.deliveryTag)

        let deadConsumer = try await channel.consume(queue: dead)
        let deadLetter = try #require(try await take(1, from: deadConsumer).first)
        #expect(deadLetter.text == "m3")
        #expect(deadLetter.properties.headers["x-death"] != nil)
        try await channel.ack(deadLetter.deliveryTag)

        try await channel.deleteQueue(queue)
        try await channel.deleteQueue(dead)
        await connection.close()
    }

    @Test("a message larger than one frame round-trips byte for byte")
    func largeMessage() async throws {
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        let queue = TestServers.unique("large")
        try await channel.declareQueue(queue, durable: false)
        try await channel.enableConfirms()
        let body = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try await channel.publish(AMQPMessage(body: body), routingKey: queue)
        let consumer = try await channel.consume(queue: queue, noAck: true)
        let delivery = try #require(try await take(1, from: consumer).first)
        #expect(delivery.body == body)
        try await channel.deleteQueue(queue)
        await connection.close()
    }
}

@Suite("AMQP consumer batches against a real RabbitMQ", .timeLimit(.minutes(3)))
struct AMQPBatchTests {
    @Test("batches hold every delivery once, in order, and one multiple ack settles them all")
    func batchesInOrder() async throws {
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        let queue = TestServers.unique("batches")
        try await channel.declareQueue(queue, durable: false, autoDelete: false)
        try await channel.enableConfirms()
        let count = 2_000
        let publications = (0..<count).map { AMQPPublication(AMQPMessage("\($0)"), routingKey: queue) }
        for result in try await channel.publish(publications) { try result.get() }

        try await channel.setPrefetch(UInt16(count))
        let consumer = try await channel.consume(queue: queue)
        var seen: [Int] = []
        var lastTag: UInt64 = 0
        for try await batch in consumer.batches {
            #expect(!batch.isEmpty)
            for delivery in batch {
                #expect(delivery.deliveryTag == lastTag + 1)
                lastTag = delivery.deliveryTag
                seen.append(Int(delivery.text ?? "") ?? -1)
            }
            if seen.count >= count { break }
        }
        #expect(seen == Array(0..<count))
        channel.acknowledgeWithoutWaiting([.ack(lastTag, multiple: true)])
        // The cancel's reply comes after the broker handled the ack (frames are in order).
        try await consumer.cancel()
        try await channel.close()
        // Closing requeues whatever was unacked: nothing comes back, the one frame acked all.
        let check = try await connection.openChannel()
        #expect(try await check.inspectQueue(queue).messageCount == 0)
        try await check.deleteQueue(queue)
        await connection.close()
    }
}
