import Broker
import Synchronization

/// Which acknowledgements to send for one channel's deliveries, in as few
/// frames as possible.
///
/// Delivery tags on a channel count up from 1 and every one of them is a
/// delivery to this worker. Turns finish out of order, so finished tags wait
/// until every lower tag is finished too; then one `ack multiple` covers
/// them all. RabbitMQ refuses a `multiple` ack whose own tag was already
/// acknowledged, so the frame always names a tag that is still outstanding.
/// When a slow turn holds the window back (a retry with backoff), the tags
/// finished behind it are acked one by one once `holdLimit` of them wait, so
/// the channel's prefetch is not used up by messages that are already done.
struct AckWindow: Sendable {
    /// The lowest tag not yet acknowledged (nor nacked).
    private(set) var lowestOpen: UInt64 = 1
    /// Finished above `lowestOpen`, waiting for the tags below them.
    private var finished: Set<UInt64> = []
    /// Already acknowledged or nacked on their own, above `lowestOpen`.
    private var settledAlone: Set<UInt64> = []
    let holdLimit: Int

    init(holdLimit: Int = 64) {
        self.holdLimit = max(1, holdLimit)
    }

    /// Finished turns, to be acked; returns the frames to send now.
    mutating func finish(_ tags: some Sequence<UInt64>) -> [AMQPChannel.Acknowledgement] {
        for tag in tags where tag >= lowestOpen { finished.insert(tag) }
        return advance()
    }

    /// A tag to be nacked on its own; returns the frames to send now (the
    /// nack first: a `multiple` ack sent before it would ack it instead).
    mutating func nack(_ tag: UInt64, requeue: Bool) -> [AMQPChannel.Acknowledgement] {
        guard tag >= lowestOpen, !settledAlone.contains(tag) else { return [] }
        finished.remove(tag)
        settledAlone.insert(tag)
        return [.nack(tag, requeue: requeue)] + advance()
    }

    /// Tags finished but not yet acknowledged.
    var waiting: Int { finished.count }

    private mutating func advance() -> [AMQPChannel.Acknowledgement] {
        var frames: [AMQPChannel.Acknowledgement] = []
        var top: UInt64?
        while true {
            if finished.remove(lowestOpen) != nil {
                top = lowestOpen
            } else if settledAlone.remove(lowestOpen) == nil {
                break
            }
            lowestOpen += 1
        }
        if let top { frames.append(.ack(top, multiple: true)) }
        if finished.count >= holdLimit {
            for tag in finished.sorted() { frames.append(.ack(tag, multiple: false)) }
            settledAlone.formUnion(finished)
            finished.removeAll()
        }
        return frames
    }
}

/// An `AckWindow` for one consuming channel, safe to use from every turn:
/// frames are handed to the connection thread under the lock, so they reach
/// the broker in the order the window decided them.
///
/// Acks that come while a hand-off is already waiting for the connection
/// thread join it: under load, many turns' acks cost one hand-off and few
/// frames (of consecutive `multiple` acks only the last is sent).
final class ChannelAcknowledger: Sendable {
    let channel: AMQPChannel

    private struct State {
        var window = AckWindow()
        /// Frames decided but not yet taken by the connection thread.
        var pending: [AMQPChannel.Acknowledgement] = []
        var handOffWaiting = false
    }

    private let state = Mutex(State())

    init(channel: AMQPChannel) {
        self.channel = channel
    }

    /// Acks these deliveries (when every earlier one is settled too). Not
    /// awaited: a lost ack is a redelivery, which the dedup record absorbs.
    func finish(_ tags: some Sequence<UInt64> & Sendable) {
        decide { $0.finish(tags) }
    }

    /// Adds the frames `window` decides to the pending ones, and hands them
    /// to the connection thread unless a hand-off is already waiting.
    private func decide(_ frames: (inout AckWindow) -> [AMQPChannel.Acknowledgement]) {
        let handOff = state.withLock { state in
            state.pending += frames(&state.window)
            guard !state.pending.isEmpty, !state.handOffWaiting else { return false }
            state.handOffWaiting = true
            return true
        }
        guard handOff else { return }
        channel.acknowledgeWithoutWaiting { [self] in
            state.withLock { state in
                state.handOffWaiting = false
                defer { state.pending.removeAll(keepingCapacity: true) }
                return Self.compact(state.pending)
            }
        }
    }

    /// Drops each `multiple` ack that a later `multiple` ack in the same
    /// hand-off covers (the later one names a still-unacked, higher tag).
    static func compact(_ frames: [AMQPChannel.Acknowledgement]) -> [AMQPChannel.Acknowledgement] {
        guard let last = frames.lastIndex(where: { if case .ack(_, true) = $0 { true } else { false } }) else { return frames }
        return frames.enumerated().compactMap { index, frame in
            if index < last, case .ack(_, true) = frame { return nil }
            return frame
        }
    }

    func finish(_ tag: UInt64) { finish(CollectionOfOne(tag)) }

    /// Nacks one delivery (after every frame decided before it). Not awaited:
    /// if the channel is gone, the broker requeues it anyway.
    func nack(_ tag: UInt64, requeue: Bool) {
        decide { $0.nack(tag, requeue: requeue) }
    }
}
