import Broker

/// The one Lua script that commits a turn, atomically, in one partition's slot:
/// fencing check, dedup check, optimistic version check, new state/status/
/// parent, children added, and the outbox stored as the dedup record.
///
/// KEYS: actor hash, dedup key, partition epoch, children set.
/// ARGV: epoch, outbox JSON, dedup TTL (s), new state ('' keeps it), new status
/// ('' keeps it), parent ('' none), expected version, children to add….
///
/// Returns `{0, newVersion}` committed; `{1, outbox}` already committed (a
/// redelivery); `{-1, epoch}` fenced (another worker owns the partition);
/// `{-2, version}` the stored version moved (stale cache).
enum CommitScript {
    static let script = RedisScript("""
        local current = redis.call('GET', KEYS[3]) or '0'
        if current ~= ARGV[1] then return {-1, current} end
        local done = redis.call('GET', KEYS[2])
        if done then return {1, done} end
        local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
        if version ~= tonumber(ARGV[7]) then return {-2, tostring(version)} end
        local fields = {'version', tostring(version + 1)}
        if ARGV[4] ~= '' then fields[#fields + 1] = 'state'; fields[#fields + 1] = ARGV[4] end
        if ARGV[5] ~= '' then fields[#fields + 1] = 'status'; fields[#fields + 1] = ARGV[5] end
        if ARGV[6] ~= '' then fields[#fields + 1] = 'parent'; fields[#fields + 1] = ARGV[6] end
        redis.call('HSET', KEYS[1], unpack(fields))
        for i = 8, #ARGV do redis.call('SADD', KEYS[4], ARGV[i]) end
        if ARGV[5] == 'stopped' then redis.call('DEL', KEYS[4]) end
        redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
        return {0, tostring(version + 1)}
        """)

    enum Outcome: Equatable {
        case committed(version: Int64)
        case duplicate(outbox: [UInt8])
        case fenced(currentEpoch: String)
        case versionMoved(stored: Int64)
    }

    static func decode(_ reply: RedisValue) throws -> Outcome {
        guard let parts = reply.array, parts.count == 2, let code = parts[0].integer else {
            throw RedisError(code: .server, command: "EVALSHA", message: "unexpected commit reply \(reply)")
        }
        switch code {
        case 0: return .committed(version: parts[1].integer ?? 0)
        case 1: return .duplicate(outbox: parts[1].bytes ?? [])
        case -1: return .fenced(currentEpoch: parts[1].string ?? "?")
        default: return .versionMoved(stored: parts[1].integer ?? -1)
        }
    }
}
