import Testing
@testable import Workers

@Suite("Activation cache", .timeLimit(.minutes(1)))
struct ActivationCacheTests {
    static func record(_ version: Int64) -> ActorRecord {
        ActorRecord(status: .active, parent: nil, version: version, state: Array("{}".utf8))
    }

    @Test("stays within its capacity and passivates the least recently used first")
    func boundedLRU() throws {
        var cache = ActivationCache(capacity: 100)
        let addresses = try (0..<100).map { try ActorAddress(type: "counter", id: "c\($0)") }
        for (index, address) in addresses.enumerated() { cache.put(address, Self.record(Int64(index + 1))) }
        #expect(cache.count == 100)
        // Touch the first ten, so the next ones are now the oldest.
        for address in addresses.prefix(10) { _ = cache.get(address) }
        cache.put(try ActorAddress(type: "counter", id: "new"), Self.record(1))
        #expect(cache.count <= 100)
        #expect(cache.count >= 75)
        for address in addresses.prefix(10) { #expect(cache.get(address) != nil, "\(address) was recently used") }
        #expect(cache.get(addresses[10]) == nil, "the least recently used go first")
        #expect(cache.get(try ActorAddress(type: "counter", id: "new")) != nil)
    }

    @Test("remove forgets an actor")
    func remove() throws {
        var cache = ActivationCache(capacity: 10)
        let address = try ActorAddress(type: "counter", id: "x")
        cache.put(address, Self.record(3))
        #expect(cache.get(address)?.version == 3)
        cache.remove(address)
        #expect(cache.get(address) == nil)
    }
}
