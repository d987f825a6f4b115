@testable import Broker
import Testing

@Suite("Swift ↔ rabbitmq-c values, SHA-1, job queue", .timeLimit(.minutes(1)))
struct CInteropTests {
    @Test("properties survive a trip through rabbitmq-c's structs")
    func propertiesRoundTrip() {
        let properties = AMQPProperties(
            contentType: "application/json", contentEncoding: "identity",
            headers: [
                "s": "text", "b": true, "i8": .int8(-8), "i16": .int16(-16), "i32": .int32(-32), "i64": .int64(-64),
                "u8": .uint8(8), "u16": .uint16(16), "u32": .uint32(32), "f": .float(1.5), "d": .double(2.25),
                "bytes": .bytes([0, 1, 2]), "ts": .timestamp(1_700_000_000), "void": .void,
                "array": .array(["x", .int32(1), .array([])]), "table": .table(["inner": .table(["deep": "yes"])]),
            ],
            persistent: true, priority: 5, correlationID: "c", replyTo: "r", expiration: "60000", messageID: "m",
            timestamp: 42, type: "add", userID: "guest", appID: "greenroom")
        let arena = CArena()
        let c = arena.properties(properties)
        #expect(CDecode.properties(c) == properties)
    }

    @Test("unset properties stay unset")
    func emptyProperties() {
        let arena = CArena()
        #expect(CDecode.properties(arena.properties(AMQPProperties())) == AMQPProperties())
    }

    @Test("SHA-1 matches the standard vectors")
    func sha1() {
        #expect(SHA1.hexDigest("".utf8) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA1.hexDigest("abc".utf8) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hexDigest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(SHA1.hexDigest(Array(repeating: UInt8(ascii: "a"), count: 1_000)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    @Test("the job queue hands over every job once, wakes its thread, and refuses after close")
    func jobQueue() {
        let queue = JobQueue<Int>()
        #expect(queue.push(1))
        #expect(queue.push(2))
        // A pending job makes the wait return at once instead of after 10 s.
        queue.wait(timeoutMilliseconds: 10_000)
        #expect(queue.drain() == [1, 2])
        #expect(queue.drain() == [])
        #expect(queue.push(3))
        #expect(queue.close() == [3])
        #expect(!queue.push(4))
        #expect(queue.isClosed)
    }
}
