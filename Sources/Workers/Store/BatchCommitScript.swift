import Broker

/// Commits the turns of many actors of one partition in one Lua script, in
/// the partition's slot: one round trip and one script call for a whole
/// batch of deliveries instead of one per message.
///
/// Each actor's group of turns — consecutive messages it handled in this
/// batch — commits all or nothing: the stored version must still be the one
/// the turns started from, and none of the messages may have a dedup record
/// (else it is a redelivery, and the group is left to the one-message path,
/// which re-publishes the stored outbox). A committed group writes the final
/// state, bumps the version by its number of turns, adds spawned children,
/// and stores each message's outbox as its dedup record — the same records
/// `CommitScript` writes, so either path recognises the other's turns.
///
/// KEYS: the partition epoch; then per group the actor hash, its children
/// set and one dedup key per message.
/// ARGV: epoch, dedup TTL (s), group count; then per group: turns n,
/// expected version, new state, new status ('' keeps it), children count c,
/// c children, n outboxes.
///
/// Returns `{'fenced', epoch}` when another worker owns the partition (then
/// nothing is written), else `{'ok', r1, r2, …}` with per group the new
/// version, or -1 when the group was not committed.
enum BatchCommitScript {
    static let script = RedisScript("""
        local current = redis.call('GET', KEYS[1]) or '0'
        if current ~= ARGV[1] then return {'fenced', current} end
        local results = {'ok'}
        local k, a = 2, 4
        for g = 1, tonumber(ARGV[3]) do
          local n, expected = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
          local state, status, c = ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4])
          local actor, children = KEYS[k], KEYS[k + 1]
          local ok = tonumber(redis.call('HGET', actor, 'version') or '0') == expected
          if ok then
            for i = 1, n do
              if redis.call('EXISTS', KEYS[k + 1 + i]) == 1 then ok = false; break end
            end
          end
          if ok then
            if status ~= '' then
              redis.call('HSET', actor, 'version', tostring(expected + n), 'state', state, 'status', status)
            else
              redis.call('HSET', actor, 'version', tostring(expected + n), 'state', state)
            end
            for i = 1, c do redis.call('SADD', children, ARGV[a + 4 + i]) end
            if status == 'stopped' then redis.call('DEL', children) end
            for i = 1, n do redis.call('SET', KEYS[k + 1 + i], ARGV[a + 4 + c + i], 'EX', ARGV[2]) end
            results[g + 1] = expected + n
          else
            results[g + 1] = -1
          end
          k = k + 2 + n
          a = a + 5 + c + n
        end
        return results
        """)

    /// One actor's turns in a batch.
    struct Group: Sendable {
        var address: ActorAddress
        var expectedVersion: Int64
        var state: [UInt8]
        var newStatus: ActorRecord.Status?
        var children: [ActorAddress]
        /// Per turn, in order: the message id and its outbox as stored.
        var turns: [(messageID: String, outbox: [UInt8])]
    }

    enum Outcome: Equatable {
        /// Per group: its new version, or nil when it was not committed.
        case committed([Int64?])
        case fenced(currentEpoch: String)
    }

    static func arguments(for groups: [Group], type: String, partition: Int, epoch: String, dedupSeconds: Int)
        -> (keys: [any RedisArgument], arguments: [any RedisArgument]) {
        var keys: [any RedisArgument] = [RedisLayout.epoch(type: type, partition: partition)]
        var arguments: [any RedisArgument] = [epoch, dedupSeconds, groups.count]
        for group in groups {
            keys.append(RedisLayout.actor(group.address, partition: partition))
            keys.append(RedisLayout.children(group.address, partition: partition))
            for turn in group.turns {
                keys.append(RedisLayout.dedup(messageID: turn.messageID, type: type, partition: partition))
            }
            arguments += [group.turns.count, group.expectedVersion, group.state, group.newStatus?.rawValue ?? "", group.children.count] as [any RedisArgument]
            arguments += group.children.map(\.description) as [any RedisArgument]
            arguments += group.turns.map(\.outbox) as [any RedisArgument]
        }
        return (keys, arguments)
    }

    static func decode(_ reply: RedisValue, groups: Int) throws -> Outcome {
        guard let parts = reply.array, let head = parts.first?.string else {
            throw RedisError(code: .server, command: "EVALSHA", message: "unexpected batch commit reply \(reply)")
        }
        if head == "fenced" { return .fenced(currentEpoch: parts.count > 1 ? parts[1].string ?? "?" : "?") }
        guard head == "ok", parts.count == groups + 1 else {
            throw RedisError(code: .server, command: "EVALSHA", message: "unexpected batch commit reply \(reply)")
        }
        return .committed(parts.dropFirst().map { value in value.integer.flatMap { $0 > 0 ? $0 : nil } })
    }
}
