import Broker
import Testing
@testable import Workers

@Suite("AckWindow: as few ack frames as possible, never one RabbitMQ would refuse", .timeLimit(.minutes(1)))
struct AckWindowTests {
    @Test("finished in order: one multiple ack for the lot")
    func inOrder() {
        var window = AckWindow()
        #expect(window.finish([1, 2, 3, 4]) == [.ack(4, multiple: true)])
        #expect(window.lowestOpen == 5)
    }

    @Test("finished out of order: nothing until the lowest is done, then one frame")
    func outOfOrder() {
        var window = AckWindow()
        #expect(window.finish([2, 3]) == [])
        #expect(window.waiting == 2)
        #expect(window.finish([1]) == [.ack(3, multiple: true)])
        #expect(window.waiting == 0)
    }

    @Test("a nack goes out first and is never covered by a later multiple ack")
    func nackInTheMiddle() {
        var window = AckWindow()
        #expect(window.finish([1, 3]) == [.ack(1, multiple: true)])
        // 2 is nacked: it is sent at once, and the window moves past it to 3.
        #expect(window.nack(2, requeue: true) == [.nack(2, requeue: true), .ack(3, multiple: true)])
        #expect(window.lowestOpen == 4)
        // A tag nacked ahead of the window is skipped, not named, by the next ack.
        #expect(window.nack(5, requeue: true) == [.nack(5, requeue: true)])
        #expect(window.finish([4]) == [.ack(4, multiple: true)])
        #expect(window.finish([6]) == [.ack(6, multiple: true)])
    }

    @Test("a slow turn at the front: finished tags behind it are acked one by one past the hold limit")
    func heldBack() {
        var window = AckWindow(holdLimit: 3)
        #expect(window.finish([2, 3]) == [])
        #expect(window.finish([4]) == [.ack(2, multiple: false), .ack(3, multiple: false), .ack(4, multiple: false)])
        // When the slow one finishes, the multiple ack names it, not a tag already acked.
        #expect(window.finish([5]) == [])
        #expect(window.finish([1]) == [.ack(5, multiple: true)])
        #expect(window.lowestOpen == 6)
    }

    @Test("when every tag up to the front was settled alone, no frame is needed")
    func allSettledAlone() {
        var window = AckWindow(holdLimit: 1)
        #expect(window.finish([2]) == [.ack(2, multiple: false)])
        #expect(window.nack(1, requeue: false) == [.nack(1, requeue: false)])
        #expect(window.lowestOpen == 3)
        #expect(window.finish([2]) == [])  // a repeat of a settled tag is ignored
    }

    @Test("random completion orders: every tag is settled exactly once and multiple acks name open tags", arguments: 0..<20)
    func randomOrders(seed: Int) {
        var generator = SeededRandom(seed: UInt64(seed))
        let count = 200
        var tags = Array(UInt64(1)...UInt64(count))
        tags.shuffle(using: &generator)
        var window = AckWindow(holdLimit: 8)
        var settled = Set<UInt64>()
        var done = Set<UInt64>()
        for tag in tags {
            done.insert(tag)
            let frames = Int.random(in: 0..<10, using: &generator) == 0 ? window.nack(tag, requeue: true) : window.finish([tag])
            for frame in frames {
                switch frame {
                case .ack(let acked, let multiple):
                    #expect(!settled.contains(acked), "ack of an already settled tag \(acked)")
                    if multiple {
                        #expect((1...acked).allSatisfy(done.contains), "a multiple ack covered a turn still running")
                        for open in 1...acked where !settled.contains(open) { settled.insert(open) }
                    } else {
                        settled.insert(acked)
                    }
                case .nack(let nacked, _):
                    #expect(!settled.contains(nacked))
                    settled.insert(nacked)
                }
            }
        }
        #expect(settled.count == count)
        #expect(window.lowestOpen == UInt64(count + 1))
    }
}

@Suite("ChannelAcknowledger.compact: acks collected for one hand-off", .timeLimit(.minutes(1)))
struct AcknowledgerCompactionTests {
    @Test("only the last multiple ack is kept; single acks and nacks stay, in order")
    func compaction() {
        let frames: [AMQPChannel.Acknowledgement] = [.ack(3, multiple: true), .nack(4, requeue: true), .ack(6, multiple: true), .ack(9, multiple: false), .ack(12, multiple: true)]
        #expect(ChannelAcknowledger.compact(frames) == [.nack(4, requeue: true), .ack(9, multiple: false), .ack(12, multiple: true)])
        #expect(ChannelAcknowledger.compact([.ack(9, multiple: false)]) == [.ack(9, multiple: false)])
        #expect(ChannelAcknowledger.compact([]) == [])
    }

    @Test("random finishing orders, collected in random hand-offs: every tag acked once, never a settled tag named", arguments: SeededRandom.seeds(100))
    func collectedHandOffs(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var window = AckWindow(holdLimit: 8)
        var tags = Array(UInt64(1)...200)
        tags.shuffle(using: &random)
        var pending: [AMQPChannel.Acknowledgement] = []
        var acked = Set<UInt64>()
        func deliver(_ frames: [AMQPChannel.Acknowledgement]) {
            for frame in ChannelAcknowledger.compact(frames) {
                guard case .ack(let tag, let multiple) = frame else { continue }
                #expect(!acked.contains(tag), "seed \(seed): tag \(tag) was already settled")
                if multiple { acked.formUnion(1...tag) } else { acked.insert(tag) }
            }
        }
        for tag in tags {
            pending += window.finish([tag])
            if Int.random(in: 0..<4, using: &random) == 0 {
                deliver(pending)
                pending.removeAll()
            }
        }
        deliver(pending)
        #expect(acked == Set(1...200), "seed \(seed)")
    }
}
