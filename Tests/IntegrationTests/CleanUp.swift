/// Runs `body` with a resource that `cleanUp` releases afterwards — also when
/// `body` throws or the test is cancelled (a time limit). After a success,
/// a failing cleanup fails the test; after a failure, `body`'s error is the
/// one reported and the cleanup's is only printed.
func withCleanUp<Resource: Sendable, T>(
    _ resource: Resource, _ what: String, seconds: Double = 60,
    cleanUp: @escaping @Sendable (Resource) async throws -> Void,
    _ body: (Resource) async throws -> T
) async throws -> T {
    let result: T
    do {
        result = try await body(resource)
    } catch {
        if let problem = await shielded(seconds, what, { try await cleanUp(resource) }) {
            print("cleanup after a failure: \(problem)")
        }
        throw error
    }
    if let problem = await shielded(seconds, what, { try await cleanUp(resource) }) { throw problem }
    return result
}

/// Runs `body` in a task the caller's cancellation does not reach — cleanup
/// must still happen after a test was cancelled — bounded by `seconds`.
/// Returns the error it failed with, if any.
func shielded(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> Void) async -> (any Error)? {
    let task = Task { try await within(seconds, what, body) }
    switch await task.result {
    case .success: return nil
    case .failure(let error): return error
    }
}
