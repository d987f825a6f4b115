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
/// The actor's field `parked` is checked like its version: a group made for
/// an actor not parked (or parked as another park) than the stored one is
/// *stale*. A group of a parked actor, or one that parks it, carries a park
/// part (docs/TIME.md, "Delayed retries"), written in order when committed:
/// released messages it settled leave the head of the held list (each only
/// if the head is that message's), a new park sets `parked` and pushes the
/// failing message to the front, held messages are appended (a redelivered
/// one only if not there already), and an unpark deletes `parked` when the
/// list is empty, or else makes the park's release entry due now. A group
/// found duplicate still lets its duplicate released messages leave the head.
///
/// KEYS: epoch, dedup hash, dedup log, crash marks, due set, due entries;
/// then per group: actor hash, children set, and held list when it has a park part.
/// ARGV: epoch, now (unix s), window (s), capacity, group count; then per
/// group: expected version, state ('' keeps it), status ('' keeps it),
/// parent ('' keeps it), c, c children, n, n × (id, outbox), m, m checked
/// ids, schedules ('' keeps them), d, d × (id, due ms, entry), r, r × id,
/// p (0 or 1); with p = 1: expected park ('' none), new park ('' none),
/// front (the failing message's element), h, h × (check, element), o, o ×
/// released id, unpark ('' none), release entry id, due ms, entry.
///
/// Replies `{'fenced', epoch}` or `{'ok', g1, g2, …}` with per group
/// `{'committed', version}`, `{'stale', version}`, `{'checked'}` (no turns, no
/// park part, no change to its schedules and no duplicates) or `{'duplicate', i1, outbox1, i2, outbox2, …}` (1-based
/// positions among the n applied then the m checked ids).
enum CommitScript {
    static let script = RedisScript("""
        local current = redis.call('GET', KEYS[1]) or '0'
        if current ~= ARGV[1] then return {'fenced', current} end
        local function popHeld(list, id)
          local head = redis.call('LINDEX', list, 0)
          if not head then return end
          local colon = string.find(head, ':', 1, true)
          if string.sub(head, colon + 1, colon + tonumber(string.sub(head, 1, colon - 1))) == id then redis.call('LPOP', list) end
        end
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
          local parking = tonumber(ARGV[removed + r]) == 1
          local nextGroup = removed + r + 1
          local held, expectedPark, park, front, h, heldAt, o, releasedAt, unpark, roundAt = nil, '', '', '', 0, 0, 0, 0, '', 0
          if parking then
            held = KEYS[k + 2]
            expectedPark, park, front = ARGV[nextGroup], ARGV[nextGroup + 1], ARGV[nextGroup + 2]
            h = tonumber(ARGV[nextGroup + 3])
            heldAt = nextGroup + 4
            o = tonumber(ARGV[heldAt + 2 * h])
            releasedAt = heldAt + 2 * h + 1
            unpark = ARGV[releasedAt + o]
            roundAt = releasedAt + o + 1
            nextGroup = roundAt + 3
          end
          local duplicates = {'duplicate'}
          for i = 1, n do
            local done = redis.call('HGET', KEYS[2], ARGV[applied + 2 * (i - 1)])
            if done then duplicates[#duplicates + 1] = i; duplicates[#duplicates + 1] = done end
          end
          for i = 1, m do
            local done = redis.call('HGET', KEYS[2], ARGV[checked + i - 1])
            if done then duplicates[#duplicates + 1] = n + i; duplicates[#duplicates + 1] = done end
          end
          local stored = redis.call('HMGET', actor, 'version', 'parked')
          local version = tonumber(stored[1] or '0')
          local upToDate = version == expected and (stored[2] or '') == expectedPark
          local finished = #duplicates > 1 or upToDate
          if marked and finished then
            for i = 1, n do redis.call('HDEL', KEYS[4], ARGV[applied + 2 * (i - 1)]) end
            for i = 1, m do redis.call('HDEL', KEYS[4], ARGV[checked + i - 1]) end
          end
          if #duplicates > 1 then
            if o > 0 then
              local found = {}
              for i = 2, #duplicates, 2 do
                local at = duplicates[i]
                found[at <= n and ARGV[applied + 2 * (at - 1)] or ARGV[checked + at - n - 1]] = true
              end
              for i = 1, o do
                if found[ARGV[releasedAt + i - 1]] then popHeld(held, ARGV[releasedAt + i - 1]) end
              end
            end
            results[g + 1] = duplicates
          elseif not upToDate then
            results[g + 1] = {'stale', version}
          elseif n == 0 and not parking and ARGV[schedules] == '' and d == 0 and r == 0 then
            results[g + 1] = {'checked'}
          else
            if n > 0 then
              redis.call('HSET', actor, 'version', tostring(expected + n))
              if state ~= '' then redis.call('HSET', actor, 'state', state) end
              if status ~= '' then redis.call('HSET', actor, 'status', status) end
              if parent ~= '' then redis.call('HSET', actor, 'parent', parent) end
              for i = 1, c do redis.call('SADD', children, ARGV[a + 4 + i]) end
              if status == 'stopped' then redis.call('DEL', children) end
            end
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
            if parking then
              for i = 1, o do popHeld(held, ARGV[releasedAt + i - 1]) end
              if park ~= '' then
                redis.call('HSET', actor, 'parked', park)
                redis.call('LPUSH', held, front)
              end
              for i = 1, h do
                local element = ARGV[heldAt + 2 * i - 1]
                if ARGV[heldAt + 2 * (i - 1)] == '0' or not redis.call('LPOS', held, element) then redis.call('RPUSH', held, element) end
              end
              if unpark ~= '' then
                if redis.call('LLEN', held) == 0 then
                  redis.call('HDEL', actor, 'parked')
                else
                  redis.call('ZADD', KEYS[5], ARGV[roundAt + 1], ARGV[roundAt])
                  redis.call('HSET', KEYS[6], ARGV[roundAt], ARGV[roundAt + 2])
                end
              end
            end
            results[g + 1] = {'committed', expected + n}
          end
          k = k + (parking and 3 or 2)
          a = nextGroup
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
        /// The park part: nil for an actor that is not parked and does not park.
        var parking: Parking?
    }

    /// A parked actor's part of a commit, or a new park's (docs/TIME.md, "Delayed retries").
    struct Parking: Sendable {
        /// The park the turns found (nil: none): the group is stale if `parked` holds another.
        var expected: String?
        /// Parks the actor as this: `front` (the failing message's held
        /// element) goes to the head of the held list. Its release entry is in `dueAdded`.
        var park: (id: String, front: [UInt8])?
        /// Messages to append to the held list; `check`: append only if not
        /// there (a redelivery, which may have been held before).
        var held: [(check: Bool, element: [UInt8])] = []
        /// Ids of released messages the group settles, in order: each leaves
        /// the head of the held list.
        var released: [String] = []
        /// A `greenroom.unpark` of the current park, with the entry to make
        /// due if the held list is not empty yet.
        var unpark: (park: String, round: (id: String, due: Int64, entry: [UInt8]))?
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
            if group.parking != nil { keys.append(RedisLayout.held(group.address, in: partition)) }
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
            guard let parking = group.parking else {
                arguments.append(0)
                continue
            }
            arguments += [1, parking.expected ?? "", parking.park?.id ?? "", parking.park?.front ?? [], parking.held.count] as [any RedisArgument]
            for held in parking.held { arguments += [held.check ? 1 : 0, held.element] as [any RedisArgument] }
            arguments.append(parking.released.count)
            arguments += parking.released as [any RedisArgument]
            if let unpark = parking.unpark {
                arguments += [unpark.park, unpark.round.id, unpark.round.due, unpark.round.entry] as [any RedisArgument]
            } else {
                arguments += ["", "", "", ""] as [any RedisArgument]
            }
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
