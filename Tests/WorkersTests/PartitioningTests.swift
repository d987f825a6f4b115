import Testing
import Workers

@Suite("The partition function", .timeLimit(.minutes(1)))
struct PartitioningTests {
    @Test("FNV-1a 64 matches the reference values")
    func fnv() {
        #expect(Partitioning.fnv1a64("".utf8) == 0xCBF2_9CE4_8422_2325)
        #expect(Partitioning.fnv1a64("a".utf8) == 0xAF63_DC4C_8601_EC8C)
        #expect(Partitioning.fnv1a64("foobar".utf8) == 0x8594_4171_F739_67E8)
    }

    @Test("jump consistent hash matches other implementations' vectors",
          arguments: [(UInt64(1), Int32(1), Int32(0)), (42, 57, 43), (0xDEAD_10CC, 1, 0), (0xDEAD_10CC, 666, 361),
                      (256, 1024, 520), (1, 128, 55), (129, 128, 120), (128, 100_000_000, 38_172_097), (UInt64.max, 128, 92)])
    func jump(key: UInt64, buckets: Int32, expected: Int32) {
        #expect(Partitioning.jumpConsistentHash(key, buckets: buckets) == expected)
    }

    @Test("growing the partition count only moves keys to the new partition")
    func minimalMovement() {
        for index in 0..<2_000 {
            let id = "actor-\(index)"
            let before = Partitioning.partition(of: id, partitions: 16)
            let after = Partitioning.partition(of: id, partitions: 17)
            #expect(after == before || after == 16)
        }
    }

    @Test("partitions spread evenly")
    func spread() {
        var counts = [Int](repeating: 0, count: 16)
        for index in 0..<16_000 { counts[Partitioning.partition(of: "user-\(index)", partitions: 16)] += 1 }
        #expect(counts.allSatisfy { (800...1_200).contains($0) }, "\(counts)")
    }
}

@Suite("docs/PROTOCOL.md partition vectors", .timeLimit(.minutes(1)))
struct ProtocolVectorTests {
    /// The table in docs/PROTOCOL.md, computed by an independent implementation.
    static let vectors: [(id: String, fnv: UInt64, p16: Int, p7: Int)] = [
        ("0", 0xaf63ad4c86019caf, 12, 6),
        ("1", 0xaf63ac4c86019afc, 2, 2),
        ("42", 0x07ee7e07b4b19223, 15, 4),
        ("alice", 0x508b2abb65a03907, 4, 4),
        ("bob", 0x004d4419134a0a54, 12, 2),
        ("user-1001", 0x435404761a7ad39f, 6, 6),
        ("order:2026-11-24:17", 0x8f8ca0fcd40156db, 12, 0),
        ("eu@shop.example", 0x62ee1b2d8f524a19, 4, 4),
        ("A.B_C-d", 0x7d058434366719d7, 9, 6),
        ("counter-01", 0x73b4d42824b0570d, 8, 3),
        (String(repeating: "x", count: 200), 0x6ee14c8caecd5c45, 6, 6),
    ]

    @Test("every documented ID hashes and partitions as documented")
    func vectors() {
        for vector in Self.vectors {
            #expect(Partitioning.fnv1a64(vector.id.utf8) == vector.fnv, "\(vector.id)")
            #expect(Partitioning.partition(of: vector.id, partitions: 16) == vector.p16, "\(vector.id)")
            #expect(Partitioning.partition(of: vector.id, partitions: 7) == vector.p7, "\(vector.id)")
        }
    }
}

@Suite("Rendezvous assignment", .timeLimit(.minutes(1)))
struct RendezvousTests {
    @Test("3 workers × 16 partitions: every partition has one owner and nobody owns more than 7")
    func balanced() {
        for trial in 0..<50 {
            let workers = (0..<3).map { "host\(trial)-\($0)-\(trial * 7919)" }
            let owners = Rendezvous.assignments(type: "counter", partitions: 16, among: workers)
            #expect(owners.count == 16)
            let load = Dictionary(grouping: owners.values, by: { $0 }).mapValues(\.count)
            #expect(load.values.allSatisfy { $0 <= 7 }, "trial \(trial): \(load)")
            #expect(Set(owners.values).isSubset(of: Set(workers)))
        }
    }

    @Test("every worker computes the same answer whatever order it lists the others in")
    func deterministic() {
        let workers = ["w-1", "w-2", "w-3", "w-4"]
        let reference = Rendezvous.assignments(type: "t", partitions: 32, among: workers)
        #expect(Rendezvous.assignments(type: "t", partitions: 32, among: workers.reversed()) == reference)
        #expect(Rendezvous.assignments(type: "t", partitions: 32, among: []) == [:])
    }

    @Test("a join moves few partitions: about a quarter going from 3 to 4 workers")
    func fewMoves() {
        var moved = 0
        for trial in 0..<20 {
            let before = (0..<3).map { "n\(trial)-\($0)" }
            let after = before + ["n\(trial)-new"]
            let old = Rendezvous.assignments(type: "t", partitions: 64, among: before)
            let new = Rendezvous.assignments(type: "t", partitions: 64, among: after)
            moved += (0..<64).filter { old[$0] != new[$0] }.count
        }
        // The ideal is 16 of 64 per join; bounded loads cost a few more.
        #expect(moved <= 20 * 26, "moved \(moved) over 20 joins")
    }
}
