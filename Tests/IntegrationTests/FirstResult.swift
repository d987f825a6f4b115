import Synchronization

/// The first of several racing outcomes, handed once to one continuation;
/// later outcomes are dropped. Callbacks registered with `onFinish` run once
/// the first outcome is in (to cancel the losers).
final class FirstResult<T: Sendable>: Sendable {
    private struct State: ~Copyable {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
        var callbacks: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    /// Hands the outcome to `continuation`: now if it is already in, else when it comes.
    func deliver(to continuation: CheckedContinuation<T, any Error>) {
        let ready: Result<T, any Error>? = state.withLock { state in
            if state.result == nil { state.continuation = continuation }
            return state.result
        }
        if let ready { continuation.resume(with: ready) }
    }

    /// Offers an outcome; only the first one counts.
    func finish(_ result: Result<T, any Error>) {
        let (continuation, callbacks): (CheckedContinuation<T, any Error>?, [@Sendable () -> Void]) = state.withLock { state in
            guard state.result == nil else { return (nil, []) }
            state.result = result
            defer { state.continuation = nil; state.callbacks = [] }
            return (state.continuation, state.callbacks)
        }
        continuation?.resume(with: result)
        callbacks.forEach { $0() }
    }

    /// Runs `callback` once the first outcome is in (at once if it already is).
    func onFinish(_ callback: @escaping @Sendable () -> Void) {
        let now = state.withLock { state in
            if state.result == nil { state.callbacks.append(callback) }
            return state.result != nil
        }
        if now { callback() }
    }
}
