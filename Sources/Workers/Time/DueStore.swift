import Broker

/// A partition's due set in Redis (docs/TIME.md): read what is due, settle
/// what was published, store clients' delayed messages. Every write is
/// fenced by the partition's epoch, like a commit: only its owner writes.
struct DueStore: Sendable {
    let redis: RedisClient

    /// Up to `limit` entries due at `now` (unix ms), oldest first, and the
    /// earliest due time left in the set (of those, or later ones).
    static let read = RedisScript("""
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
        local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
        local out = {first[2] or ''}
        for i = 1, #due, 2 do
          out[#out + 1] = due[i]
          out[#out + 1] = due[i + 1]
          out[#out + 1] = redis.call('HGET', KEYS[2], due[i]) or ''
        end
        return out
        """)

    /// Settles published entries, under the epoch: each one still due at
    /// the time it was read is removed, or (a reminder) moved to its next
    /// time. An entry cancelled or replaced meanwhile is left alone, so a
    /// cancelled reminder never comes back.
    /// KEYS: epoch, due, entries. ARGV: epoch, n, n × (id, due read, next due ('' removes), next entry).
    static let settle = RedisScript("""
        local current = redis.call('GET', KEYS[1]) or '0'
        if current ~= ARGV[1] then return {'fenced', current} end
        for i = 0, tonumber(ARGV[2]) - 1 do
          local id, read, nextDue = ARGV[3 + 4 * i], ARGV[4 + 4 * i], ARGV[5 + 4 * i]
          local score = redis.call('ZSCORE', KEYS[2], id)
          if score and tonumber(score) == tonumber(read) then
            if nextDue == '' then
              redis.call('ZREM', KEYS[2], id)
              redis.call('HDEL', KEYS[3], id)
            else
              redis.call('ZADD', KEYS[2], nextDue, id)
              redis.call('HSET', KEYS[3], id, ARGV[6 + 4 * i])
            end
          elseif not score and nextDue == '' then
            redis.call('HDEL', KEYS[3], id)
          end
        end
        return {'ok'}
        """)

    /// Stores clients' delayed messages, under the epoch; an id already
    /// waiting keeps its first time (a client's re-send changes nothing).
    /// KEYS: epoch, due, entries. ARGV: epoch, n, n × (id, due, entry).
    static let store = RedisScript("""
        local current = redis.call('GET', KEYS[1]) or '0'
        if current ~= ARGV[1] then return {'fenced', current} end
        for i = 0, tonumber(ARGV[2]) - 1 do
          local id = ARGV[3 + 3 * i]
          if redis.call('ZADD', KEYS[2], 'NX', ARGV[4 + 3 * i], id) == 1 then
            redis.call('HSET', KEYS[3], id, ARGV[5 + 3 * i])
          end
        end
        return {'ok'}
        """)

    static let scripts = [read, settle, store]

    /// One entry read from the due set. `entry` is nil when its JSON is
    /// missing or unreadable (`raw` holds what was there).
    struct Due: Sendable {
        var id: String
        var due: Int64
        var entry: DueEntry?
        var raw: [UInt8]
    }

    /// A settle: remove (`next` nil), or move a reminder on.
    struct Settlement: Sendable {
        var id: String
        var dueRead: Int64
        var next: (due: Int64, entry: [UInt8])?
    }

    /// Thrown when the partition has a newer owner: nothing was written.
    struct Fenced: Error, CustomStringConvertible {
        var partition: PartitionID
        var description: String { "\(partition.queue) has a newer owner: its due set is theirs" }
    }

    func due(in partition: PartitionID, now: Int64, limit: Int) async throws -> (entries: [Due], earliest: Int64?) {
        let reply = try await redis.run(Self.read, keys: [RedisLayout.due(partition), RedisLayout.dueEntries(partition)],
                                        arguments: [now, limit])
        guard let parts = reply.array, let head = parts.first else {
            throw RedisError(code: .server, command: "EVALSHA", message: "unexpected due-set reply \(reply)")
        }
        var entries: [Due] = []
        for index in stride(from: 1, to: parts.count - 2, by: 3) {
            guard let id = parts[index].string, let due = parts[index + 1].integer else { continue }
            let raw = parts[index + 2].bytes ?? []
            entries.append(Due(id: id, due: due, entry: raw.isEmpty ? nil : try? DueEntry.decode(raw), raw: raw))
        }
        return (entries, head.integer)
    }

    func settle(_ settlements: [Settlement], in partition: PartitionID, epoch: Epoch) async throws {
        var arguments: [any RedisArgument] = [epoch.description, settlements.count]
        for settlement in settlements {
            arguments += [settlement.id, settlement.dueRead] as [any RedisArgument]
            if let next = settlement.next {
                arguments += [next.due, next.entry] as [any RedisArgument]
            } else {
                arguments += ["", ""] as [any RedisArgument]
            }
        }
        try check(try await redis.run(Self.settle, keys: keys(partition), arguments: arguments), partition)
    }

    func store(_ entries: [DueEntry], in partition: PartitionID, epoch: Epoch) async throws {
        var arguments: [any RedisArgument] = [epoch.description, entries.count]
        for entry in entries { arguments += [entry.id, entry.due, try entry.encoded()] as [any RedisArgument] }
        try check(try await redis.run(Self.store, keys: keys(partition), arguments: arguments), partition)
    }

    private func keys(_ partition: PartitionID) -> [any RedisArgument] {
        [RedisLayout.epoch(partition), RedisLayout.due(partition), RedisLayout.dueEntries(partition)]
    }

    private func check(_ reply: RedisValue, _ partition: PartitionID) throws {
        guard let head = reply.array?.first?.string else {
            throw RedisError(code: .server, command: "EVALSHA", message: "unexpected due-set reply \(reply)")
        }
        if head == "fenced" { throw Fenced(partition: partition) }
    }
}
