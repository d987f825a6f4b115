import Broker

/// The one Lua script that commits turns, atomically, in one partition's
/// slot. A call carries one or more *groups*: an actor's consecutive turns
/// (run on its state, in order) plus the ids of that actor's messages that
/// were refused and are about to be dead-lettered. Concurrent actors' groups
/// share a call (`CommitCoalescer`), so a busy partition pays one script per
/// round trip, not one per message.
///
/// First the fencing check: the partition's epoch must still be the
/// caller's, else nothing is written (`fenced`). Then, per group, all or
/// nothing:
/// 1. **duplicate** — one of its message ids is in the partition's dedup
///    record: answers those ids' positions and stored outboxes, writes nothing
///    (the caller re-publishes those outboxes and runs the rest again);
/// 2. **stale** — the actor's stored version is not the one its turns started
///    from: answers the stored version, writes nothing;
/// 3. **committed** — writes the final state, version + turns, status,
///    parent, new children (all of them dropped on stop), and each applied
///    message's outbox into the dedup record; answers the new version.
///
/// The dedup record of a partition is a hash (id → outbox) and a log of
/// `UNIXSECONDS ID`, oldest first. After the groups, the log is trimmed to
/// the newest `capacity` ids and to those younger than `window` seconds, so
/// its size is bounded by the partition's recent traffic, not its history
/// (docs/DESIGN.md, "Deduplication").
///
/// Every id a group commits, refuses or finds already committed also loses
/// its crash mark (`CrashMarks`): the message finished. The marks hash
/// exists only after redeliveries, so the normal path checks it once per call.
///
/// A committed group also writes its actor's future (docs/TIME.md): the
/// `schedules` field, entries added to the partition's due set (delayed
/// sends, timers, reminders), then entries removed (cancelled or replaced).
///
/// KEYS: epoch, dedup hash, dedup log, crash marks, due set, due entries;
/// then per group: actor hash, children set.
/// ARGV: epoch, now (unix s), window (s), capacity, group count; then per
/// group: expected version, state ('' keeps it), status ('' keeps it),
/// parent ('' keeps it), c, c children, n, n × (id, outbox), m, m checked
/// ids, schedules ('' keeps them), d, d × (id, due ms, entry), r, r × id.
///
/// Replies `{'fenced', epoch}` or `{'ok', g1, g2, …}` with per group
/// `{'committed', version}`, `{'stale', version}`, `{'checked'}` (no turns and
/// no duplicates) or `{'duplicate', i1, outbox1, i2, outbox2, …}` (1-based
/// positions among the n applied then the m checked ids).
enum CommitScript {
    static let script = RedisScript("""
        local current = redis.call('GET', KEYS[1]) or '0'
        if current ~= ARGV[1] then return {'fenced', current} end
        local now, window, capacity = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local marked = redis.call('EXISTS', KEYS[4]) == 1
        local results = {'ok'}
        local a, k = 6, 7
        for g = 1, tonumber(ARGV[5]) do
          local actor, children = KEYS[k], KEYS[k + 1]
          local expected, state, status, parent = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
          local c = tonumber(ARGV[a + 4])
          local n = tonumber(ARGV[a + 5 + c])
          local applied = a + 6 + c
          local m = tonumber(ARGV[applied + 2 * n])
          local checked = applied + 2 * n + 1
          local schedules = checked + m
          local d = tonumber(ARGV[schedules + 1])
          local r = tonumber(ARGV[schedules + 2 + 3 * d])
          local removed = schedules + 3 + 3 * d
          local duplicates = {'duplicate'}
          for i = 1, n do
            local done = redis.call('HGET', KEYS[2], ARGV[applied + 2 * (i - 1)])
            if done then duplicates[#duplicates + 1] = i; duplicates[#duplicates + 1] = done end
          end
          for i = 1, m do
            local done = redis.call('HGET', KEYS[2], ARGV[checked + i - 1])
            if done then duplicates[#duplicates + 1] = n + i; duplicates[#duplicates + 1] = done end
          end
          local version = tonumber(redis.call('HGET', actor, 'version') or '0')
          local finished = #duplicates > 1 or version == expected
          if marked and finished then
            for i = 1, n do redis.call('HDEL', KEYS[4], ARGV[applied + 2 * (i - 1)]) end
            for i = 1, m do redis.call('HDEL', KEYS[4], ARGV[checked + i - 1]) end
          end
          if #duplicates > 1 then
            results[g + 1] = duplicates
          elseif version ~= expected then
            results[g + 1] = {'stale', version}
          elseif n == 0 then
            results[g + 1] = {'checked'}
          else
            redis.call('HSET', actor, 'version', tostring(expected + n))
            if state ~= '' then redis.call('HSET', actor, 'state', state) end
            if status ~= '' then redis.call('HSET', actor, 'status', status) end
            if parent ~= '' then redis.call('HSET', actor, 'parent', parent) end
            for i = 1, c do redis.call('SADD', children, ARGV[a + 4 + i]) end
            if status == 'stopped' then redis.call('DEL', children) end
            if ARGV[schedules] ~= '' then redis.call('HSET', actor, 'schedules', ARGV[schedules]) end
            for i = 1, d do
              local at = schedules + 2 + 3 * (i - 1)
              redis.call('ZADD', KEYS[5], ARGV[at + 1], ARGV[at])
              redis.call('HSET', KEYS[6], ARGV[at], ARGV[at + 2])
            end
            for i = 1, r do
              redis.call('ZREM', KEYS[5], ARGV[removed + i - 1])
              redis.call('HDEL', KEYS[6], ARGV[removed + i - 1])
            end
            for i = 1, n do
              local id = ARGV[applied + 2 * (i - 1)]
              redis.call('HSET', KEYS[2], id, ARGV[applied + 2 * i - 1])
              redis.call('RPUSH', KEYS[3], now .. ' ' .. id)
            end
            results[g + 1] = {'committed', expected + n}
          end
          k = k + 2
          a = removed + r
        end
        local excess = redis.call('LLEN', KEYS[3]) - capacity
        if excess > 0 then
          for _, entry in ipairs(redis.call('LPOP', KEYS[3], excess)) do
            redis.call('HDEL', KEYS[2], string.sub(entry, string.find(entry, ' ') + 1))
          end
        end
        for _ = 1, 64 do
          local oldest = redis.call('LINDEX', KEYS[3], 0)
          if not oldest then break end
          local space = string.find(oldest, ' ')
          if now - tonumber(string.sub(oldest, 1, space - 1)) <= window then break end
          redis.call('LPOP', KEYS[3])
          redis.call('HDEL', KEYS[2], string.sub(oldest, space + 1))
        end
        return results
        """)

    /// One actor's part of a commit.
    struct Group: Sendable {
        var address: ActorAddress
        /// The stored version the turns started from (0: the actor did not exist).
        var expectedVersion: Int64
        /// The state after the turns; nil keeps the stored one.
        var state: [UInt8]?
        var status: ActorRecord.Status?
        var parent: ActorAddress?
        var children: [ActorAddress] = []
        /// Per applied turn, in order: its message id and its outbox as stored.
        var applied: [(messageID: String, outbox: [UInt8])] = []
        /// Ids of refused messages: checked against the dedup record, not written.
        var checked: [String] = []
        /// The actor's timers and reminders as JSON, when the turns changed them.
        var schedules: [UInt8]?
        /// Due entries to add (id, due ms, entry JSON), then ids to remove.
        var dueAdded: [(id: String, due: Int64, entry: [UInt8])] = []
        var dueRemoved: [String] = []
    }

    /// What the script decided for one group.
    enum GroupOutcome: Sendable, Equatable {
        case committed(version: Int64)
        /// Nothing applied and nothing duplicated: the refusals stand.
        case checked
        /// The stored version moved: reload and run again.
        case stale(storedVersion: Int64)
        /// Positions (0-based, applied then checked) already committed, with
        /// their stored outboxes.
        case duplicate([Int: [UInt8]])
    }

    enum Outcome: Sendable, Equatable {
        case groups([GroupOutcome])
        /// Another worker owns the partition now; nothing was written.
        case fenced(currentEpoch: String)
    }

    /// How long and how many ids the dedup record keeps.
    struct DedupWindow: Sendable, Equatable {
        var seconds: Int
        var capacity: Int
    }

    static func call(_ groups: [Group], partition: PartitionID, epoch: Epoch, window: DedupWindow, now: Int64)
        -> (keys: [any RedisArgument], arguments: [any RedisArgument]) {
        var keys: [any RedisArgument] = [RedisLayout.epoch(partition), RedisLayout.dedup(partition), RedisLayout.dedupLog(partition),
                                         RedisLayout.crashMarks(partition), RedisLayout.due(partition), RedisLayout.dueEntries(partition)]
        var arguments: [any RedisArgument] = [epoch.description, now, window.seconds, window.capacity, groups.count]
        for group in groups {
            keys.append(RedisLayout.actor(group.address, in: partition))
            keys.append(RedisLayout.children(group.address, in: partition))
            arguments += [group.expectedVersion, group.state ?? [], group.status?.rawValue ?? "",
                          group.parent?.description ?? "", group.children.count] as [any RedisArgument]
            arguments += group.children.map(\.description) as [any RedisArgument]
            arguments.append(group.applied.count)
            for turn in group.applied { arguments += [turn.messageID, turn.outbox] as [any RedisArgument] }
            arguments.append(group.checked.count)
            arguments += group.checked as [any RedisArgument]
            arguments += [group.schedules ?? [], group.dueAdded.count] as [any RedisArgument]
            for entry in group.dueAdded { arguments += [entry.id, entry.due, entry.entry] as [any RedisArgument] }
            arguments.append(group.dueRemoved.count)
            arguments += group.dueRemoved as [any RedisArgument]
        }
        return (keys, arguments)
    }

    static func decode(_ reply: RedisValue, groups: Int) throws -> Outcome {
        func unexpected() -> RedisError {
            RedisError(code: .server, command: "EVALSHA", message: "unexpected commit reply \(reply)")
        }
        guard let parts = reply.array, let head = parts.first?.string else { throw unexpected() }
        if head == "fenced" { return .fenced(currentEpoch: parts.count > 1 ? parts[1].string ?? "?" : "?") }
        guard head == "ok", parts.count == groups + 1 else { throw unexpected() }
        return .groups(try parts.dropFirst().map { part in
            guard let fields = part.array, let tag = fields.first?.string else { throw unexpected() }
            switch tag {
            case "committed":
                guard fields.count == 2, let version = fields[1].integer else { throw unexpected() }
                return .committed(version: version)
            case "stale":
                return .stale(storedVersion: fields.count == 2 ? fields[1].integer ?? 0 : 0)
            case "checked":
                return .checked
            case "duplicate":
                var found: [Int: [UInt8]] = [:]
                for index in stride(from: 1, to: fields.count - 1, by: 2) {
                    guard let position = fields[index].integer, let outbox = fields[index + 1].bytes else { throw unexpected() }
                    found[Int(position) - 1] = outbox
                }
                return .duplicate(found)
            default:
                throw unexpected()
            }
        })
    }
}
