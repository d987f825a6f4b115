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

        private func onClusters(_ body: () async throws -> Void) async throws {
            try await LocalCluster.ensureUp()
            try await TestServers.using(.cluster, body)
        }
    }
}
