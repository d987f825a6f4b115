/// Which arguments of a command are keys, so the cluster client can route it
/// to its slot and refuse a command whose keys span slots.
///
/// The rule, for the commands Greenroom and its tools send:
/// - `EVAL`, `EVALSHA` (and `_RO`), `FCALL`: the `numkeys` arguments after
///   the script and the count.
/// - `DEL`, `UNLINK`, `EXISTS`, `TOUCH`, `MGET`, `WATCH`, `SINTER`, `SUNION`,
///   `SDIFF`, `PFCOUNT`: every argument.
/// - `MSET`, `MSETNX`: every other argument, from the first.
/// - `MEMORY USAGE`, `OBJECT …`: the argument after the subcommand.
/// - Commands about the server or the connection (`PING`, `INFO`, `CONFIG`,
///   `SCRIPT`, `SCAN`, `KEYS`, `DBSIZE`, `FLUSHALL`, `CLUSTER`, `WAIT`, …):
///   none. Such a command goes to one node in a cluster; see
///   `RedisClient.eachMaster` to reach them all.
/// - Any other command: its first argument (`GET key`, `HSET key …`,
///   `ZADD key …`), which is how every single-key Redis command is shaped.
enum RedisCommandKeys {
    /// The keys of `arguments` (the command name first).
    static func of(_ arguments: [[UInt8]]) -> ArraySlice<[UInt8]> {
        guard arguments.count > 1 else { return [] }
        let name = RedisConnectionCore.name(of: arguments)
        switch name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            guard arguments.count > 2, let count = Int(String(decoding: arguments[2], as: UTF8.self)), count > 0 else { return [] }
            return arguments[3..<min(arguments.count, 3 + count)]
        case "DEL", "UNLINK", "EXISTS", "TOUCH", "MGET", "WATCH", "SINTER", "SUNION", "SDIFF", "PFCOUNT":
            return arguments[1...]
        case "MSET", "MSETNX":
            return ArraySlice(stride(from: 1, to: arguments.count, by: 2).map { arguments[$0] })
        case "MEMORY", "OBJECT":
            return arguments.count > 2 ? arguments[2...2] : []
        case _ where keyless.contains(name):
            return []
        default:
            return arguments[1...1]
        }
    }

    /// Commands that name no key.
    static let keyless: Set<String> = [
        "PING", "ECHO", "INFO", "CONFIG", "SCRIPT", "FUNCTION", "SCAN", "KEYS", "DBSIZE", "FLUSHALL", "FLUSHDB", "CLUSTER",
        "WAIT", "ASKING", "READONLY", "READWRITE", "AUTH", "SELECT", "HELLO", "CLIENT", "COMMAND", "TIME", "LASTSAVE",
        "BGSAVE", "BGREWRITEAOF", "SAVE", "SLOWLOG", "LATENCY", "DEBUG", "RANDOMKEY", "ROLE", "REPLICAOF", "SLAVEOF",
        "FAILOVER", "SHUTDOWN", "MONITOR", "MULTI", "EXEC", "DISCARD", "UNWATCH", "PUBLISH", "SUBSCRIBE", "ACL", "MODULE",
    ]

    /// The one slot all of `arguments`'s keys are in; nil for a keyless
    /// command. Throws `.crossSlot` when the keys are in different slots.
    static func slot(of arguments: [[UInt8]]) throws(RedisError) -> Int? {
        let keys = of(arguments)
        guard let first = keys.first else { return nil }
        let slot = RedisSlot.of(first)
        for key in keys.dropFirst() where RedisSlot.of(key) != slot {
            throw RedisError.crossSlot(arguments, first: first, other: key)
        }
        return slot
    }
}

extension RedisError {
    /// The error for a command whose keys lie in different slots.
    static func crossSlot(_ arguments: [[UInt8]], first: [UInt8], other: [UInt8]) -> RedisError {
        let firstKey = String(decoding: first, as: UTF8.self), otherKey = String(decoding: other, as: UTF8.self)
        return RedisError(code: .crossSlot, command: RedisConnectionCore.name(of: arguments),
                          message: "keys '\(firstKey)' (slot \(RedisSlot.of(first))) and '\(otherKey)' (slot \(RedisSlot.of(other))) "
                              + "are in different slots; a Redis Cluster runs a command only on keys of one slot: "
                              + "give them the same hash tag ({…}) or send one command per slot")
    }
}
