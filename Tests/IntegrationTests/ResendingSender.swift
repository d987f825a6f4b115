import Synchronization
import Workers

/// Rounds a resending sender has sent, and the gate it holds at.
final class SentRounds: Sendable {
    private let value = Atomic<Int>(0)
    private let released = Atomic<Bool>(false)
    func add() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
    func release() { released.store(true, ordering: .relaxed) }
    var isReleased: Bool { released.load(ordering: .relaxed) }
}

/// Sends `rounds` adds to every counter, one round per batch every `pause`,
/// each with a stable id; round `holdBefore` waits until `sent` is released.
/// A batch that fails (a server or node went away mid-publish) is sent
/// again, whole, on a new connection from `connect`, once one can be made:
/// the copies of what was already stored meet the dedup record.
func sendResending(rounds: Int, to counters: [ActorAddress], pause: Duration, holdBefore: Int, sent: SentRounds,
                   connect: @Sendable () async throws -> GreenroomClient) async throws {
    var client: GreenroomClient? = nil
    for round in 0..<rounds {
        try await Task.sleep(for: pause)
        if round == holdBefore {
            try await eventually(600, "the test released the sender") { sent.isReleased }
        }
        let batch = counters.map {
            GreenroomClient.Outgoing(to: $0, kind: "add", payload: Array(#"{"by":1}"#.utf8), id: "\($0.id)-\(round)", spawnIfMissing: true)
        }
        while true {
            do {
                if client == nil { client = try await connect() }
                try await client!.send(batch)
                sent.add()
                break
            } catch {
                await client?.close()
                client = nil
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }
    await client?.close()
}
