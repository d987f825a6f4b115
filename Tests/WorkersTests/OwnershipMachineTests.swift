import Testing
@testable import Workers

/// `OwnershipMachine` driven by random orders of heartbeats, lease answers,
/// consumer news, fenced commits and shutdown, with its actions "performed"
/// by a model that counts consumers.
@Suite("Partition ownership: at most one consumer per partition, and shutdown winds everything down", .timeLimit(.minutes(1)))
struct OwnershipMachineTests {
    /// What the driver would have in flight: actions not yet answered.
    struct World {
        var consumers: [PartitionID: Int] = [:]
        var pending: [OwnershipMachine.Action] = []
        var epoch: Int64 = 0
    }

    @Test("random event orders never start a second consumer, and shutdown always ends idle", arguments: SeededRandom.seeds(200))
    func randomOrders(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let partitions = (0..<3).map { PartitionID(type: "t", index: $0) }
        var machine = OwnershipMachine(leaseMilliseconds: 100)
        var world = World()
        var now: UInt64 = 0

        func apply(_ actions: [OwnershipMachine.Action]) {
            for action in actions {
                if case .startConsumer(let partition, _) = action {
                    world.consumers[partition, default: 0] += 1
                    #expect(world.consumers[partition]! <= 1, "seed \(seed): two consumers of \(partition)")
                }
                world.pending.append(action)
            }
        }

        /// Answers one pending action, as the driver would once its I/O is done.
        func answer(at index: Int) {
            let action = world.pending.remove(at: index)
            switch action {
            case .acquire(let partition):
                world.epoch += 1
                apply(machine.handle(Bool.random(using: &random)
                    ? .acquired(partition, Epoch(world.epoch), now: now) : .notAcquired(partition)))
            case .startConsumer(let partition, _):
                if Int.random(in: 0..<5, using: &random) == 0 {
                    world.consumers[partition]! -= 1
                    apply(machine.handle(.consumerFailed(partition)))
                } else {
                    apply(machine.handle(.consumerStarted(partition, now: now)))
                }
            case .renew(let partition):
                apply(machine.handle(Int.random(in: 0..<6, using: &random) == 0 ? .renewalRefused(partition) : .renewed(partition, now: now)))
            case .handOver(let partition), .close(let partition, _):
                world.consumers[partition] = max(0, (world.consumers[partition] ?? 0) - 1)
                if case .handOver = action { apply(machine.handle(.released(partition))) } else { apply(machine.handle(.closed(partition))) }
            case .release(let partition):
                apply(machine.handle(.released(partition)))
            }
        }

        for step in 0..<300 {
            now += UInt64.random(in: 0...40, using: &random)
            let partition = partitions.randomElement(using: &random)!
            switch Int.random(in: 0..<6, using: &random) {
            case 0, 1:
                apply(machine.handle(.assigned(partition, toMe: Int.random(in: 0..<4, using: &random) > 0)))
            case 2:
                apply(machine.handle(.heartbeatFailed(now: now)))
            case 3:
                if case .consuming(let epoch, _)? = machine.phases[partition] {
                    apply(machine.handle(Bool.random(using: &random) ? .fenced(partition, epoch) : .consumerLost(partition, epoch)))
                }
            default:
                if !world.pending.isEmpty { answer(at: Int.random(in: 0..<world.pending.count, using: &random)) }
            }
            if step == 250 { apply(machine.handle(.shutdown)) }
            // A partition counted as consumed has exactly one consumer.
            for consumed in machine.consuming { #expect(world.consumers[consumed] == 1, "seed \(seed)") }
        }
        if !machine.stopping { apply(machine.handle(.shutdown)) }
        // Answer everything left: shutdown must end with nothing owned and no consumer.
        var rounds = 0
        while !world.pending.isEmpty, rounds < 1_000 {
            answer(at: 0)
            rounds += 1
        }
        #expect(machine.isIdle, "seed \(seed): left \(machine.phases)")
        #expect(world.consumers.values.allSatisfy { $0 == 0 }, "seed \(seed): consumers left \(world.consumers)")
        // After shutdown, a new assignment takes nothing.
        do { let actions = machine.handle(.assigned(partitions[0], toMe: true)); #expect(actions == []) }
    }

    @Test("a lease not renewed within its TTL is dropped by closing the channel; a later one is kept")
    func expiry() {
        let partition = PartitionID(type: "t", index: 0)
        var machine = OwnershipMachine(leaseMilliseconds: 100)
        do { let actions = machine.handle(.assigned(partition, toMe: true)); #expect(actions == [.acquire(partition)]) }
        do { let actions = machine.handle(.acquired(partition, Epoch(7), now: 0)); #expect(actions == [.startConsumer(partition, Epoch(7))]) }
        do { let actions = machine.handle(.consumerStarted(partition, now: 10)); #expect(actions == []) }
        #expect(machine.consuming == [partition])
        do { let actions = machine.handle(.heartbeatFailed(now: 109)); #expect(actions == []) }
        let expired = machine.handle(.heartbeatFailed(now: 110))
        #expect(expired == [.close(partition, reason: "its lease could not be renewed within its TTL")])
        #expect(machine.consuming.isEmpty)
        // Until the channel is closed, the partition is not taken again.
        do { let actions = machine.handle(.assigned(partition, toMe: true)); #expect(actions == []) }
        do { let actions = machine.handle(.closed(partition)); #expect(actions == []) }
        do { let actions = machine.handle(.assigned(partition, toMe: true)); #expect(actions == [.acquire(partition)]) }
    }

    @Test("with a retry margin, a failed renewal gives the partition up while its lease still holds, if the next try could answer after expiry")
    func expiryMargin() {
        let partition = PartitionID(type: "t", index: 0)
        var machine = OwnershipMachine(leaseMilliseconds: 100, marginMilliseconds: 40)
        _ = machine.handle(.assigned(partition, toMe: true))
        _ = machine.handle(.acquired(partition, Epoch(1), now: 0))
        _ = machine.handle(.consumerStarted(partition, now: 10))
        // Renewed at 10: expires at 110. A failure at 69 leaves room for one more try (69 + 40 < 110).
        do { let actions = machine.handle(.heartbeatFailed(now: 69)); #expect(actions == []) }
        // At 70 the next try could answer at 110, when the lease is gone: give it up now.
        #expect(machine.handle(.heartbeatFailed(now: 70)) == [.close(partition, reason: "its lease could not be renewed within its TTL")])
    }

    @Test("a fenced commit under an old epoch does not drop a newer run")
    func staleFence() {
        let partition = PartitionID(type: "t", index: 0)
        var machine = OwnershipMachine(leaseMilliseconds: 100)
        _ = machine.handle(.assigned(partition, toMe: true))
        _ = machine.handle(.acquired(partition, Epoch(3), now: 0))
        _ = machine.handle(.consumerStarted(partition, now: 0))
        do { let actions = machine.handle(.fenced(partition, Epoch(2))); #expect(actions == []) }
        #expect(machine.consuming == [partition])
    }

    @Test("a partition handed over (shutdown or a new assignment) keeps its lease renewed while its turns drain")
    func renewsWhileDraining() {
        let partition = PartitionID(type: "t", index: 0)
        var machine = OwnershipMachine(leaseMilliseconds: 100)
        _ = machine.handle(.assigned(partition, toMe: true))
        _ = machine.handle(.acquired(partition, Epoch(1), now: 0))
        _ = machine.handle(.consumerStarted(partition, now: 0))
        do { let actions = machine.handle(.shutdown); #expect(actions == [.handOver(partition)]) }
        // Heartbeats go on during the drain: whoever the assignment names, the lease is renewed.
        for toMe in [true, false] {
            let actions = machine.handle(.assigned(partition, toMe: toMe))
            #expect(actions == [.renew(partition)])
            do { let actions = machine.handle(.renewed(partition, now: 50)); #expect(actions == []) }
        }
        do { let actions = machine.handle(.released(partition)); #expect(actions == []) }
        #expect(machine.isIdle)
        do { let actions = machine.handle(.assigned(partition, toMe: false)); #expect(actions == []) }
    }

    @Test("a consumer RabbitMQ ended drops the partition (no more renewals), which is taken again at the next heartbeat")
    func consumerLost() {
        let partition = PartitionID(type: "t", index: 0)
        var machine = OwnershipMachine(leaseMilliseconds: 100)
        _ = machine.handle(.assigned(partition, toMe: true))
        _ = machine.handle(.acquired(partition, Epoch(4), now: 0))
        _ = machine.handle(.consumerStarted(partition, now: 0))
        do { let actions = machine.handle(.consumerLost(partition, Epoch(3))); #expect(actions == []) }  // an older run's news
        let lost = machine.handle(.consumerLost(partition, Epoch(4)))
        #expect(lost == [.close(partition, reason: "RabbitMQ ended its consumer; it is taken again at the next heartbeat")])
        #expect(machine.consuming.isEmpty)
        do { let actions = machine.handle(.assigned(partition, toMe: true)); #expect(actions == []) }  // not renewed while it closes
        _ = machine.handle(.closed(partition))
        do { let actions = machine.handle(.assigned(partition, toMe: true)); #expect(actions == [.acquire(partition)]) }
    }
}
