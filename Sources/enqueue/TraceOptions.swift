import ArgumentParser
import Foundation
import Workers

/// `--traceparent` / `--trace` of `send`, `ask` and `spawn`: the trace the
/// message belongs to (docs/OPERATIONS.md, "Tracing").
struct TraceOptions: ParsableArguments {
    @Option(help: .init("Continue this trace: a W3C traceparent, 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>.", valueName: "value"))
    var traceparent: String?

    @Flag(help: "Start a new trace (sampled) and print its traceparent on standard error.")
    var trace = false

    func validate() throws {
        if trace, traceparent != nil { throw ValidationError("give --trace or --traceparent, not both") }
        if let traceparent {
            do {
                _ = try TraceParent(parsing: traceparent)
            } catch {
                throw ValidationError("--traceparent: \(error)")
            }
        }
    }

    /// The headers the message carries: the given trace, a new one (printed
    /// first, so it is there even if the send fails), or none.
    func headers() throws -> TraceHeaders? {
        if let traceparent { return try TraceHeaders(parsing: traceparent) }
        guard trace else { return nil }
        let started = TraceParent.newTrace()
        FileHandle.standardError.write(Data("traceparent: \(started)\n".utf8))
        return TraceHeaders(started)
    }
}
