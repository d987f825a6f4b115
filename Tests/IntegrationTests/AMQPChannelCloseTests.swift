@testable import Broker
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Closing a channel while work for it is still on its way", .timeLimit(.minutes(2)))
struct AMQPChannelCloseTests {
    /// A worker closes a partition's channel when it loses the partition,
    /// while turns of that partition may still be acking. An ack written
    /// after channel.close reaches a broker that has closed the channel, and
    /// RabbitMQ answers it with 504 CHANNEL_ERROR — closing the connection,
    /// and with it every other partition's channel.
    @Test("an ack handed over right after the channel's close is not sent: the connection stays open (RabbitMQ would close it with 504)")
    func ackBehindClose() async throws {
        let connection = try await TestServers.amqp()
        let setup = try await connection.openChannel()
        let queue = TestServers.unique("closing")
        try await setup.declareQueue(queue, durable: false)
        try await setup.publish(AMQPMessage("one"), routingKey: queue)

        let channel = try await connection.openChannel()
        let consumer = try await channel.consume(queue: queue)
        let delivery = try #require(try await take(1, from: consumer).first)

        // Both hand-offs come from this task, so the connection thread runs
        // them in this order. The first sends channel.close and then holds
        // the thread until the broker's close-ok is waiting on the socket
        // (unread): the broker has forgotten the channel by then, as it has
        // whenever a worker's ack is slow to follow a close.
        let closed = Mutex(false)
        let answered = Mutex(false)
        connection.submit { core in
            core.closeChannel(channel.number, channel.ended) { _ in closed.withLock { $0 = true } }
            var socket = pollfd(fd: core.socketDescriptor, events: Int16(POLLIN), revents: 0)
            answered.withLock { $0 = poll(&socket, 1, 10_000) == 1 }
        }
        channel.ackWithoutWaiting(delivery.deliveryTag)
        try await eventually(10, "the channel's close-ok") { closed.withLock { $0 } }
        #expect(answered.withLock { $0 }, "the broker did not answer channel.close within 10 s")

        // A round trip after both: the broker has read the ack by now, so a
        // 504 would have closed the connection and this would fail.
        let after = try await connection.openChannel()
        try await after.setPrefetch(1)
        #expect(connection.isOpen, "\(connection.closedBecause.map { "\($0)" } ?? "")")
        // The message was not acked: it went back to the queue.
        #expect(try await after.inspectQueue(queue).messageCount == 1)
        try await after.deleteQueue(queue)
        await connection.close()
    }
}
