/// The partition function every Greenroom client must agree on:
/// `partition(ID) = jump_consistent_hash(fnv1a_64(utf8(ID)), P)`.
///
/// docs/PROTOCOL.md gives test vectors so other languages can check theirs.
public enum Partitioning {
    /// FNV-1a, 64-bit, over the bytes given.
    public static func fnv1a64<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 1_099_511_628_211
        }
        return hash
    }

    /// Lamping & Veach's jump consistent hash: maps `key` to a bucket in
    /// `0..<buckets` so that growing `buckets` moves as few keys as possible.
    public static func jumpConsistentHash(_ key: UInt64, buckets: Int32) -> Int32 {
        precondition(buckets > 0, "jump consistent hash needs at least one bucket")
        var key = key
        var bucket: Int64 = -1
        var next: Int64 = 0
        while next < Int64(buckets) {
            bucket = next
            key = key &* 2_862_933_555_777_941_757 &+ 1
            next = Int64(Double(bucket + 1) * (Double(Int64(1) << 31) / Double((key >> 33) + 1)))
        }
        return Int32(bucket)
    }

    /// The partition of an actor ID among `partitions` partitions.
    public static func partition(of id: String, partitions: Int) -> Int {
        Int(jumpConsistentHash(fnv1a64(id.utf8), buckets: Int32(partitions)))
    }
}
