/// Why a message was dead-lettered, as one of a small fixed set of classes:
/// the `reason` label of `greenroom_dead_letters_total`, and the grouping of
/// `enqueue dead stats`. The reason's text says the details; the class says
/// what kind of problem it is, so a dashboard can count them.
///
/// Classified from the reason's wording (RefusalReason.swift and the other
/// places that word a refusal), so letters written before classes existed
/// are classified the same way.
public enum DeadLetterClass: String, CaseIterable, Codable, Sendable {
    /// The message breaks the wire format: a missing or bad header, a body
    /// that is not JSON (docs/PROTOCOL.md).
    case invalid
    /// The body is over the worker's limit.
    case tooLarge = "too_large"
    /// The message was in another partition's queue.
    case misrouted
    /// No worker of its queue hosts its actor type.
    case notHosted = "not_hosted"
    /// Its actor does not exist (never spawned, or stopped).
    case noActor = "no_actor"
    /// A spawn for an address already used, or whose request does not decode.
    case spawnFailed = "spawn_failed"
    /// The actor's kind does not take this message kind, or its payload does not decode.
    case badMessage = "bad_message"
    /// The behaviour rejected it (`MessageRejected`).
    case rejected
    /// Every attempt failed (the type's `RetryPolicy`).
    case exhausted
    /// The worker process died while handling it, too many times.
    case crashed
    /// A delay, due time or reminder period out of bounds.
    case schedule
    /// A send no queue could take.
    case unroutable
    /// RabbitMQ dead-lettered it itself (a queue's length limit or TTL, a reject).
    case broker

    /// The class of a dead letter's reason text (`x-greenroom-error`).
    public init(reason: String) {
        let match = Self.wordings.first { $0.anywhere ? reason.contains($0.phrase) : reason.hasPrefix($0.phrase) }
        self = match?.class ?? .rejected
    }

    /// Wordings, in the order they are tried (the first that matches wins):
    /// a phrase the reason starts with, or holds `anywhere`. What matches
    /// none came from a behaviour's `MessageRejected`.
    private static let wordings: [(phrase: String, anywhere: Bool, class: DeadLetterClass)] = [
        ("failed after ", false, .exhausted),
        ("the worker process died ", false, .crashed),
        ("missing header ", false, .invalid), ("bad header ", false, .invalid),
        ("missing message_id", false, .invalid), ("missing type property", false, .invalid),
        ("body is not valid JSON", false, .invalid),
        ("body is ", false, .tooLarge),
        ("misrouted: ", false, .misrouted),
        ("this worker does not host ", false, .notHosted),
        (" does not exist (never spawned", true, .noActor), (" is not running (never spawned", true, .noActor),
        (" already exists (", true, .spawnFailed), ("cannot spawn ", false, .spawnFailed),
        ("unknown message kind ", false, .badMessage), ("payload of '", false, .badMessage),
        ("state does not decode as ", false, .badMessage),
        ("more than one year ahead", true, .schedule), ("a reminder's period ", false, .schedule),
        ("a delay ", false, .schedule), ("a timer's or reminder's name ", false, .schedule),
        ("unroutable: ", false, .unroutable), (" is unknown: no worker hosting it has started yet", true, .unroutable),
        ("rejected by RabbitMQ", false, .broker),
    ]
}
