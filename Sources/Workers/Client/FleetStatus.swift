import Broker

/// The fleet at a glance: live workers, who owns each partition, queue depths.
public struct FleetStatus: Codable, Sendable {
    public struct Worker: Codable, Sendable {
        public var info: MemberInfo
        /// Partitions whose lease this worker holds.
        public var partitions: Int
    }

    public struct Partition: Codable, Sendable {
        public var type: String
        public var partition: Int
        public var queue: String
        /// The lease holder; nil while unowned (e.g. between a crash and the lease's expiry).
        public var owner: String?
        /// Ready messages; nil when the queue does not exist.
        public var depth: UInt32?
        public var consumers: UInt32?
    }

    public var workers: [Worker]
    public var partitions: [Partition]
    public var deadLetters: UInt32
    /// The deployment's incarnation id (`gr:incarnation`); nil when Redis holds none.
    public var incarnation: String?
    /// Types live workers host but Redis has no record of: their data was
    /// lost, and workers do not consume them (docs/RELIABILITY.md).
    public var typesWithoutData: [String] = []
    /// The lease TTL live workers were judged by, in milliseconds: the one the
    /// workers wrote with their heartbeats, unless the caller gave one.
    public var leaseMilliseconds: Int = 0
}

extension GreenroomClient {
    /// Reads the fleet's state from Redis and RabbitMQ. A worker silent longer
    /// than the lease TTL the workers wrote (`gr:{members}:lease-ms`, written
    /// with every heartbeat) no longer counts as live; `leaseMilliseconds`
    /// overrides that TTL.
    /// With `types`, only their partitions are inspected (each partition costs
    /// a Redis and a RabbitMQ round trip).
    public func status(leaseMilliseconds: Int? = nil, types only: Set<String>? = nil) async throws -> FleetStatus {
        let (lease, members) = try await Membership(redis: redis).live(ttlMilliseconds: leaseMilliseconds)
        let types = try await redis.send("HGETALL", RedisLayout.types).array ?? []
        let leases = Leases(redis: redis)
        var channel = try await amqp.openChannel()
        var partitions: [FleetStatus.Partition] = []
        for index in stride(from: 0, to: types.count - 1, by: 2) {
            guard let type = types[index].string, let count = types[index + 1].integer, only?.contains(type) ?? true else { continue }
            for partition in 0..<Int(count) {
                let id = PartitionID(type: type, index: partition)
                let queue = id.queue
                var entry = FleetStatus.Partition(type: type, partition: partition, queue: queue, owner: try await leases.holder(id))
                do {
                    let info = try await channel.inspectQueue(queue)
                    entry.depth = info.messageCount
                    entry.consumers = info.consumerCount
                } catch let error as AMQPError where error.replyCode == 404 {
                    channel = try await amqp.openChannel()  // a missing queue closes the channel
                }
                partitions.append(entry)
            }
        }
        let dead = try await channel.inspectQueue(Topology.deadQueue).messageCount
        try? await channel.close()
        let workers = members.sorted { $0.id < $1.id }.map { member in
            FleetStatus.Worker(info: member, partitions: partitions.filter { $0.owner == member.id }.count)
        }
        var status = FleetStatus(workers: workers, partitions: partitions.sorted { ($0.type, $0.partition) < ($1.type, $1.partition) }, deadLetters: dead)
        status.leaseMilliseconds = lease
        status.incarnation = try await incarnation()
        // Every type Redis has a record of, inspected or not (`only`).
        let declared = Set(stride(from: 0, to: types.count - 1, by: 2).compactMap { types[$0].string })
        status.typesWithoutData = Set(members.flatMap(\.types)).subtracting(declared).sorted()
        return status
    }
}
