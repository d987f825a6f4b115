import Broker
import Testing

@Suite("Publisher confirms and returns", .timeLimit(.minutes(3)))
struct AMQPConfirmTests {
    @Test("10,000 messages published concurrently are all confirmed and all arrive")
    func tenThousandConfirmed() async throws {
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        let queue = TestServers.unique("confirms")
        try await channel.declareQueue(queue, durable: true)
        try await channel.enableConfirms()

        let total = 10_000
        try await within(120, "10,000 confirms") {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<50 {
                    group.addTask {
                        for index in stride(from: worker, to: total, by: 50) {
                            let message = AMQPMessage("\(index)", properties: .init(persistent: true, messageID: "c-\(index)"))
                            try await channel.publish(message, routingKey: queue, mandatory: true)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let info = try await channel.inspectQueue(queue)
        #expect(info.messageCount == UInt32(total))
        #expect(try await channel.deleteQueue(queue) == UInt32(total))
        await connection.close()
    }

    @Test("a mandatory publish with no route fails with a clear error; the channel goes on")
    func unroutableMandatory() async throws {
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        try await channel.enableConfirms()
        let nowhere = TestServers.unique("no-such-queue")

        let error = await #expect(throws: AMQPError.self) {
            try await channel.publish(AMQPMessage("lost?", properties: .init(messageID: "u-1")), routingKey: nowhere, mandatory: true)
        }
        #expect(error?.code == .unroutable)
        #expect(error?.replyCode == 312)
        #expect(error?.description.contains(nowhere) == true)
        #expect(error?.description.contains("NO_ROUTE") == true)

        // Routable traffic on the same channel is unaffected.
        let queue = TestServers.unique("after-return")
        try await channel.declareQueue(queue, durable: false)
        try await channel.publish(AMQPMessage("fine"), routingKey: queue, mandatory: true)
        #expect(try await channel.inspectQueue(queue).messageCount == 1)
        try await channel.deleteQueue(queue)
        await connection.close()
    }

    @Test("returns are matched to the right publish when routable and unroutable interleave")
    func interleavedReturns() async throws {
        let connection = try await TestServers.amqp()
        let channel = try await connection.openChannel()
        try await channel.enableConfirms()
        let queue = TestServers.unique("mixed")
        try await channel.declareQueue(queue, durable: false)
        let nowhere = TestServers.unique("nowhere")

        let outcomes = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<200 {
                group.addTask {
                    let key = index % 3 == 0 ? nowhere : queue
                    do {
                        try await channel.publish(AMQPMessage("\(index)", properties: .init(messageID: "x-\(index)")), routingKey: key, mandatory: true)
                        return (index, true)
                    } catch let error as AMQPError where error.code == .unroutable {
                        return (index, false)
                    }
                }
            }
            return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        for index in 0..<200 {
            #expect(outcomes[index] == (index % 3 != 0), "message \(index)")
        }
        #expect(try await channel.deleteQueue(queue) == UInt32((0..<200).filter { $0 % 3 != 0 }.count))
        await connection.close()
    }
}
