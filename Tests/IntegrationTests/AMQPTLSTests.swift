import Broker
import CommandLineAdvice
import Foundation
import Testing

/// RELIABILITY "Secrets and transport security": `amqps://` against a real
/// TLS listener (a scratch RabbitMQ node with certificates the test makes):
/// the broker is verified against the given CA and the client presents its
/// own certificate; a message makes the round trip; an untrusted CA fails
/// with a clear error and advice.
@Suite("AMQP over TLS against a real TLS listener", .timeLimit(.minutes(5)))
struct AMQPTLSTests {
    @Test("amqps with verify_peer: round trip over TLS; a wrong CA, a host the certificate does not name and a missing client certificate are refused clearly (tlsFailed, with advice)")
    func tls() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let rabbit = try await ScratchRabbit.start { rabbit in
            """
            listeners.ssl.default = \(rabbit.extraPort)
            ssl_options.cacertfile = \(certificates.caCertificate)
            ssl_options.certfile = \(certificates.serverCertificate)
            ssl_options.keyfile = \(certificates.serverKey)
            ssl_options.verify = verify_peer
            ssl_options.fail_if_no_peer_cert = true
            """
        }
        defer { rabbit.remove() }
        try await within(60, "the TLS listener on port \(rabbit.extraPort)") {
            while !FreePort.isOpen(rabbit.extraPort) { try await Task.sleep(for: .milliseconds(100)) }
        }
        let base = "amqps://guest:guest@127.0.0.1:\(rabbit.extraPort)/%2F?verify=verify_peer"
        let client = "&certfile=\(certificates.clientCertificate)&keyfile=\(certificates.clientKey)"

        // The right CA: a full publish → consume → ack round trip, over TLS
        // (the plain port is never used: the URL names the TLS one).
        let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: base + "&cacertfile=\(certificates.caCertificate)" + client))
        let channel = try await connection.openChannel()
        let queue = TestServers.unique("tls")
        try await channel.declareQueue(queue, durable: false)
        try await channel.enableConfirms()
        let body = String(repeating: "secure ", count: 10_000)  // several TLS records
        for index in 0..<50 {
            try await channel.publish(AMQPMessage("\(index) " + body, properties: .init(messageID: "tls-\(index)")), routingKey: queue, mandatory: true)
        }
        let consumer = try await channel.consume(queue: queue)
        let deliveries = try await take(50, from: consumer)
        #expect(deliveries.map(\.properties.messageID) == (0..<50).map { "tls-\($0)" })
        #expect(deliveries.allSatisfy { $0.text?.hasSuffix(body) == true })
        try await channel.ack(try #require(deliveries.last).deliveryTag, multiple: true)
        try await consumer.cancel()
        #expect(try await channel.inspectQueue(queue).messageCount == 0)
        try await channel.deleteQueue(queue)
        await connection.close()

        // An unrelated CA: the broker's certificate is not trusted.
        try await Self.expectRefused(base + "&cacertfile=\(certificates.otherCACertificate)" + client, saying: ["certificate", "TLS", "cacertfile"])
        // The right CA, but a host name the certificate does not carry
        // (127.0.0.2 is loopback too, and the TLS listener takes it).
        try await Self.expectRefused(
            "amqps://guest:guest@127.0.0.2:\(rabbit.extraPort)/%2F?verify=verify_peer&cacertfile=\(certificates.caCertificate)" + client,
            saying: ["TLS", "name the host"], endpoint: "127.0.0.2")
        // No client certificate, while the broker requires one.
        try await Self.expectRefused(base + "&cacertfile=\(certificates.caCertificate)", saying: ["TLS", "client certificate", "certfile"])
        // verify_none still encrypts, and needs no CA.
        let unverified = try await AMQPConnection.connect(try AMQPConfiguration(
            url: "amqps://guest:guest@127.0.0.1:\(rabbit.extraPort)/%2F?verify=verify_none" + client))
        await unverified.close()
    }

    /// Connecting with `url` fails with `tlsFailed`, an error line that
    /// names TLS and the endpoint, and advice.
    static func expectRefused(_ url: String, saying words: [String], endpoint: String = "127.0.0.1",
                              sourceLocation: SourceLocation = #_sourceLocation) async throws {
        do {
            let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: url))
            await connection.close()
            Issue.record("connected with \(url)", sourceLocation: sourceLocation)
        } catch let error as AMQPError {
            #expect(error.code == .tlsFailed, "\(error)", sourceLocation: sourceLocation)
            let line = Advice.line(for: error)
            for word in words + [endpoint] {
                #expect(line.contains(word), "'\(word)' missing: \(line)", sourceLocation: sourceLocation)
            }
            #expect(Advice.advice(for: error) != nil, "\(line)", sourceLocation: sourceLocation)
            print("refused as expected: \(line)")
        }
    }
}
