import Testing
@testable import Workers

/// `MailboxAdmission` driven by random interleavings of arrivals, drains
/// taking runs, and runs finishing — the way concurrent tasks would.
@Suite("Mailbox admission: one run per actor at a time, order kept, nothing lost", .timeLimit(.minutes(1)))
struct MailboxAdmissionTests {
    /// An item: its actor and its place in that actor's arrival order.
    struct Item: Equatable {
        var actor: Int
        var sequence: Int
    }

    @Test("random events keep every invariant", arguments: SeededRandom.seeds(200))
    func randomInterleavings(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let actors = try (0..<4).map { try ActorAddress(type: "t", id: "a\($0)") }
        var admission = MailboxAdmission<Item>(maximumRun: Int.random(in: 1...4, using: &random))
        var sent = [Int](repeating: 0, count: actors.count)
        var received: [[Int]] = Array(repeating: [], count: actors.count)
        /// Actors with a drain task; those holding a run, and the run's size.
        var drains = Set<Int>()
        var holding: [Int: Int] = [:]

        for _ in 0..<400 {
            switch Int.random(in: 0..<3, using: &random) {
            case 0:  // a delivery arrives
                let actor = Int.random(in: 0..<actors.count, using: &random)
                let opened = admission.enqueue(Item(actor: actor, sequence: sent[actor]), for: actors[actor])
                sent[actor] += 1
                #expect(opened == !drains.contains(actor), "seed \(seed): a drain must start exactly when the mailbox opens")
                if opened { drains.insert(actor) }
            case 1:  // a drain without a run takes the next one
                guard let actor = drains.subtracting(holding.keys).randomElement(using: &random) else { continue }
                let run = admission.take(actors[actor])
                if run.isEmpty {
                    drains.remove(actor)
                    #expect(!admission.isOpen(actors[actor]), "seed \(seed)")
                } else {
                    #expect(run.count <= admission.maximumRun)
                    #expect(run.allSatisfy { $0.actor == actor })
                    received[actor] += run.map(\.sequence)
                    holding[actor] = run.count
                    #expect(admission.running.contains(actors[actor]))
                }
            default:  // a run finishes
                guard let (actor, count) = holding.randomElement(using: &random) else { continue }
                admission.finish(actors[actor], items: count)
                holding[actor] = nil
            }
            // Never two runs of one actor: `running` is exactly the drains holding a run.
            #expect(Set(admission.running) == Set(holding.keys.map { actors[$0] }), "seed \(seed)")
        }
        // Drain everything that is left.
        for (actor, count) in holding { admission.finish(actors[actor], items: count) }
        for actor in drains {
            while true {
                let run = admission.take(actors[actor])
                if run.isEmpty { break }
                received[actor] += run.map(\.sequence)
                admission.finish(actors[actor], items: run.count)
            }
        }
        for actor in actors.indices {
            #expect(received[actor] == Array(0..<sent[actor]), "seed \(seed): actor \(actor) got its items out of order, or lost some")
        }
        #expect(admission.count == 0)
    }

    @Test("a run takes everything waiting, up to the limit, oldest first")
    func runs() throws {
        let actor = try ActorAddress(type: "t", id: "a")
        var admission = MailboxAdmission<Int>(maximumRun: 3)
        let opened = admission.enqueue(1, for: actor)
        #expect(opened)
        for item in 2...5 {
            let openedAgain = admission.enqueue(item, for: actor)
            #expect(!openedAgain)
        }
        let first = admission.take(actor)
        #expect(first == [1, 2, 3])
        admission.finish(actor, items: 3)
        let second = admission.take(actor)
        #expect(second == [4, 5])
        admission.finish(actor, items: 2)
        let third = admission.take(actor)
        #expect(third == [])
        #expect(admission.count == 0)
        let reopened = admission.enqueue(6, for: actor)
        #expect(reopened, "a closed mailbox opens again")
    }
}
