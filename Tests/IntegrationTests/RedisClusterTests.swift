import Broker
import Foundation
import Synchronization
import Testing

/// The Redis Cluster client against real clusters of the tests' own
/// (`ScratchRedisCluster`): routing, pipelines across nodes, the cross-slot
/// check, a slot migration (ASK then MOVED) and a master killed with -9.
@Suite("Redis Cluster client", .timeLimit(.minutes(5)))
struct RedisClusterTests {
    private func bytes(_ words: String...) -> [[UInt8]] { words.map { Array($0.utf8) } }

    /// The slots `port` serves, as ranges.
    private func slots(of port: Int, in cluster: ScratchRedisCluster) async throws -> [ClosedRange<Int>] {
        let node = try #require(try await cluster.nodes().first { $0.port == port })
        return node.slots.compactMap { range in
            let ends = range.split(separator: "-").compactMap { Int($0) }
            return ends.count == 2 ? ends[0]...ends[1] : ends.first.map { $0...$0 }
        }
    }

    /// A key with `prefix` whose slot `port` serves.
    private func key(_ prefix: String, on port: Int, in cluster: ScratchRedisCluster) async throws -> String {
        let ranges = try await slots(of: port, in: cluster)
        var index = 0
        while true {
            let candidate = "\(prefix)-\(index)"
            if ranges.contains(where: { $0.contains(RedisSlot.of(candidate)) }) { return candidate }
            index += 1
        }
    }

    /// How many times the node on `port` has run `command` (INFO commandstats).
    private func calls(of command: String, on port: Int, in cluster: ScratchRedisCluster) async throws -> Int {
        let info = try await cluster.command(port, ["INFO", "commandstats"]).string ?? ""
        guard let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_\(command):calls=") }) else { return 0 }
        return Int(line.dropFirst("cmdstat_\(command):calls=".count).prefix { $0.isNumber }) ?? 0
    }

    @Test("commands go to the master of their slot; a pipeline across nodes answers in order; eachMaster and scanKeys reach every master")
    func routingAndPipelines() async throws {
        let cluster = try await ScratchRedisCluster.start()
        defer { cluster.remove() }
        let redis = try await RedisClient.connect(try RedisConfiguration(url: cluster.url()))
        #expect(redis.isCluster)
        let masters = try await cluster.masters()
        #expect(try await redis.masters().map(\.port).sorted() == masters)

        // 300 keys over every master, SET and GET interleaved in one pipeline.
        let keys = (0..<300).map { "route-\($0)" }
        let commands = keys.flatMap { key in [bytes("SET", key, "v-\(key)"), bytes("GET", key)] }
        let replies = try await redis.pipeline(commands)
        #expect(replies.count == 600)
        for (index, key) in keys.enumerated() {
            #expect(try replies[2 * index].get().string == "OK")
            #expect(try replies[2 * index + 1].get().string == "v-\(key)")
        }
        // Each key sits on the master that serves its slot, and only there.
        for port in masters {
            let ranges = try await slots(of: port, in: cluster)
            let expected = keys.filter { key in ranges.contains { $0.contains(RedisSlot.of(key)) } }
            #expect(!expected.isEmpty)
            #expect(try await cluster.command(port, ["DBSIZE"]).integer == Int64(expected.count))
            #expect(try await cluster.command(port, ["GET", expected[0]]).string == "v-\(expected[0])")
        }
        let sizes = try await redis.eachMaster("DBSIZE")
        #expect(sizes.count == 3)
        #expect(sizes.reduce(0) { $0 + ($1.reply.integer ?? 0) } == 300)
        var scanned = Set<String>()
        try await redis.scanKeys(matching: "route-*", count: 50) { found in
            for key in found { scanned.insert(String(decoding: key, as: UTF8.self)) }
        }
        #expect(scanned == Set(keys))

        // Concurrent single commands from many tasks, every node at once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<50 {
                group.addTask {
                    for round in 0..<20 { try await redis.send("INCR", "count-\((task + round) % 60)") }
                }
            }
            try await group.waitForAll()
        }
        let counts = try await redis.pipeline((0..<60).map { bytes("GET", "count-\($0)") })
        #expect(try counts.reduce(0) { $0 + (try $1.get().integer ?? 0) } == 1_000)

        // A script whose keys share a hash tag runs on their node.
        let script = RedisScript("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])")
        #expect(try await redis.run(script, keys: ["{tag}a", "{tag}b"], arguments: ["x"]).integer == 1)
        try await redis.load(script)
        for port in masters {
            #expect(try await cluster.command(port, ["SCRIPT", "EXISTS", script.sha1]) == .array([.integer(1)]))
        }
        await redis.close()
    }

    @Test("connecting: a single server named as a cluster, and seeds that do not answer, fail with what to do")
    func connectErrors() async throws {
        let single = try RedisConfiguration(url: TestServers.redisURL)
        let notCluster = await #expect(throws: RedisError.self) {
            try await RedisClient.connect(try RedisConfiguration(url: "redis+cluster://\(single.endpoint)"))
        }
        #expect(notCluster?.message.contains("use a redis:// URL") == true, "\(String(describing: notCluster))")
        let closed = [FreePort.pick(), FreePort.pick()]
        let unreachable = await #expect(throws: RedisError.self) {
            try await RedisClient.connect(try RedisConfiguration(url: "redis+cluster://127.0.0.1:\(closed[0]),127.0.0.1:\(closed[1])"))
        }
        #expect(unreachable?.code == .connectFailed)
        #expect(unreachable?.description.contains("127.0.0.1:\(closed[0]): connection refused") == true, "\(String(describing: unreachable))")
        #expect(unreachable?.description.contains("127.0.0.1:\(closed[1]): connection refused") == true, "\(String(describing: unreachable))")
    }

    @Test("a command or script whose keys are in different slots is refused before it is sent, in cluster and single mode")
    func crossSlot() async throws {
        let cluster = try await ScratchRedisCluster.start()
        defer { cluster.remove() }
        let redis = try await RedisClient.connect(try RedisConfiguration(url: cluster.url()))
        try await redis.send("SET", "foo", "1")
        try await redis.send("SET", "bar", "2")
        let error = await #expect(throws: RedisError.self) { try await redis.send("DEL", "foo", "bar") }
        #expect(error?.code == .crossSlot)
        #expect(try await redis.send("EXISTS", "foo").integer == 1, "the DEL was not sent")
        let script = RedisScript("return redis.call('DEL', KEYS[1], KEYS[2])")
        let scriptError = await #expect(throws: RedisError.self) { try await redis.run(script, keys: ["foo", "bar"]) }
        #expect(scriptError?.code == .crossSlot)
        let pipelineError = await #expect(throws: RedisError.self) { try await redis.pipeline([self.bytes("GET", "foo"), self.bytes("DEL", "foo", "bar")]) }
        #expect(pipelineError?.code == .crossSlot)
        #expect(try await redis.send("DEL", "{t}x", "{t}y").integer == 0)
        await redis.close()

        // A single server would run it; a debug build refuses it all the same.
        let single = try await TestServers.redis()
        let prefix = TestServers.unique("cross-slot")
        let singleError = await #expect(throws: RedisError.self) { try await single.send("DEL", "\(prefix):foo", "\(prefix):bar") }
        #expect(singleError?.code == .crossSlot)
        await single.close()
    }

    @Test("a slot moved between masters with MIGRATING/IMPORTING/MIGRATE/NODE: ASK during the move, MOVED after it")
    func slotMigration() async throws {
        let cluster = try await ScratchRedisCluster.start()
        defer { cluster.remove() }
        let redis = try await RedisClient.connect(try RedisConfiguration(url: cluster.url()))
        let masters = try await cluster.masters()
        let source = masters[0], target = masters[1]
        let moving = try await key("{mig", on: source, in: cluster) + "}"
        let slot = RedisSlot.of(moving)
        let first = "\(moving):first", second = "\(moving):second", fresh = "\(moving):fresh"
        try await redis.send("SET", first, "1")
        try await redis.send("SET", second, "2")
        let sourceID = try await cluster.id(of: source), targetID = try await cluster.id(of: target)

        try await cluster.command(target, ["CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", sourceID])
        try await cluster.command(source, ["CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", targetID])
        try await cluster.command(source, ["MIGRATE", "127.0.0.1", "\(target)", "", "0", "5000", "KEYS", first])
        let askingBefore = try await calls(of: "asking", on: target, in: cluster)
        // `first` has moved, `second` has not: the source answers ASK for one, the value for the other.
        #expect(try await redis.send("GET", first).string == "1")
        #expect(try await redis.send("GET", second).string == "2")
        // A key the source does not have goes to the target too (ASK).
        #expect(try await redis.send("SET", fresh, "3").string == "OK")
        #expect(try await calls(of: "asking", on: target, in: cluster) >= askingBefore + 2, "the client followed ASK with ASKING")
        #expect(try await cluster.askingCommand(target, ["GET", fresh]).string == "3")

        try await cluster.command(source, ["MIGRATE", "127.0.0.1", "\(target)", "", "0", "5000", "KEYS", second])
        for port in [target, source] + masters.dropFirst(2) {
            try await cluster.command(port, ["CLUSTER", "SETSLOT", "\(slot)", "NODE", targetID])
        }
        // The client's map still says `source`: MOVED sends it to `target`.
        let getsBefore = try await calls(of: "get", on: target, in: cluster)
        #expect(try await redis.send("GET", second).string == "2")
        #expect(try await redis.pipeline([bytes("GET", first), bytes("INCR", second)]).map { try $0.get() } == [.bulk(Array("1".utf8)), .integer(3)])
        #expect(try await calls(of: "get", on: target, in: cluster) >= getsBefore + 2)
        #expect(try await cluster.command(source, ["DBSIZE"]).integer == 0)
        await redis.close()
    }

    @Test("a master killed with -9: commands fail only while in flight, then go to the promoted replica; answered writes survive")
    func masterKilled() async throws {
        let cluster = try await ScratchRedisCluster.start()
        defer { cluster.remove() }
        let redis = try await RedisClient.connect(try RedisConfiguration(url: cluster.url()))
        let victim = try await cluster.masters()[0]
        let counter = try await key("kill", on: victim, in: cluster)
        let others = try await cluster.masters().dropFirst().asyncMap { try await key("other", on: $0, in: cluster) }

        // Increment while the master dies and its replica takes over; count
        // the increments Redis answered and those lost in flight.
        // Unsent ones (the cluster took longer than the client's retry window
        // to promote the replica) are counted apart: they did not run.
        let answered = SharedCount(), lost = SharedCount(), unsent = SharedCount()
        let writer = Task {
            while !Task.isCancelled {
                do {
                    try await redis.send("INCR", counter)
                    answered.add()
                } catch let error as RedisError where error.code == .connectionLost || error.code == .timedOut {
                    lost.add()
                } catch let error as RedisError {
                    print("failover: an INCR failed unsent: \(error)")
                    unsent.add()
                }
            }
        }
        try await eventually(30, "100 increments before the kill") { answered.value >= 100 }
        let clock = ContinuousClock()
        cluster.kill(victim)
        let killed = clock.now
        let killedAt = answered.value
        try await eventually(60, "increments answered again after the failover") { answered.value > killedAt + 1 }
        print("failover: INCRs answered again \(clock.now - killed) after the kill; \(lost.value) lost in flight, \(unsent.value) unsent")
        try await eventually(30, "100 more increments") { answered.value >= killedAt + 100 }
        writer.cancel()
        _ = await writer.result
        #expect(try await !cluster.masters().contains(victim))
        #expect(lost.value <= 2, "only commands in flight at the kill may be lost, not \(lost.value)")
        // Every answered increment survived the failover (WAIT 1 after each batch).
        let value = try #require(try await redis.send("GET", counter).integer)
        #expect(value >= Int64(answered.value) && value <= Int64(answered.value + lost.value))
        for key in others { try await redis.send("SET", key, "still") }

        // The promoted master has no replica: its writes must not each wait out replica_wait.
        let start = clock.now
        for _ in 0..<20 { try await redis.send("INCR", counter) }
        #expect(clock.now - start < .seconds(5), "20 writes to a master without a replica took \(clock.now - start)")

        // The old master comes back as a replica of the new one; once the
        // client's map shows that replica (read every 5 s), writes wait for it again.
        try await cluster.launch(victim)
        try await cluster.waitUntilWhole()
        #expect(try await redis.send("INCR", counter).integer == value + 21)
        var promoted = 0
        for master in try await cluster.masters() where try await slots(of: master, in: cluster).contains(where: { $0.contains(RedisSlot.of(counter)) }) {
            promoted = master
        }
        #expect(promoted != victim)
        let newMaster = promoted
        let waitsBefore = try await calls(of: "wait", on: newMaster, in: cluster)
        try await eventually(30, "writes to the promoted master waiting for its new replica") {
            try await redis.send("INCR", counter)
            return try await calls(of: "wait", on: newMaster, in: cluster) > waitsBefore
        }
        await redis.close()
    }

    @Test("WAIT's cost: pipelined EVALSHA on the cluster with replica_wait on and off, alternating in the same run")
    func replicaWaitCost() async throws {
        let cluster = try await ScratchRedisCluster.start()
        defer { cluster.remove() }
        let script = RedisScript("redis.call('HINCRBY', KEYS[1], 'n', 1); return redis.call('INCR', KEYS[2])")
        var rates: [String: [Int]] = [:]
        var latencies: [String: [Int]] = [:]
        for (round, options) in ["replica_wait=0", "replica_wait=1000", "replica_wait=0", "replica_wait=1000"].enumerated() {
            let redis = try await RedisClient.connect(try RedisConfiguration(url: cluster.url(options: options)))
            let prefix = "bench-\(round)"
            let total = 20_000, tasks = 100
            let clock = ContinuousClock()
            let start = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        for _ in 0..<(total / tasks) {
                            let tag = "{\(prefix).\(task % 30)}"
                            try await redis.run(script, keys: ["\(tag):h", "\(tag):n"])
                        }
                    }
                }
                try await group.waitForAll()
            }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            rates[options, default: []].append(Int(Double(total) / seconds))
            // One caller alone: each script pays WAIT's replication delay in full.
            let alone = clock.now
            for index in 0..<1_000 { try await redis.run(script, keys: ["{\(prefix).alone}:h", "{\(prefix).alone}:n"], arguments: [index]) }
            let aloneElapsed = clock.now - alone
            let microseconds = Int(aloneElapsed.components.seconds) * 1_000_000 + Int(aloneElapsed.components.attoseconds / 1_000_000_000_000)
            latencies[options, default: []].append(microseconds / 1_000)
            let counts = try await redis.pipeline((0..<30).map { bytes("GET", "{\(prefix).\($0)}:n") })
            #expect(try counts.reduce(0) { $0 + (try $1.get().integer ?? 0) } == Int64(total))
            await redis.close()
        }
        print("replica wait bench: 20000 EVALSHA from 100 tasks on a 3-master cluster, per round: "
              + rates.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.map { "\($0)/s" }.joined(separator: ", "))" }.joined(separator: "; ")
              + "; one caller, µs per script: "
              + latencies.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.map { "\($0)" }.joined(separator: ", "))" }.joined(separator: "; "))
    }
}

/// A count shared between tasks.
final class SharedCount: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

extension Sequence {
    /// `map` with an async transform, in order.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var mapped: [T] = []
        for element in self { mapped.append(try await transform(element)) }
        return mapped
    }
}
