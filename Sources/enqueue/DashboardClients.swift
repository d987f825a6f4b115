import Broker
import Logging
import Workers

/// The dashboard's one `GreenroomClient`, connected on first use. After a
/// failure of the connection itself (a server restarted, a socket closed)
/// it is dropped and the next request connects again, so the page recovers
/// by itself once the servers are back; until then each request's error is
/// what the page shows.
actor DashboardClients {
    private let amqpURL: String
    private let redisURL: String
    private let logger: Logger
    /// The connection, or the attempt under way (shared by concurrent requests).
    private var client: Task<GreenroomClient, any Error>?

    init(servers: ServerOptions, logger: Logger) {
        amqpURL = servers.amqpURL
        redisURL = servers.redisURL
        self.logger = logger
    }

    /// Runs `body` with the client; a connection failure drops it.
    func with<T: Sendable>(_ body: @Sendable (GreenroomClient) async throws -> T) async throws -> T {
        let attempt = connection()
        let client: GreenroomClient
        do {
            client = try await attempt.value
        } catch {
            if self.client == attempt { self.client = nil }
            throw error
        }
        do {
            return try await body(client)
        } catch {
            if Self.lostConnection(error), self.client == attempt {
                self.client = nil
                await client.close()
            }
            throw error
        }
    }

    func close() async {
        if let client = try? await client?.value { await client.close() }
        client = nil
    }

    private func connection() -> Task<GreenroomClient, any Error> {
        if let client { return client }
        let (amqpURL, redisURL, logger) = (amqpURL, redisURL, logger)
        let attempt = Task {
            try await GreenroomClient.connect(amqp: try AMQPConfiguration(url: amqpURL),
                                                     redis: try RedisConfiguration(url: redisURL), logger: logger)
        }
        client = attempt
        return attempt
    }

    private static func lostConnection(_ error: any Error) -> Bool {
        switch error {
        case let error as AMQPError: [.connectFailed, .connectionClosed, .timedOut].contains(error.code)
        case let error as RedisError: [.connectFailed, .connectionLost, .timedOut, .closed].contains(error.code)
        default: false
        }
    }
}
