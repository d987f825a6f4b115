import Broker
import Foundation

/// A pair of servers the test helpers can be pointed at: the single nodes of
/// `scripts/services up` (the default) or the local clusters of
/// `scripts/services up --cluster`.
///
/// Every helper reads its servers from `TestServers.amqpURL` and `redisURL`
/// (`RuntimeHarness`, `ProcessFleet`, `WorkerProcess`, `Quiet` through
/// `RabbitControl`, the cleanups); `TestServers.using(_:)` overrides those for
/// one task and its children, so a guarantee test's body runs unchanged
/// against the clusters instead of being written twice.
struct TestServerSet: Sendable, CustomStringConvertible {
    let amqpURL: String
    let redisURL: String
    let description: String

    /// The 3-node RabbitMQ cluster and the Redis Cluster (3 masters, 3
    /// replicas) of `scripts/services up --cluster`, as `scripts/test`
    /// exports them (GREENROOM_TEST_CLUSTER_AMQP_URL, …_REDIS_URL).
    static var cluster: TestServerSet {
        TestServerSet(amqpURL: TestServers.clusterAMQPURL, redisURL: TestServers.clusterRedisURL, description: "the local clusters")
    }
}

extension TestServers {
    /// The servers chosen for the current task, if not the single nodes.
    @TaskLocal static var selected: TestServerSet?

    /// Runs `body` with every test helper pointed at `servers` (RabbitMQ and
    /// Redis URLs, the worker processes' environment, `rabbitmqctl`'s node:
    /// the first host of the AMQP URL).
    static func using<T>(_ servers: TestServerSet, _ body: () async throws -> T) async throws -> T {
        try await $selected.withValue(servers) { try await body() }
    }
}

/// `withFleet` on other servers: the fleet's client, its worker processes and
/// its cleanup all use `servers`.
func withFleet<T>(servers: TestServerSet, partitions: Int = 4, _ body: (ProcessFleet) async throws -> T) async throws -> T {
    try await TestServers.using(servers) { try await withFleet(partitions: partitions, body) }
}

/// `withHarness` on other servers: the in-process worker, its client and the
/// cleanup all use `servers`.
func withHarness<T>(servers: TestServerSet, partitions: Int = 4, _ body: (RuntimeHarness) async throws -> T) async throws -> T {
    try await TestServers.using(servers) { try await withHarness(partitions: partitions, redisURL: servers.redisURL, body) }
}
