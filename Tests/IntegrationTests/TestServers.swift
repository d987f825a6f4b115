import Broker
#if canImport(Glibc)
import Glibc
#endif

/// The servers started by `scripts/services up`, overridable like the tools,
/// and for one task by `TestServers.using(_:)` (ClusterTestServers.swift).
enum TestServers {
    static var amqpURL: String { selected?.amqpURL ?? environment("GREENROOM_AMQP_URL") ?? AMQPConfiguration.defaultURL }
    static var redisURL: String { selected?.redisURL ?? environment("GREENROOM_REDIS_URL") ?? RedisConfiguration.defaultURL }

    /// The 3-node RabbitMQ cluster of `scripts/services up --cluster` (scripts/test sets
    /// GREENROOM_TEST_CLUSTER_AMQP_URL); `LocalCluster` starts it if it is not running.
    static var clusterAMQPURL: String {
        environment("GREENROOM_TEST_CLUSTER_AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5701,127.0.0.1:5702,127.0.0.1:5703/%2F"
    }
    /// The Redis Cluster of `scripts/services up --cluster` (scripts/test sets GREENROOM_TEST_CLUSTER_REDIS_URL).
    static var clusterRedisURL: String {
        environment("GREENROOM_TEST_CLUSTER_REDIS_URL") ?? "redis+cluster://127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"
    }

    static func amqp() async throws -> AMQPConnection {
        try await AMQPConnection.connect(try AMQPConfiguration(url: amqpURL))
    }

    static func redis() async throws -> RedisClient {
        try await RedisClient.connect(try RedisConfiguration(url: redisURL))
    }

    /// A name prefix unique to this test run, so runs never see each other's
    /// queues or keys, and cleanup can find everything a run made.
    static let runPrefix: String = {
        var generator = SystemRandomNumberGenerator()
        return "gr-test-\(getpid())-\(String(generator.next() as UInt32, radix: 36))"
    }()

    /// A fresh unique name under the run prefix.
    static func unique(_ label: String) -> String {
        var generator = SystemRandomNumberGenerator()
        return "\(runPrefix).\(label).\(String(generator.next() as UInt32, radix: 36))"
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// Takes the next `count` deliveries from a consumer, or fails on timeout.
func take(_ count: Int, from consumer: AMQPConsumer, within seconds: Double = 30) async throws -> [AMQPDelivery] {
    try await within(seconds, "\(count) deliveries from \(consumer.queue)") {
        var received: [AMQPDelivery] = []
        var iterator = consumer.makeAsyncIterator()
        while received.count < count, let delivery = try await iterator.next() {
            received.append(delivery)
        }
        return received
    }
}
