/// Redis Cluster's key → slot function: CRC16 (XMODEM) of the key, or of its
/// hash tag, modulo 16384 (the cluster specification, "Keys distribution
/// model"). Keys that share a hash tag — the part between the first `{` and
/// the next `}`, when not empty — share a slot, which is how every key of a
/// Greenroom partition (`gr:{TYPE.P}:…`) lands on one node.
public enum RedisSlot {
    /// The number of slots in a Redis Cluster.
    public static let count = 16_384

    /// The slot of `key`.
    public static func of(_ key: some Collection<UInt8>) -> Int {
        Int(crc16(hashed(key)) & 0x3FFF)
    }

    /// The slot of `key`.
    public static func of(_ key: String) -> Int { of(Array(key.utf8)) }

    /// The part of `key` that is hashed: its hash tag if it has a non-empty
    /// one, else the whole key.
    static func hashed<Key: Collection<UInt8>>(_ key: Key) -> Key.SubSequence {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")) else { return key[...] }
        let afterOpen = key.index(after: open)
        guard let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close != afterOpen else { return key[...] }
        return key[afterOpen..<close]
    }

    /// CRC16-CCITT as XMODEM computes it (polynomial 0x1021, initial value 0):
    /// `crc16("123456789") == 0x31C3`.
    static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}
