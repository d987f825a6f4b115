import Broker
import Foundation
import Testing
import Workers

/// A dead letter keeps the original headers and body but not `user_id` (the
/// broker refuses a publish whose user_id is not the publishing user, and
/// closes the channel) nor `expiration`.
@Suite("Dead letters can always be published", .timeLimit(.minutes(3)))
struct DeadLetterPublishabilityTests {
    @Test("a message with another user's user_id to an actor that does not exist is dead-lettered; the worker stays up")
    func foreignUserID() async throws {
        try await withHarness { harness in
            // A second user on the shared node, unique to this test, allowed to write to greenroom.actors only.
            let user = "gr-sender-\(harness.suffix)"
            let password = UUID().uuidString
            _ = try await RabbitControl.run(["add_user", user, password])
            do {
                _ = try await RabbitControl.run(["set_permissions", "-p", "/", user, "^$", "^greenroom\\.actors$", "^$"])
                let url = try AMQPConfiguration(url: TestServers.amqpURL)
                let sender = try await AMQPConnection.connect(try AMQPConfiguration(
                    url: "amqp://\(user):\(password)@\(url.host):\(url.port)/%2F"))
                let channel = try await sender.openChannel()
                try await channel.enableConfirms()
                let target = try harness.address("echo", "nobody")
                let id = "foreign-\(harness.suffix)"
                let body = #"{"t":"\#(harness.suffix)"}"#
                try await channel.publish(
                    AMQPMessage(body, properties: .init(
                        contentType: "application/json",
                        headers: [WireFormat.toHeader: .string(target.description), "x-custom": .string("kept")],
                        persistent: true, expiration: "600000", messageID: id, type: "ping", userID: user)),
                    exchange: Topology.actorsExchange,
                    routingKey: PartitionID(of: target, partitions: harness.runtime.configuration.partitions).routingKey, mandatory: true)
                await sender.close()

                let letters = try await takeDeadLetters(harness.client, suffix: harness.suffix, ids: [id])
                let letter = try #require(letters.first { $0.messageID == id })
                #expect(letter.reason.contains("does not exist"), "\(letter.reason)")
                #expect(letter.body == body)
                // The worker is still up and serving.
                let echo = try await harness.client.spawn(type: harness.type("echo"), id: "alive")
                #expect(try await harness.client.ask(echo, kind: "ping", payload: Array(#"{"n":1}"#.utf8)).text == #"{"n":1}"#)
            } catch {
                _ = try? await RabbitControl.run(["delete_user", user])
                throw error
            }
            _ = try await RabbitControl.run(["delete_user", user])
        }
    }
}
