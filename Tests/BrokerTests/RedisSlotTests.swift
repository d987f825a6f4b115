@testable import Broker
import Testing

@Suite("Redis Cluster slots and command keys", .timeLimit(.minutes(1)))
struct RedisSlotTests {
    @Test("CRC16 is XMODEM's, as the cluster specification gives it")
    func crc() {
        #expect(RedisSlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(RedisSlot.crc16([UInt8]()) == 0)
    }

    /// Answers of `CLUSTER KEYSLOT` from a real Redis 7.0 cluster.
    @Test("slots match what CLUSTER KEYSLOT answers", arguments: [
        ("123456789", 12739), ("foo", 12182), ("bar", 5061), ("hello", 866),
        ("gr:{counter.0}:a:x", 14243), ("{counter.0}", 14243), ("gr:{members}:info", 6465), ("gr:types", 13),
        ("{user1000}.following", 3443), ("foo{}{bar}", 8363), ("foo{{bar}}zap", 4015), ("foo{bar}{zap}", 5061),
    ])
    func slots(key: String, slot: Int) {
        #expect(RedisSlot.of(key) == slot)
    }

    @Test("a hash tag is the text between the first { and the next }, when not empty")
    func hashTags() {
        #expect(RedisSlot.of("{user1000}.following") == RedisSlot.of("{user1000}.followers"))
        #expect(RedisSlot.of("foo{bar}{zap}") == RedisSlot.of("bar"))
        #expect(RedisSlot.of("foo{}{bar}") == RedisSlot.of("foo{}{bar}".utf8.map { $0 }))
        #expect(RedisSlot.of("foo{}{bar}") != RedisSlot.of("bar"))
        #expect(RedisSlot.of("foo{{bar}}zap") == RedisSlot.of("{bar"))
        #expect(RedisSlot.of("no-close{") == RedisSlot.of(Array("no-close{".utf8)))
    }

    private func command(_ words: String...) -> [[UInt8]] { words.map { Array($0.utf8) } }

    @Test("keys: the first argument by default, scripts by numkeys, every argument of DEL and its kind, none for server commands")
    func keys() throws {
        #expect(RedisCommandKeys.of(command("GET", "a")).map { String(decoding: $0, as: UTF8.self) } == ["a"])
        #expect(RedisCommandKeys.of(command("HSET", "h", "f", "v")).count == 1)
        #expect(RedisCommandKeys.of(command("EVALSHA", "sha", "2", "k1", "k2", "arg")).map { String(decoding: $0, as: UTF8.self) } == ["k1", "k2"])
        #expect(RedisCommandKeys.of(command("EVAL", "return 1", "0", "arg")).isEmpty)
        #expect(RedisCommandKeys.of(command("DEL", "a", "b", "c")).count == 3)
        #expect(RedisCommandKeys.of(command("MSET", "a", "1", "b", "2")).map { String(decoding: $0, as: UTF8.self) } == ["a", "b"])
        #expect(RedisCommandKeys.of(command("MEMORY", "USAGE", "k", "SAMPLES", "0")).map { String(decoding: $0, as: UTF8.self) } == ["k"])
        for keyless in ["INFO", "PING", "SCAN", "CONFIG", "SCRIPT", "DBSIZE", "FLUSHALL", "CLUSTER", "WAIT", "KEYS"] {
            #expect(RedisCommandKeys.of(command(keyless, "0", "x")).isEmpty, "\(keyless)")
        }
        #expect(try RedisCommandKeys.slot(of: command("PING")) == nil)
        #expect(try RedisCommandKeys.slot(of: command("DEL", "{t}a", "{t}b")) == RedisSlot.of("t"))
    }

    @Test("keys in different slots are a crossSlot error that names them")
    func crossSlot() {
        let error = #expect(throws: RedisError.self) { try RedisCommandKeys.slot(of: command("DEL", "foo", "bar")) }
        #expect(error?.code == .crossSlot)
        #expect(error?.message.contains("'foo' (slot 12182)") == true)
        #expect(error?.message.contains("'bar' (slot 5061)") == true)
        #expect(throws: RedisError.self) { try RedisCommandKeys.slot(of: command("EVALSHA", "sha", "2", "{a}x", "{b}y")) }
    }

    @Test("redirects: MOVED and ASK name a slot and a node; busy and unreachable are retried; a lost command is not")
    func redirects() {
        func server(_ message: String) -> RedisError { RedisError(code: .server, command: "GET", message: message) }
        #expect(RedisClusterRedirect(server("MOVED 3999 127.0.0.1:6381")) == .moved(slot: 3999, to: RedisEndpoint(host: "127.0.0.1", port: 6381)))
        #expect(RedisClusterRedirect(server("ASK 3999 ::1:6381")) == .ask(RedisEndpoint(host: "::1", port: 6381)))
        #expect(RedisClusterRedirect(server("TRYAGAIN Multiple keys request during rehashing of slot")) == .busy)
        #expect(RedisClusterRedirect(server("CLUSTERDOWN The cluster is down")) == .busy)
        #expect(RedisClusterRedirect(server("WRONGTYPE Operation against a key")) == RedisClusterRedirect.none)
        #expect(RedisClusterRedirect(RedisError(code: .connectFailed, command: "GET", message: "refused")) == .unreachable)
        #expect(RedisClusterRedirect(RedisError(code: .connectionLost, command: "GET", message: "reset")) == .inFlight)
        #expect(RedisClusterRedirect(RedisError(code: .timedOut, command: "GET", message: "2000 ms")) == .inFlight)
    }

    @Test("the slot map reads CLUSTER SLOTS: ranges, masters, replica counts, an empty host as the node asked")
    func slotMap() throws {
        func node(_ host: String, _ port: Int64) -> RedisValue { .array([.bulk(Array(host.utf8)), .integer(port), .bulk(Array("id".utf8))]) }
        let reply = RedisValue.array([
            .array([.integer(0), .integer(5460), node("127.0.0.1", 7001), node("127.0.0.1", 7004)]),
            .array([.integer(5461), .integer(10922), node("", 7002)]),
            .array([.integer(10923), .integer(16383), node("127.0.0.1", 7003), node("127.0.0.1", 7005), node("127.0.0.1", 7006)]),
        ])
        var map = try RedisSlotMap(clusterSlots: reply, askedHost: "10.0.0.9")
        #expect(map.master(ofSlot: 0) == RedisEndpoint(host: "127.0.0.1", port: 7001))
        #expect(map.master(ofSlot: 5461) == RedisEndpoint(host: "10.0.0.9", port: 7002))
        #expect(map.master(ofSlot: 16383) == RedisEndpoint(host: "127.0.0.1", port: 7003))
        #expect(map.replicaCounts[RedisEndpoint(host: "10.0.0.9", port: 7002)] == 0)
        #expect(map.replicaCounts[RedisEndpoint(host: "127.0.0.1", port: 7003)] == 2)
        map.move(slot: 0, to: RedisEndpoint(host: "127.0.0.1", port: 7003))
        #expect(map.master(ofSlot: 0) == RedisEndpoint(host: "127.0.0.1", port: 7003))
        #expect(map.master(ofSlot: 1) == RedisEndpoint(host: "127.0.0.1", port: 7001))
        #expect(throws: RedisError.self) { try RedisSlotMap(clusterSlots: .array([]), askedHost: "h") }
        #expect(throws: RedisError.self) { try RedisSlotMap(clusterSlots: .array([.array([.integer(9), .integer(2), node("h", 1)])]), askedHost: "h") }
    }
}
