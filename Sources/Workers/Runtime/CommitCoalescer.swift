import Synchronization

/// Group commit for one partition: actors whose turns are ready while a
/// commit is on its way to Redis wait for it, then go together in the next
/// `CommitScript` call. An idle partition commits at once; a busy one pays
/// one script per round trip instead of one per actor — without tying any
/// actor to another's pace: each group is decided on its own.
final class CommitCoalescer: Sendable {
    typealias Commit = @Sendable (_ groups: [CommitScript.Group]) async throws -> CommitScript.Outcome

    private struct Waiting {
        var group: CommitScript.Group
        var continuation: CheckedContinuation<Decision, any Error>
    }

    /// What became of one group.
    enum Decision: Sendable, Equatable {
        case decided(CommitScript.GroupOutcome)
        case fenced(currentEpoch: String)
    }

    private let state = Mutex<(waiting: [Waiting], busy: Bool)>(([], false))
    private let commit: Commit

    init(commit: @escaping Commit) {
        self.commit = commit
    }

    /// Commits `group` with whatever else is ready; throws when Redis failed
    /// (then nothing of this call is known to be written).
    func submit(_ group: CommitScript.Group) async throws -> Decision {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { state in
                state.waiting.append(Waiting(group: group, continuation: continuation))
                defer { state.busy = true }
                return !state.busy
            }
            if start { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let batch: [Waiting] = state.withLock { state in
                defer { state.waiting.removeAll(keepingCapacity: true) }
                if state.waiting.isEmpty { state.busy = false }
                return state.waiting
            }
            if batch.isEmpty { return }
            do {
                switch try await commit(batch.map(\.group)) {
                case .groups(let outcomes):
                    for (waiting, outcome) in zip(batch, outcomes) { waiting.continuation.resume(returning: .decided(outcome)) }
                case .fenced(let epoch):
                    for waiting in batch { waiting.continuation.resume(returning: .fenced(currentEpoch: epoch)) }
                }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }
}
