import Testing
@testable import Workers

@Suite("Activation cache", .timeLimit(.minutes(1)))
struct ActivationCacheTests {
    static func record(_ version: Int64) -> ActorRecord {
        ActorRecord(status: .active, parent: nil, version: version, state: Array("{}".utf8))
    }

    static let home = PartitionID(type: "counter", index: 0)

    @Test("stays within its capacity and passivates the least recently used first")
    func boundedLRU() throws {
        var cache = ActivationCache(capacity: 100)
        let addresses = try (0..<100).map { try ActorAddress(type: "counter", id: "c\($0)") }
        for (index, address) in addresses.enumerated() { cache.put(address, in: Self.home, Self.record(Int64(index + 1))) }
        #expect(cache.count == 100)
        // Touch the first ten, so the next ones are now the oldest.
        for address in addresses.prefix(10) { _ = cache.get(address, in: Self.home) }
        cache.put(try ActorAddress(type: "counter", id: "new"), in: Self.home, Self.record(1))
        #expect(cache.count <= 100)
        #expect(cache.count >= 75)
        for address in addresses.prefix(10) { #expect(cache.get(address, in: Self.home) != nil, "\(address) was recently used") }
        #expect(cache.get(addresses[10], in: Self.home) == nil, "the least recently used go first")
        #expect(cache.get(try ActorAddress(type: "counter", id: "new"), in: Self.home) != nil)
    }

    @Test("counts its actors by type through puts, updates, removes and passivation (the activations gauge)")
    func countsByType() throws {
        var cache = ActivationCache(capacity: 8)
        let counters = try (0..<6).map { try ActorAddress(type: "counter", id: "c\($0)") }
        let accounts = try (0..<2).map { try ActorAddress(type: "account", id: "a\($0)") }
        for address in counters + accounts { cache.put(address, in: PartitionID(type: address.type, index: 0), Self.record(1)) }
        cache.put(counters[0], in: Self.home, Self.record(2))  // an update is not another actor
        #expect(cache.countsByType == ["counter": 6, "account": 2])
        cache.remove(counters[1], in: Self.home)
        cache.remove(counters[1], in: Self.home)  // already gone: counted once
        #expect(cache.countsByType == ["counter": 5, "account": 2])
        for index in 0..<3 { cache.put(try ActorAddress(type: "tree", id: "t\(index)"), in: PartitionID(type: "tree", index: 0), Self.record(1)) }
        #expect(cache.countsByType.values.reduce(0, +) == cache.count, "passivation recounts: \(cache.countsByType)")
        #expect(cache.count < 10)
    }

    @Test("remove forgets an actor")
    func remove() throws {
        var cache = ActivationCache(capacity: 10)
        let address = try ActorAddress(type: "counter", id: "x")
        cache.put(address, in: Self.home, Self.record(3))
        #expect(cache.get(address, in: Self.home)?.version == 3)
        cache.remove(address, in: Self.home)
        #expect(cache.get(address, in: Self.home) == nil)
    }

    @Test("an actor cached in one partition is unknown in another")
    func keyedByPartition() throws {
        var cache = ActivationCache(capacity: 10)
        let address = try ActorAddress(type: "counter", id: "alice")
        cache.put(address, in: Self.home, Self.record(1_000))
        #expect(cache.get(address, in: PartitionID(type: "counter", index: 3)) == nil)
        cache.remove(address, in: PartitionID(type: "counter", index: 3))
        #expect(cache.get(address, in: Self.home)?.version == 1_000)
    }
}
