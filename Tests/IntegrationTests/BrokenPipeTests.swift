import Broker
import Testing

/// Writing to a socket whose server has died raises SIGPIPE, whose default
/// action ends the process: a worker would die with its Redis.
@Suite("A write to a dead server fails; it does not end the process", .timeLimit(.minutes(2)))
struct BrokenPipeTests {
    @Test("a 16 MiB command to a Redis killed -9 fails as a lost connection; the process lives on (SIGPIPE)")
    func writeToDeadRedis() async throws {
        let redis = try await ScratchRedis.start()
        defer { redis.stop() }
        let client = try await RedisClient.connect(try RedisConfiguration(url: redis.url()))
        defer { Task { await client.close() } }
        #expect(try await client.send("PING").string == "PONG")
        redis.kill()
        // Larger than the socket's buffers: after the first write the dead
        // peer's reset is back, and the next write gets EPIPE — with the
        // signal, unless the connection's thread blocks it.
        let large = [UInt8](repeating: UInt8(ascii: "x"), count: 16 << 20)
        let error = await #expect(throws: RedisError.self) {
            _ = try await client.send(arguments: [Array("SET".utf8), Array("k".utf8), large])
        }
        #expect(error?.code == .connectionLost || error?.code == .connectFailed, "\(String(describing: error))")
    }
}
