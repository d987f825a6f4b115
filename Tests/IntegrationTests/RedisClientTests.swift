import Broker
import Testing

@Suite("Redis against a real server", .timeLimit(.minutes(3)))
struct RedisClientTests {
    @Test("a pipeline returns each command's reply in order, an error reply only for its own command")
    func explicitPipeline() async throws {
        let redis = try await TestServers.redis()
        let key = TestServers.unique("explicit-pipeline")
        let commands: [[[UInt8]]] = [
            ["SET", key, "1"], ["INCR", key], ["HGET", key, "field"], ["GET", key], ["DEL", key],
        ].map { $0.map { Array($0.utf8) } }
        let results = try await redis.pipeline(commands)
        #expect(results.count == 5)
        #expect(try results[0].get().string == "OK")
        #expect(try results[1].get().integer == 2)
        // HGET on a string key is a WRONGTYPE error: that command fails alone.
        #expect(throws: RedisError.self) { try results[2].get() }
        #expect(try results[3].get().string == "2")
        #expect(try results[4].get().integer == 1)
        #expect(try await redis.pipeline([]).isEmpty)
        await redis.close()
    }

    @Test("10,000 commands from 100 concurrent tasks on one connection each get their own reply")
    func concurrentPipelining() async throws {
        let redis = try await TestServers.redis()
        let prefix = TestServers.unique("pipeline")
        try await within(60, "10,000 pipelined commands") {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<100 {
                    group.addTask {
                        for index in 0..<50 {
                            let key = "\(prefix):\(task):\(index)"
                            let value = "value-\(task)-\(index)"
                            let set = try await redis.send("SET", key, value)
                            let get = try await redis.send("GET", key)
                            #expect(set.string == "OK")
                            #expect(get.string == value)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let keys = try #require(try await redis.send("KEYS", "\(prefix):*").array)
        #expect(keys.count == 5_000)
        // One DEL per slot: a command may not span slots.
        let bySlot = Dictionary(grouping: keys.compactMap(\.bytes), by: RedisSlot.of)
        let deleted = try await redis.pipeline(bySlot.values.map { ["DEL".redisBytes] + $0 })
        #expect(try deleted.reduce(0) { $0 + (try $1.get().integer ?? 0) } == 5_000)
        await redis.close()
    }

    @Test("binary values with NUL bytes round-trip, and replies decode to every type")
    func binaryAndReplyTypes() async throws {
        let redis = try await TestServers.redis()
        // A hash tag: the key and its `:list` sibling are deleted together, so share a slot.
        let key = "{\(TestServers.unique("binary"))}"
        let value: [UInt8] = [0, 1, 2, 0, 255, 0, 10, 13, 0]
        try await redis.send(arguments: ["SET".redisBytes, key.redisBytes, value])
        #expect(try await redis.send("GET", key) == .bulk(value))
        #expect(try await redis.send("STRLEN", key) == .integer(9))
        #expect(try await redis.send("GET", key + ":missing") == .null)
        #expect(try await redis.send("PING") == .status("PONG"))
        try await redis.send("RPUSH", key + ":list", "a", "", "c")
        #expect(try await redis.send("LRANGE", key + ":list", 0, -1) == .array([.bulk(Array("a".utf8)), .bulk([]), .bulk(Array("c".utf8))]))

        let error = await #expect(throws: RedisError.self) { try await redis.send("INCR", key) }
        #expect(error?.code == .server)
        #expect(error?.command == "INCR")
        #expect(error?.description.contains("not an integer") == true)
        // The connection is fine after an error reply.
        #expect(try await redis.send("DEL", key, key + ":list") == .integer(2))
        await redis.close()
    }

    @Test("scripts run by SHA, and still run after SCRIPT FLUSH")
    func scriptsSurviveFlush() async throws {
        let redis = try await TestServers.redis()
        let key = TestServers.unique("script")
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        #expect(script.sha1.count == 40)
        #expect(try await redis.run(script, keys: [key], arguments: [5]) == .integer(5))
        #expect(try await redis.send("SCRIPT", "EXISTS", script.sha1) == .array([.integer(1)]))
        try await redis.send("SCRIPT", "FLUSH")
        #expect(try await redis.send("SCRIPT", "EXISTS", script.sha1) == .array([.integer(0)]))
        #expect(try await redis.run(script, keys: [key], arguments: [2]) == .integer(7))
        try await redis.send("DEL", key)
        await redis.close()
    }

    @Test("the client reconnects after the server restarts")
    func reconnectAfterRestart() async throws {
        let server = try await ScratchRedis.start()
        defer { server.stop() }
        let redis = try await RedisClient.connect(RedisConfiguration(port: server.port))
        try await redis.send("SET", "k", "before")
        server.stop()
        await #expect(throws: RedisError.self) { try await redis.send("GET", "k") }
        try await server.launch()
        // The first command after the restart reconnects; the data was not persisted.
        #expect(try await redis.send("GET", "k") == .null)
        #expect(try await redis.send("SET", "k", "after").string == "OK")
        #expect(try await redis.send("GET", "k").string == "after")
        await redis.close()
        await #expect(throws: RedisError.self) { try await redis.send("PING") }
    }
}
