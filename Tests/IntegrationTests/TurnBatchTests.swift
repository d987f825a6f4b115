@testable import Broker
import Foundation
import Logging
import Testing
@testable import Workers

/// `TurnRunner.runBatch` driven directly (no consumer), so a batch holds
/// exactly the deliveries a test wants together.
@Suite("A batch of turns, driven directly against Redis and RabbitMQ", .timeLimit(.minutes(3)))
struct TurnBatchTests {
    @Test("a message id twice in one batch is applied once: the copy waits for the commit, then is a duplicate")
    func duplicateIDsInOneBatch() async throws {
        let redis = try await TestServers.redis()
        let amqp = try await TestServers.amqp()
        let channel = try await amqp.openChannel()
        try await channel.enableConfirms()
        var generator = SystemRandomNumberGenerator()
        let type = "counter-tb" + String(generator.next() as UInt32, radix: 36)
        let store = ActorStore(redis: redis)
        try await store.declare(type: type, partitions: 1)
        let runner = TurnRunner(
            types: [HostedType(Counter(), name: type)], store: store,
            publisher: FleetPublisher(channel: channel, store: store, workerID: "test"),
            settings: .init(dedupSeconds: 60, workerID: "test"), logger: Logger(label: "test"))
        let counter = try ActorAddress(type: type, id: "c")
        try await redis.send("HSET", RedisLayout.actor(counter, partition: 0), "status", "active", "version", 1, "state", #"{"count":0}"#)
        func count() async throws -> String { String(decoding: try await store.load(counter, partition: 0).state, as: UTF8.self) }

        func item(_ id: String, tag: UInt64) throws -> TurnRunner.BatchItem {
            let delivery = AMQPDelivery(
                body: Array(#"{"by":1}"#.utf8),
                properties: AMQPProperties(contentType: "application/json", headers: [WireFormat.toHeader: .string(counter.description)],
                                           persistent: true, messageID: "\(type)-\(id)", type: "add"),
                deliveryTag: tag, redelivered: false, exchange: Topology.actorsExchange, routingKey: "", consumerTag: "test")
            return TurnRunner.BatchItem(envelope: try Envelope.parse(delivery, maximumBodyBytes: 1_000).get(), delivery: delivery)
        }
        let items = [try item("a", tag: 1), try item("b", tag: 2), try item("a", tag: 3), try item("c", tag: 4)]
        guard case .done(let committed, let deferred) = try await runner.runBatch(items, type: type, partition: 0, epoch: "0") else {
            Issue.record("the batch was fenced")
            return
        }
        #expect(committed == [1, 2])
        #expect(deferred.map(\.item.delivery.deliveryTag) == [3, 4])
        #expect(try await count() == #"{"count":2}"#)
        // On the one-message path, in order: the copy of "a" is a duplicate, "c" applies.
        for one in deferred {
            #expect(try await runner.run(one.item.envelope, delivery: one.item.delivery, partition: 0, epoch: "0") == .done)
        }
        #expect(try await count() == #"{"count":3}"#)

        // A batch under a stale epoch commits nothing.
        let stale = try await runner.runBatch([try item("d", tag: 5)], type: type, partition: 0, epoch: "7")
        guard case .fenced = stale else {
            Issue.record("a batch under a stale epoch was not fenced")
            return
        }
        #expect(try await count() == #"{"count":3}"#)

        let keys = try await redis.send("KEYS", "gr:{\(type).*").array?.compactMap(\.bytes) ?? []
        if !keys.isEmpty { try await redis.send("DEL", arguments: keys) }
        try await redis.send("HDEL", RedisLayout.types, type)
        await amqp.close()
        await redis.close()
    }
}
