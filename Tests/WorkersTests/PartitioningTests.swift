import Testing
import Workers

@Suite("The partition function")
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
