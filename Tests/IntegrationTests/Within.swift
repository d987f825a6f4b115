struct TimedOut: Error, CustomStringConvertible {
    let what: String
    let seconds: Double
    var description: String { "timed out after \(seconds) s waiting for \(what)" }
}

/// Runs `body` in a task of its own and returns what it returns — or throws
/// `TimedOut` once `seconds` have passed, or `CancellationError` as soon as
/// the calling task is cancelled (a test's time limit does that), whichever
/// comes first. It returns at its deadline even if `body` ignores
/// cancellation: `body` is then cancelled and left to end on its own.
/// Tests wait on conditions with a generous limit, never on fixed sleeps.
func within<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let first = FirstResult<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            first.deliver(to: continuation)
            let work = Task {
                do { first.finish(.success(try await body())) } catch { first.finish(.failure(error)) }
            }
            let timer = Task {
                try? await Task.sleep(for: .milliseconds(Int(seconds * 1_000)))
                first.finish(.failure(TimedOut(what: what, seconds: seconds)))
            }
            first.onFinish {
                work.cancel()
                timer.cancel()
            }
        }
    } onCancel: {
        first.finish(.failure(CancellationError()))
    }
}

/// Polls `condition` until it holds, failing after `seconds`.
func eventually(_ seconds: Double = 30, _ what: String, _ condition: @escaping @Sendable () async throws -> Bool) async throws {
    try await within(seconds, what) {
        while !(try await condition()) {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
