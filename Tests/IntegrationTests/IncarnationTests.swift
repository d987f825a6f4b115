import Broker
import Testing
@testable import Workers

/// `Incarnation.establish` against the shared Redis, under a unique type.
@Suite("Incarnation markers at a worker's start", .timeLimit(.minutes(1)))
struct IncarnationTests {
    @Test("a worker starting while another declares the same new type takes it for new, not for lost data")
    func concurrentDeclaration() async throws {
        let redis = try await TestServers.redis()
        let type = TestServers.unique("incarnation")
        let partitions = PartitionID.all(of: type, partitions: 4)
        // One DEL per partition: each incarnation key is in its partition's slot.
        defer { Task { _ = try? await redis.pipeline(partitions.map { ["DEL".redisBytes, RedisLayout.incarnation($0).redisBytes] }); await redis.close() } }
        let incarnation = Incarnation(redis: redis)

        // This worker has found no markers; while it asks RabbitMQ about the
        // queues, the other worker marks the type and declares its queues
        // (it has not registered the type yet: that comes last).
        let standing = try await incarnation.establish(type: type, partitions: 4) {
            try await incarnation.mark(partitions)
            return true
        }
        #expect(standing == .intact)
    }

    @Test("queues in RabbitMQ but neither markers nor the type in Redis: the data is lost, and nothing is written")
    func lostData() async throws {
        let redis = try await TestServers.redis()
        let type = TestServers.unique("incarnation")
        let partitions = PartitionID.all(of: type, partitions: 4)
        // One DEL per partition: each incarnation key is in its partition's slot.
        defer { Task { _ = try? await redis.pipeline(partitions.map { ["DEL".redisBytes, RedisLayout.incarnation($0).redisBytes] }); await redis.close() } }
        let standing = try await Incarnation(redis: redis).establish(type: type, partitions: 4) { true }
        #expect(standing == .lost)
        #expect(try await Incarnation(redis: redis).unmarked(type: type, partitions: 4).count == 4)
    }
}
