import Broker
import CommandLineAdvice
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Connecting with a URL that names several nodes, against the shared
/// single broker (spelt two ways, so it counts as two nodes) and ports
/// nobody listens on (nodes that are down).
@Suite("Connecting to one of several hosts", .timeLimit(.minutes(2)))
struct AMQPHostListConnectTests {
    /// The shared broker's URL with `hosts` in place of its host list.
    static func configuration(hosts: [AMQPConfiguration.Endpoint]) throws -> AMQPConfiguration {
        var configuration = try AMQPConfiguration(url: TestServers.amqpURL)
        configuration.hosts = hosts
        return configuration
    }

    static var shared: AMQPConfiguration.Endpoint {
        get throws { try AMQPConfiguration(url: TestServers.amqpURL).hosts[0] }
    }

    @Test("successive connections start at different hosts, so they spread over the nodes")
    func spreads() async throws {
        let broker = try Self.shared
        try #require(broker.host == "127.0.0.1", "\"localhost\" is a second name only for a broker on 127.0.0.1")
        let configuration = try Self.configuration(hosts: [broker, .init(host: "localhost", port: broker.port)])
        var endpoints: [String] = []
        // Other tests of this process connect to several hosts too and move
        // the rotation: a few more connections than hosts, then.
        for _ in 0..<8 {
            let connection = try await AMQPConnection.connect(configuration)
            endpoints.append(connection.endpoint)
            #expect(connection.configuration == configuration, "the connection keeps every host, for its reconnects")
            await connection.close()
        }
        #expect(Set(endpoints) == ["127.0.0.1:\(broker.port)", "localhost:\(broker.port)"], "\(endpoints)")
    }

    @Test("a node that is down is skipped, wherever it is in the list")
    func skipsADeadNode() async throws {
        let down = AMQPConfiguration.Endpoint(host: "127.0.0.1", port: FreePort.pick())
        let configuration = try Self.configuration(hosts: [down, try Self.shared])
        for _ in 0..<4 {
            let connection = try await within(15, "a connection past the node that is down") {
                try await AMQPConnection.connect(configuration)
            }
            #expect(connection.endpoint == (try Self.shared).description)
            let channel = try await connection.openChannel()
            try await channel.close()
            await connection.close()
        }
    }

    @Test("every node down: one error naming each node and why, with the cluster's advice")
    func everyNodeDown() async throws {
        let first = FreePort.pick(), second = FreePort.pick()
        let configuration = try Self.configuration(hosts: [.init(host: "127.0.0.1", port: first), .init(host: "127.0.0.1", port: second)])
        let error = try await within(15, "the refusal") {
            await #expect(throws: AMQPError.self) { _ = try await AMQPConnection.connect(configuration) }
        }
        #expect(error?.code == .connectFailed)
        #expect(error?.osError == ECONNREFUSED)
        #expect(error?.endpoint == "127.0.0.1:\(first),127.0.0.1:\(second)")
        let line = error.map { Advice.line(for: $0) } ?? ""
        #expect(line.hasPrefix("cannot connect to any of the 2 RabbitMQ nodes: "), "\(line)")
        #expect(line.contains("127.0.0.1:\(first): connection refused"), "\(line)")
        #expect(line.contains("127.0.0.1:\(second): connection refused"), "\(line)")
        #expect(line.hasSuffix(" — are the nodes running? try scripts/services up --cluster"), "\(line)")
    }
}
