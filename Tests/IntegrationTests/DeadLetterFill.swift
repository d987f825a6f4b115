import Broker
import Foundation
import Workers

/// A dead letter as a worker writes it (the headers `GreenroomClient.describe`
/// reads), for tests that fill `greenroom.dead` directly.
struct FakeDeadLetter: Sendable {
    var target: String
    var kind = "add"
    var id: String
    var reason: String
    var body = #"{"by":1}"#

    var message: AMQPMessage {
        AMQPMessage(body, properties: .init(
            contentType: "application/json",
            headers: [WireFormat.toHeader: .string(target), WireFormat.errorHeader: .string(reason),
                      WireFormat.attemptsHeader: .int64(1), WireFormat.workerHeader: .string("fake-worker")],
            persistent: true, messageID: id, type: kind))
    }
}

/// Publishes `letters` to `greenroom.dead` in order (declaring it as clients
/// do), confirmed, in batches.
func publishDeadLetters(_ letters: [FakeDeadLetter], amqpURL: String = TestServers.amqpURL) async throws {
    let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: amqpURL))
    do {
        let channel = try await connection.openChannel()
        try await Topology.declareShared(on: channel)
        try await channel.enableConfirms()
        for start in stride(from: 0, to: letters.count, by: 2_000) {
            let batch = letters[start..<min(start + 2_000, letters.count)]
            let results = try await channel.publish(batch.map { AMQPPublication($0.message, routingKey: Topology.deadQueue) })
            for result in results { try result.get() }
        }
        await connection.close()
    } catch {
        await connection.close()
        throw error
    }
}

/// Reads `count` letters of `greenroom.dead` in order, acking each: their
/// message ids. Waits for letters another channel's close is still
/// returning to the queue (RabbitMQ requeues them after answering the close).
func drainDeadLetterIDs(amqpURL: String, count: Int) async throws -> [String] {
    let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: amqpURL))
    defer { Task { await connection.close() } }
    let channel = try await connection.openChannel()
    try await channel.setPrefetch(1_000)
    let consumer = try await channel.consume(queue: Topology.deadQueue)
    let ids = try await within(60, "\(count) dead letters drained") {
        var ids: [String] = []
        for try await delivery in consumer {
            ids.append(delivery.properties.messageID ?? "?")
            channel.ackWithoutWaiting(delivery.deliveryTag)
            if ids.count == count { break }
        }
        return ids
    }
    try await channel.close()
    return ids
}
