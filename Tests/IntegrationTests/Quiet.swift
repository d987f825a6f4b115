import Broker
import Foundation
import Synchronization
import GreenroomTestSupport
import Workers

/// The one definition of "the fleet is quiet", used by every guarantee test
/// before it checks exact values.
///
/// Quiet for some actor types means, all at once:
/// 1. every partition queue of those types (`greenroom.TYPE.P`, read with
///    `rabbitmqctl list_queues`) has nothing ready and nothing unacked — so no
///    message is waiting, being handled, being retried, or committed but not
///    yet acked (a turn's sends are confirmed before its message is acked, so
///    they would show as ready);
/// 2. no in-process worker given has a turn queued or running
///    (`WorkerRuntime.inFlight()`);
/// 3. the values the test reads (`read`), read once, then again after a pause
///    in which 1 and 2 still hold, are the same.
///
/// Returns the second reading. The test then compares it with the exact
/// values it expects: a message applied twice — before or during the pause —
/// shows as a wrong value, never as a pass. Waiting is bounded by `seconds`.
enum Quiet {
    static func settle<T: Equatable & Sendable>(
        _ what: String, types: [String], runtimes: [WorkerRuntime] = [], seconds: Double = 300,
        pause: Duration = .milliseconds(500), read: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        precondition(!types.isEmpty, "quiet for which types?")
        let last = LastSeen()
        do {
            return try await within(seconds, "a quiet point (\(what))") {
                while true {
                    guard try await isQuiet(types: types, runtimes: runtimes, last: last) else {
                        try await Task.sleep(for: .milliseconds(200))
                        continue
                    }
                    let first = try await read()
                    try await Task.sleep(for: pause)
                    guard try await isQuiet(types: types, runtimes: runtimes, last: last) else { continue }
                    let second = try await read()
                    if first == second { return second }
                    last.text.withLock { $0 = "values still changing: \(String(describing: first).prefix(300)) then \(String(describing: second).prefix(300))" }
                }
            }
        } catch let timeout as TimedOut {
            throw NotQuiet(timeout: timeout, last: last.text.withLock { $0 })
        }
    }

    /// Conditions 1 and 2 now.
    static func isQuiet(types: [String], runtimes: [WorkerRuntime], last: LastSeen) async throws -> Bool {
        for runtime in runtimes {
            let inFlight = await runtime.inFlight()
            if inFlight > 0 {
                last.text.withLock { $0 = "an in-process worker has \(inFlight) turns in flight" }
                return false
            }
        }
        let queues = try await RabbitControl.partitionQueues(of: types)
        for type in types where !queues.contains(where: { RabbitControl.isPartitionQueue($0.name, of: [type]) }) {
            // Quiet because the queues are gone would prove nothing.
            throw NoQueues(type: type)
        }
        let busy = queues.filter { $0.ready != 0 || $0.unacked != 0 }
        if !busy.isEmpty {
            last.text.withLock { $0 = "busy queues: \(busy.map(\.description).joined(separator: "; "))" }
            return false
        }
        return true
    }

    struct NotQuiet: Error, CustomStringConvertible {
        let timeout: TimedOut
        let last: String
        var description: String { "\(timeout); last seen: \(last)" }
    }

    struct NoQueues: Error, CustomStringConvertible {
        let type: String
        var description: String { "type \(type) has no partition queues: nothing to wait for (wrong type name?)" }
    }
}

/// Every counter's committed count (0 for one that does not exist yet), at a
/// quiet point of their types (see `Quiet`).
func settledCounts(_ client: GreenroomClient, _ counters: [ActorAddress], runtimes: [WorkerRuntime] = [],
                   seconds: Double = 300) async throws -> [Int] {
    try await Quiet.settle("\(counters.count) counters", types: Array(Set(counters.map(\.type))).sorted(), runtimes: runtimes, seconds: seconds) {
        try await committedCounts(client, counters)
    }
}

/// Every counter's committed count now (0 for one that does not exist).
func committedCounts(_ client: GreenroomClient, _ counters: [ActorAddress]) async throws -> [Int] {
    try await withThrowingTaskGroup(of: (Int, Int).self) { group in
        for (index, counter) in counters.enumerated() {
            group.addTask {
                let state: [UInt8]?
                do { state = try await client.state(of: counter) } catch is ActorNotFound { state = nil }
                return (index, try state.map { try JSONDecoder().decode(Counter.State.self, from: Data($0)).count } ?? 0)
            }
        }
        var counts = [Int](repeating: 0, count: counters.count)
        for try await (index, count) in group { counts[index] = count }
        return counts
    }
}

/// A probe's committed state, at a quiet point of its type.
func settledProbe(_ client: GreenroomClient, _ probe: ActorAddress, runtimes: [WorkerRuntime] = [], seconds: Double = 300) async throws -> Probe.State {
    try await Quiet.settle("probe \(probe)", types: [probe.type], runtimes: runtimes, seconds: seconds) {
        try JSONDecoder().decode(Probe.State.self, from: Data(try await client.state(of: probe)))
    }
}

/// A probe's committed state, straight from Redis (not a quiet point); nil
/// while it does not exist yet.
func storedProbe(_ client: GreenroomClient, _ probe: ActorAddress) async throws -> Probe.State? {
    let bytes: [UInt8]
    do {
        bytes = try await client.state(of: probe)
    } catch is ActorNotFound {
        return nil
    }
    return try JSONDecoder().decode(Probe.State.self, from: Data(bytes))
}

/// What a quiet-point wait saw last, for the timeout message.
final class LastSeen: Sendable {
    let text = Mutex("nothing read yet")
}
