import Broker
import Foundation
import Testing
import Workers

/// The dedup record stores a turn's replies and sends compactly: payloads as
/// text, not JSON arrays of numbers (3–4 bytes per payload byte).
@Suite("Dedup records store replies compactly", .timeLimit(.minutes(2)))
struct DedupRecordTests {
    @Test("an echo's 2,000-byte reply costs about 2,000 bytes in the dedup record, not 7,000")
    func replyStoredAsText() async throws {
        try await withHarness { harness in
            let echo = try await harness.client.spawn(type: harness.type("echo"), id: "e")
            let text = String(repeating: "abcdefghij", count: 200)
            let reply = try await harness.client.ask(echo, kind: "ping", payload: Array(#"{"text":"\#(text)"}"#.utf8))
            #expect(reply.text.contains(text))
            let redis = try await TestServers.redis()
            let partition = PartitionID(of: echo, partitions: harness.runtime.configuration.partitions)
            let records = try await redis.send("HVALS", "gr:\(partition.hashTag):dedup").array ?? []
            let pong = try #require(records.compactMap(\.bytes).first { String(decoding: $0, as: UTF8.self).contains("pong") })
            #expect(pong.count < 2 * text.utf8.count, "\(pong.count) bytes stored for a \(text.utf8.count + 11)-byte reply")
            await redis.close()
        }
    }
}
