import Foundation
import Tracing

/// A behaviour with its type erased, ready for the runtime: it turns stored
/// state JSON and a message into new state JSON.
public struct HostedType: Sendable {
    public private(set) var typeName: String
    package let initialState: @Sendable () throws -> [UInt8]
    /// Runs several messages for one actor in order, decoding the state once
    /// and encoding it once (see `SequenceOutcome`), each turn within the deadline.
    private let runTurns: @Sendable (_ state: [UInt8], _ decoded: (any Sendable)?, _ turns: [(Message, TurnContext)],
                                     _ deadline: Duration) async -> SequenceOutcome
    /// Checks and normalizes a state given at spawn time.
    package let validateState: @Sendable (_ state: [UInt8]) throws -> [UInt8]
    public var retry: RetryPolicy
    /// What is wrong with the behaviour as written (`Behavior.hostingProblems`):
    /// a worker hosting it refuses to start.
    public let problems: [String]
    /// How long one turn may run before it counts as a failed attempt
    /// (`TurnDeadlineExceeded`); nil: the worker's `turnDeadline`; `.zero`: none.
    public var turnDeadline: Duration?

    /// The turn deadline of a worker that sets none: 30 s.
    public static let defaultTurnDeadline: Duration = .seconds(30)

    /// Hosts `behavior` under its type name (or `name`, e.g. for isolated
    /// tests), retrying failed turns per `retry`; a turn may run for
    /// `turnDeadline` (nil: the worker's setting).
    public init<B: Behavior>(_ behavior: B, name: String? = nil, retry: RetryPolicy = RetryPolicy(), turnDeadline: Duration? = nil) {
        typeName = name ?? B.typeName
        self.retry = retry
        self.turnDeadline = turnDeadline
        problems = behavior.hostingProblems()
        initialState = { try TurnContext.encode(B.initialState) }
        runTurns = { stateBytes, decoded, turns, deadline in
            var state: B.State
            if let cached = decoded as? B.State {
                state = cached
            } else {
                do {
                    state = try Self.decodeState(B.State.self, from: stateBytes)
                } catch {
                    return SequenceOutcome(completed: 0, state: nil, failure: error)
                }
            }
            // A turn that throws or runs late leaves no trace: it ran on a copy.
            let outcome = await TurnDeadline.run(from: state, turns: turns.count, deadline: deadline) { index, state in
                let (message, context) = turns[index]
                if let traced = context.serviceContext {
                    // The behaviour's own spans are children of the turn's.
                    try await ServiceContext.$current.withValue(traced) {
                        try await behavior.handle(message, state: &state, context: context)
                    }
                } else {
                    try await behavior.handle(message, state: &state, context: context)
                }
                return !context.stopsActor
            }
            guard outcome.completed > 0 else { return SequenceOutcome(completed: 0, state: nil, failure: outcome.failure) }
            do {
                return SequenceOutcome(completed: outcome.completed, state: try TurnContext.encode(outcome.state),
                                       decoded: outcome.state, failure: outcome.failure)
            } catch {
                return SequenceOutcome(completed: 0, state: nil, failure: error)
            }
        }
        validateState = { bytes in
            try TurnContext.encode(try Self.decodeState(B.State.self, from: bytes))
        }
    }

    /// Why a worker (or the test kit) refuses to host this type, if it does.
    package var hostingError: WorkerConfigurationError? {
        guard !problems.isEmpty else { return nil }
        return WorkerConfigurationError(.faultyBehavior(type: typeName),
                                        "actor type '\(typeName)' cannot be hosted: \(problems.joined(separator: "; "))")
    }

    /// Runs several messages for one actor in order (see `runTurns`).
    package func runSequence(_ state: [UInt8], _ decoded: (any Sendable)?, _ turns: [(Message, TurnContext)]) async -> SequenceOutcome {
        await runTurns(state, decoded, turns, turnDeadline ?? Self.defaultTurnDeadline)
    }

    /// The same behaviour hosted under another type name.
    public func renamed(_ name: String) -> HostedType {
        var copy = self
        copy.typeName = name
        return copy
    }

    private static func decodeState<S: Decodable>(_ type: S.Type, from bytes: [UInt8]) throws -> S {
        do {
            return try JSONDecoder().decode(S.self, from: Data(bytes))
        } catch {
            throw MessageRejected("state does not decode as \(S.self): \(JSONErrorText.describe(error, in: bytes))")
        }
    }
}

/// What running a sequence of turns on one actor came to: the first
/// `completed` turns ran (their effects are in their contexts) and `state` is
/// the state after them; `failure` is what the next turn threw, if one did.
/// A sequence also stops after a turn that stopped the actor.
package struct SequenceOutcome: Sendable {
    package var completed: Int
    package var state: [UInt8]?
    /// `state` as the behaviour's value, for the activation cache.
    package var decoded: (any Sendable)?
    package var failure: (any Error)?
}

/// How a failing turn is retried before its message is dead-lettered. The
/// actor's later messages wait behind it meanwhile, so its order is kept: in
/// its mailbox for a pause up to `parkThreshold`, and in Redis, with the actor
/// *parked*, for a longer one (docs/TIME.md, "Delayed retries").
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included.
    public var attempts: Int
    /// Delay before the second attempt; doubled for each one after.
    public var initialDelay: Duration
    public var maximumDelay: Duration
    /// The longest pause a retry waits in memory. A longer one parks the
    /// actor: the message is stored to be published again when due, the
    /// actor's later messages are stored behind it and acked, and the
    /// partition's other actors are served meanwhile.
    public var parkThreshold: Duration

    /// Defaults: 4 attempts, waiting 100 ms, 200 ms, 400 ms between them;
    /// pauses over 1 s park the actor.
    public init(attempts: Int = 4, initialDelay: Duration = .milliseconds(100), maximumDelay: Duration = .seconds(10),
                parkThreshold: Duration = .seconds(1)) {
        self.attempts = max(1, attempts)
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.parkThreshold = parkThreshold
    }

    /// Whether the pause after failed attempt `attempt` parks the actor.
    public func parks(after attempt: Int) -> Bool { delay(after: attempt) > parkThreshold }

    /// The pause after failed attempt `attempt` (1-based).
    public func delay(after attempt: Int) -> Duration {
        var delay = initialDelay
        for _ in 1..<max(1, attempt) {
            delay = delay * 2
            if delay >= maximumDelay { return maximumDelay }
        }
        return min(delay, maximumDelay)
    }
}
