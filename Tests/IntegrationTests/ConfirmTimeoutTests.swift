import Broker
import Foundation
import Testing

/// A broker that stops confirming: a memory alarm on a RabbitMQ node of the
/// test's own blocks publishing connections, so no confirm comes back.
@Suite("Publisher-confirm waits time out", .serialized, .timeLimit(.minutes(5)))
struct ConfirmTimeoutTests {
    @Test("a publish the broker never confirms fails with timedOut after the timeout, instead of hanging; the channel works again once the broker does")
    func unconfirmedPublishTimesOut() async throws {
        let rabbit = try await ScratchRabbit.start()
        defer { rabbit.remove() }
        let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: rabbit.url))
        let channel = try await connection.openChannel()
        try await channel.enableConfirms(timeout: .seconds(2))
        let queue = "confirm-timeout"
        try await channel.declareQueue(queue, durable: true)

        try await rabbit.ctl(["set_vm_memory_high_watermark", "0"])
        let started = ContinuousClock.now
        let results = try await within(30, "a publish during a memory alarm to give up") {
            try await channel.publish([AMQPPublication(AMQPMessage("blocked", properties: .init(persistent: true, messageID: "t-1")),
                                                       routingKey: queue, mandatory: true)])
        }
        let waited = ContinuousClock.now - started
        guard case .failure(let error)? = results.first else {
            Issue.record("a publish the broker could not take was confirmed: \(results)")
            return
        }
        #expect(error.code == .timedOut, "\(error)")
        #expect(error.description.contains("did not confirm within"), "\(error)")
        #expect(waited >= .seconds(2) && waited < .seconds(10), "\(waited)")

        // The alarm clears: the blocked message goes through, and so does a new one.
        try await rabbit.ctl(["set_vm_memory_high_watermark", "0.4"])
        let again = try await within(60, "a publish after the alarm") {
            try await channel.publish([AMQPPublication(AMQPMessage("free", properties: .init(persistent: true, messageID: "t-2")),
                                                       routingKey: queue, mandatory: true)])
        }
        #expect(throws: Never.self) { try again[0].get() }
        await connection.close()
    }
}
