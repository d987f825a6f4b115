import Foundation
import Testing

/// `scripts/services up --cluster` on ports of this suite's own (5721–5723,
/// 7021–7026), never the shared clusters' (which other suites use meanwhile):
/// started from nothing, checked whole, nodes killed, restored, stopped and
/// deleted at the end.
@Suite("Local clusters (scripts/services --cluster)", .serialized, .timeLimit(.minutes(15)))
struct LocalClusterTests {
    let cluster = LocalCluster(amqpPort: 5721, redisPort: 7021)

    @Test("up --cluster starts whole clusters and prints their URLs; a killed Redis master comes back as a replica, a killed RabbitMQ node rejoins")
    func upKillAndRestore() async throws {
        try await removeData()
        do {
            try await startWholeAndKillAndRestore()
        } catch {
            try? await removeData()
            throw error
        }
        try await removeData()
    }

    private func startWholeAndKillAndRestore() async throws {
        let up = try await cluster.services(["up", "--cluster"], seconds: 420)
        try #require(up.status == 0, "\(up)")
        #expect(up.stdout.split(separator: "\n") == ["GREENROOM_AMQP_URL=\(cluster.amqpURL)", "GREENROOM_REDIS_URL=\(cluster.redisURL)"],
                "the two lines a program needs, on stdout: \(up)")
        #expect(cluster.amqpURL == "amqp://guest:guest@127.0.0.1:5721,127.0.0.1:5722,127.0.0.1:5723/%2F")
        #expect(cluster.redisURL == "redis+cluster://127.0.0.1:7021,127.0.0.1:7022,127.0.0.1:7023")

        // Whole as started: three RabbitMQ nodes in one cluster, three masters each with a replica.
        let nodes = ["greenroom-5721@localhost", "greenroom-5722@localhost", "greenroom-5723@localhost"]
        #expect(try await cluster.rabbitRunningNodes() == nodes)
        let view = try await cluster.redisView()
        let masters = view.filter { $0.isMaster && $0.hasSlots }
        #expect(masters.count == 3 && view.count == 6, "\(view)")
        for master in masters {
            #expect(view.contains { $0.masterID == master.id && $0.isConnected }, "master \(master.port) has a replica: \(view)")
        }
        #expect(try await cluster.missing() == nil)

        // kill -9 a Redis master and the first RabbitMQ node (the one the others joined).
        let killedMaster = try #require(try await cluster.redisMasters().first)
        try await cluster.killRedisNode(port: killedMaster)
        try await cluster.killRabbitNode(port: 5721)
        try await eventually(60, "a replica of \(killedMaster) promoted in its place") {
            guard let masters = try? await cluster.redisMasters() else { return false }
            return masters.count == 3 && !masters.contains(killedMaster)
        }
        try await eventually(60, "the RabbitMQ cluster to see greenroom-5721 gone") {
            (try? await cluster.rabbitRunningNodes()) == Array(nodes.dropFirst())
        }
        #expect(await !cluster.isWhole())

        // Restored by up --cluster: the old master as a replica of the promoted one, the node back in its cluster.
        try await cluster.restore()
        #expect(try await cluster.redisRole(port: killedMaster) == "slave")
        #expect(try await !cluster.redisMasters().contains(killedMaster))
        #expect(try await cluster.rabbitRunningNodes() == nodes)
        #expect(try await cluster.missing() == nil)
    }

    /// Stops this suite's clusters (if running) and deletes their data, so every run starts from nothing.
    private func removeData() async throws {
        let down = try await cluster.services(["down", "--cluster"], seconds: 120)
        try #require(down.status == 0, "\(down)")
        let state = URL(fileURLWithPath: LocalCluster.script).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".services/cluster")
        let files = ["redis-create-\(cluster.redisPort).log", "lock-\(cluster.amqpPort)-\(cluster.redisPort)"]
        for name in cluster.rabbitPorts.map({ "rabbit-\($0)" }) + cluster.redisPorts.map({ "redis-\($0)" }) + files {
            try? FileManager.default.removeItem(at: state.appendingPathComponent(name))
        }
        #expect((cluster.rabbitPorts + cluster.redisPorts).allSatisfy { !FreePort.isOpen($0) }, "stopped")
    }
}
