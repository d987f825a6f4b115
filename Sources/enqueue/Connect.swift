import Broker
import Logging
import Workers

extension ServerOptions {
    /// Connects a client, reading both URLs first so a typo fails at once.
    func client() async throws -> GreenroomClient {
        let amqp = try AMQPConfiguration(url: amqpURL)
        let redis = try RedisConfiguration(url: redisURL)
        return try await GreenroomClient.connect(amqp: amqp, redis: redis, deadQueueType: queueType(for: amqp), logger: logger())
    }
}

/// Parses an address argument, with the naming rules in the error.
func parseAddress(_ text: String) throws -> ActorAddress {
    try ActorAddress(parsing: text)
}

/// Runs `body` with a connected client and closes it afterwards.
func withClient<T>(_ servers: ServerOptions, _ body: (GreenroomClient) async throws -> T) async throws -> T {
    let client = try await servers.client()
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}

/// A timeout given in seconds on the command line.
func seconds(_ value: Double) -> Duration {
    .milliseconds(Int(value * 1_000))
}
