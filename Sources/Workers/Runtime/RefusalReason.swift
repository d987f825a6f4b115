/// Why a message was refused, worded once: the runtime writes these into
/// dead letters (`x-greenroom-error`), and the test kit (`GreenroomTestKit`)
/// gives the same reasons, so a test can expect what production says.
package enum RefusalReason {
    /// A message for a type this worker does not host.
    package static func notHosted(type: String) -> String {
        "this worker does not host actor type '\(type)'"
    }

    /// A `greenroom.stop` for an actor that is not running.
    package static func notRunning(_ address: ActorAddress) -> String {
        "actor \(address) is not running (never spawned, or already stopped)"
    }

    /// An ordinary message for an actor that is not running (and is not
    /// created by it: no `spawnIfMissing`, or the actor existed once).
    package static func doesNotExist(_ address: ActorAddress) -> String {
        "actor \(address) does not exist (never spawned, or stopped)"
    }

    /// A `greenroom.spawn` for an address already used.
    package static func alreadyExists(_ address: ActorAddress, status: String) -> String {
        "actor \(address) already exists (\(status)); spawn each address once"
    }

    /// A `greenroom.spawn` whose request or state does not decode.
    package static func cannotSpawn(_ address: ActorAddress, _ error: any Error) -> String {
        "cannot spawn \(address): \(error)"
    }
}

/// What becomes of a turn that threw, by the hosted type's `RetryPolicy`.
package enum FailedTurn: Equatable, Sendable {
    /// `MessageRejected`: dead-lettered at once with its reason, attempts 1.
    case rejected(reason: String)
    /// The last attempt failed: dead-lettered with the reason, and the
    /// actor's parent hears `child-failed`.
    case exhausted(reason: String, attempts: Int)
    /// Tried again after `RetryPolicy.delay(after: attempt)`.
    case retry(reason: String)
}

extension RetryPolicy {
    /// What becomes of attempt `attempt` (1-based) of a turn that threw `error`.
    package func verdict(on error: any Error, attempt: Int) -> FailedTurn {
        if let rejected = error as? MessageRejected { return .rejected(reason: rejected.reason) }
        if attempt >= attempts { return .exhausted(reason: "failed after \(attempt) attempts: \(error)", attempts: attempt) }
        return .retry(reason: "\(error)")
    }
}
