import Broker
import Testing

extension ClusterTests {
    /// The runtime guarantees of `RuntimeGuaranteeTests`, the same test bodies,
    /// run against the local clusters: a 3-node RabbitMQ cluster whose
    /// partition queues are quorum queues (the default for a URL naming
    /// several nodes), and a Redis Cluster of 3 masters and 3 replicas.
    ///
    /// `TestServers.using(.cluster)` points every helper the bodies use — the
    /// in-process worker, its clients, `Quiet`'s `rabbitmqctl`, the cleanup —
    /// at the clusters, so a guarantee is written once and proven on both.
    @Suite("Runtime guarantees on the local clusters", .timeLimit(.minutes(20)))
    struct ClusterGuaranteeTests {
        @Test("exact counts: 1,000 counters × 100 adds from 4 connections, every counter at exactly 100")
        func exactCounts() async throws {
            try await onClusters { try await RuntimeGuaranteeTests().thousandCounters() }
        }

        @Test("per-sender order: 10,000 sequenced messages from one sender to one actor arrive in order, once each")
        func perSenderOrder() async throws {
            try await onClusters { try await RuntimeGuaranteeTests().perSenderOrder() }
        }

        @Test("money conserved: 2,000 concurrent transfers, every balance as the ledger says")
        func moneyConserved() async throws {
            try await onClusters { try await RuntimeGuaranteeTests().accounts() }
        }

        @Test("the tree cascade: spawn, find, children, and a stop that cascades through 13 actors")
        func treeCascade() async throws {
            try await onClusters { try await RuntimeGuaranteeTests().treeCascade() }
        }

        @Test("the bodies above run on the clusters: the harness's partition queues are quorum queues of the RabbitMQ cluster, its actors' keys are in the Redis Cluster and not on the single node")
        func reallyOnTheClusters() async throws {
            try await LocalCluster.ensureUp()
            let singleRedisURL = TestServers.redisURL
            try await withHarness(servers: .cluster) { harness in
                let counter = try await harness.client.spawn(type: harness.type("counter"), id: "here")
                let rows = try RabbitControl.jsonRows(try await RabbitControl.run(["list_queues", "name", "type", "--formatter", "json"]), "list_queues")
                let queues = rows.filter { ($0["name"] as? String).map { RabbitControl.isPartitionQueue($0, of: harness.typeNames) } == true }
                #expect(queues.count == harness.typeNames.count * 4, "\(queues)")
                #expect(queues.allSatisfy { $0["type"] as? String == "quorum" }, "\(queues)")

                let key = Keys.actor(counter, partitions: 4)
                let cluster = try await RedisClient.connect(try RedisConfiguration(url: TestServerSet.cluster.redisURL))
                let single = try await RedisClient.connect(try RedisConfiguration(url: singleRedisURL))
                let inCluster = try await cluster.send("EXISTS", key).integer
                let onSingle = try await single.send("EXISTS", key).integer
                await cluster.close()
                await single.close()
                #expect(inCluster == 1 && onSingle == 0, "\(key): \(inCluster ?? -1) in the cluster, \(onSingle ?? -1) on the single node")
            }
        }

        private func onClusters(_ body: () async throws -> Void) async throws {
            try await LocalCluster.ensureUp()
            try await TestServers.using(.cluster, body)
        }
    }
}
