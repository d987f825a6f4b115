/// Gathers the results of several operations finished one by one on a
/// connection thread (publish confirms, pipelined Redis replies) and resumes
/// the waiting caller once, when every one has its result. Lives on that
/// thread only. A second result for the same index is ignored.
final class ResultGatherer<Success: Sendable, Failure: Error> {
    private var results: [Result<Success, Failure>?]
    private var remaining: Int
    private let continuation: CheckedContinuation<[Result<Success, Failure>], any Error>

    init(count: Int, continuation: CheckedContinuation<[Result<Success, Failure>], any Error>) {
        results = Array(repeating: nil, count: count)
        remaining = count
        self.continuation = continuation
    }

    func set(_ index: Int, _ result: Result<Success, Failure>) {
        guard results[index] == nil else { return }
        results[index] = result
        remaining -= 1
        if remaining == 0 { continuation.resume(returning: results.map { $0! }) }
    }
}
