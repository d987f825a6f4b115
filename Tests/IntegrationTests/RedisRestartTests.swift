import Foundation
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

@Suite("Redis going away mid-stream", .timeLimit(.minutes(5)))
struct RedisRestartTests {
    @Test("Redis restarted while 1,000 adds flow: every add applied exactly once, nothing stuck")
    func redisRestart() async throws {
        var template = Array("/tmp/greenroom-redis-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        let redis = try await ScratchRedis.start(durableDirectory: directory)
        let harness = try await RuntimeHarness.start(redisURL: "redis://127.0.0.1:\(redis.port)/0")
        let counters = try (0..<50).map { try harness.address("counter", "r\($0)") }
        let client = harness.client

        let sending = Task {
            for _ in 0..<20 {
                try await client.send(counters.map { .init(to: $0, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true) })
            }
        }
        // Once some adds are committed, take Redis away and bring it back (its data is in the append-only file).
        try await eventually(60, "the first adds committed") {
            ((try? await client.state(of: counters[0])).map { String(decoding: $0, as: UTF8.self) } ?? "").contains("count")
        }
        redis.stop()
        try await redis.launch()
        try await sending.value

        let counts = try await waitForCounters(client, counters, total: 20, seconds: 120)
        #expect(counts.allSatisfy { $0 == 20 }, "\(counts)")
        try await harness.cleanUp()
        redis.stop()
    }
}
