import Synchronization

/// Group commit for one partition: actors whose turns are ready while a
/// commit is on its way to Redis wait for it, then go together in the next
/// `CommitScript` call. An idle partition commits at once; a busy one pays
/// one script per round trip instead of one per actor — without tying any
/// actor to another's pace: each group is decided on its own.
///
/// No task of its own: the caller that finds no commit under way *leads* —
/// it commits its group together with whatever waits, hands each waiter its
/// decision, and passes the lead to the next waiter, if any. The leader gets
/// its own answer without a hop between threads.
final class CommitCoalescer: Sendable {
    typealias Commit = @Sendable (_ groups: [CommitScript.Group]) async throws -> CommitScript.Outcome

    /// What became of one group.
    enum Decision: Sendable, Equatable {
        case decided(CommitScript.GroupOutcome)
        case fenced(currentEpoch: String)
    }

    /// How a waiting caller is woken: with its decision, or to lead.
    private enum Wake: Sendable {
        case decision(Decision)
        case lead
    }

    private struct Waiting {
        var group: CommitScript.Group
        var continuation: CheckedContinuation<Wake, any Error>
    }

    private let state = Mutex<(waiting: [Waiting], leading: Bool)>(([], false))
    private let commit: Commit

    init(commit: @escaping Commit) {
        self.commit = commit
    }

    /// Commits `group` with whatever else is ready; throws when Redis failed
    /// (then nothing of this call is known to be written).
    func submit(_ group: CommitScript.Group) async throws -> Decision {
        let free = state.withLock { state in
            if state.leading { return false }
            state.leading = true
            return true
        }
        if free { return try await lead(group) }
        let wake: Wake = try await withCheckedThrowingContinuation { continuation in
            let lead = state.withLock { state in
                if state.leading {
                    state.waiting.append(Waiting(group: group, continuation: continuation))
                    return false
                }
                state.leading = true
                return true
            }
            if lead { continuation.resume(returning: .lead) }
        }
        switch wake {
        case .decision(let decision): return decision
        case .lead: return try await lead(group)
        }
    }

    /// Commits `own` and everything waiting in one call, answers the waiters,
    /// and passes the lead on.
    private func lead(_ own: CommitScript.Group) async throws -> Decision {
        let others = state.withLock { state in
            defer { state.waiting.removeAll(keepingCapacity: true) }
            return state.waiting
        }
        defer { passLead() }
        let outcome: CommitScript.Outcome
        do {
            outcome = try await commit([own] + others.map(\.group))
        } catch {
            for waiting in others { waiting.continuation.resume(throwing: error) }
            throw error
        }
        switch outcome {
        case .groups(let outcomes):
            for (waiting, decided) in zip(others, outcomes.dropFirst()) { waiting.continuation.resume(returning: .decision(.decided(decided))) }
            return .decided(outcomes[0])
        case .fenced(let epoch):
            for waiting in others { waiting.continuation.resume(returning: .decision(.fenced(currentEpoch: epoch))) }
            return .fenced(currentEpoch: epoch)
        }
    }

    /// The first caller waiting leads the next commit; with none, the lead is free.
    private func passLead() {
        let next: Waiting? = state.withLock { state in
            guard !state.waiting.isEmpty else {
                state.leading = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        // Its group goes into its own commit, with whatever waits by then.
        next?.continuation.resume(returning: .lead)
    }
}
