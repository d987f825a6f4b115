import Synchronization

/// Lets one caller at a time drive the kit's actors (`settle`, `ask`,
/// `receive` from several tasks take turns), first come, first served.
/// Swift's `actor` would not do: it is re-entrant at every `await`.
final class TurnGate: Sendable {
    private let state = Mutex<(held: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func holding<T>(_ body: () async throws -> T) async throws -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let enter = state.withLock { state in
                if state.held {
                    state.waiting.append(continuation)
                    return false
                }
                state.held = true
                return true
            }
            if enter { continuation.resume() }
        }
        defer { release() }
        return try await body()
    }

    /// Hands the gate to the next waiter, or opens it.
    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiting.isEmpty else {
                state.held = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
