import Broker
import Foundation

/// What the fault test asks the clusters about their nodes: which RabbitMQ
/// node leads a test's quorum queues, which Redis master serves a test's
/// partitions, and whether traffic flows.
enum ClusterNodes {
    /// The AMQP port of a RabbitMQ node named like scripts/services names them
    /// (`greenroom-PORT@localhost`), or nil.
    static func rabbitPort(ofNode node: String) -> Int? {
        guard node.hasPrefix("greenroom-"), let at = node.firstIndex(of: "@") else { return nil }
        return Int(node[node.index(node.startIndex, offsetBy: "greenroom-".count)..<at])
    }

    /// How many of the partition queues of `types` each RabbitMQ node leads
    /// (quorum queues), by AMQP port; empty for classic queues.
    static func rabbitLeaders(of types: [String]) async throws -> [Int: Int] {
        let rows = try RabbitControl.jsonRows(try await RabbitControl.run(["list_queues", "name", "leader", "--formatter", "json"]), "list_queues")
        var leaders: [Int: Int] = [:]
        for row in rows {
            guard let name = row["name"] as? String, RabbitControl.isPartitionQueue(name, of: types),
                  let leader = row["leader"] as? String, let port = rabbitPort(ofNode: leader) else { continue }
            leaders[port, default: 0] += 1
        }
        return leaders
    }

    /// Client connections per RabbitMQ node, by AMQP port (from each
    /// connection's Erlang pid, `<greenroom-PORT@localhost.N.N>`).
    static func rabbitConnections() async throws -> [Int: Int] {
        var connections: [Int: Int] = [:]
        for line in try await RabbitControl.run(["list_connections", "--no-table-headers", "pid"]).split(separator: "\n") {
            // <greenroom-5701@localhost.1234.0>: the node ends at the first '.' after '@'.
            let pid = line.trimmingCharacters(in: .whitespaces)
            guard pid.hasPrefix("<"), let at = pid.firstIndex(of: "@"), let dot = pid[at...].firstIndex(of: "."),
                  let port = rabbitPort(ofNode: String(pid[pid.index(after: pid.startIndex)..<dot])) else { continue }
            connections[port, default: 0] += 1
        }
        return connections
    }

    /// The master port serving each slot range, from `CLUSTER SLOTS` asked of
    /// the first of `ports` that answers.
    static func redisSlotMasters(askingAny ports: [Int]) async throws -> [(slots: ClosedRange<Int>, master: Int)] {
        var failures: [String] = []
        for port in ports {
            do {
                let redis = try await RedisClient.connect(try RedisConfiguration(url: "redis://127.0.0.1:\(port)/0"))
                let reply = try await withCleanUp(redis, "closing the Redis connection", cleanUp: { await $0.close() }) { redis in
                    try await redis.send("CLUSTER", "SLOTS")
                }
                return (reply.array ?? []).compactMap { range in
                    guard let fields = range.array, fields.count >= 3, let start = fields[0].integer, let end = fields[1].integer,
                          let master = fields[2].array, master.count >= 2, let masterPort = master[1].integer else { return nil }
                    return (Int(start)...Int(end), Int(masterPort))
                }
            } catch {
                failures.append("\(port): \(error)")
            }
        }
        throw ClusterQueryFailed(what: "CLUSTER SLOTS", failures: failures)
    }

    /// The Redis master serving the slot of each partition tag `{TYPE.P}` of `type`, by partition.
    static func redisMasters(ofPartitionsOf type: String, partitions: Int, askingAny ports: [Int]) async throws -> [Int: Int] {
        let ranges = try await redisSlotMasters(askingAny: ports)
        var masters: [Int: Int] = [:]
        for partition in 0..<partitions {
            let slot = RedisSlot.of(Keys.tag(type, partition))
            guard let range = ranges.first(where: { $0.slots.contains(slot) }) else {
                throw ClusterQueryFailed(what: "the master of slot \(slot) (partition \(partition))", failures: ["no node serves it"])
            }
            masters[partition] = range.master
        }
        return masters
    }
}

struct ClusterQueryFailed: Error, CustomStringConvertible {
    let what: String
    let failures: [String]
    var description: String { "cannot read \(what) from the local clusters: \(failures.joined(separator: "; ")) — are they up? try scripts/services up --cluster" }
}
