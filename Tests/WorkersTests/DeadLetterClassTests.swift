import Foundation
import Testing
@testable import Workers

@Suite("Dead-letter reason classes: every refusal the runtime words has its class", .timeLimit(.minutes(1)))
struct DeadLetterClassTests {
    let address = try! ActorAddress(type: "counter", id: "c1")

    @Test("the runtime's refusal wordings map to their classes, not to rejected")
    func runtimeWordings() {
        let cases: [(String, DeadLetterClass)] = [
            (RefusalReason.notHosted(type: "counter"), .notHosted),
            (RefusalReason.notRunning(address), .noActor),
            (RefusalReason.doesNotExist(address), .noActor),
            (RefusalReason.alreadyExists(address, status: "active"), .spawnFailed),
            (RefusalReason.cannotSpawn(address, MessageRejected("bad")), .spawnFailed),
            ("failed after 4 attempts: boom", .exhausted),
            ("the worker process died 3 times while handling it", .crashed),
            ("missing header x-greenroom-to (the target address)", .invalid),
            ("missing message_id property (required: it is the dedup key)", .invalid),
            ("missing type property (the message kind)", .invalid),
            ("body is not valid JSON", .invalid),
            ("body is 2000000 bytes; the limit is 1048576", .tooLarge),
            ("misrouted: belongs to greenroom.counter.3", .misrouted),
            ("unknown message kind 'frobnicate'", .badMessage),
            ("payload of 'add' does not decode as Add: missing field 'by'", .badMessage),
            ("x-greenroom-not-before 99999999999999 is more than one year ahead (the longest delay)", .schedule),
            ("a delay cannot be negative (got -1.0 seconds); use .zero to send at once", .schedule),
            ("unroutable: NO_ROUTE for greenroom.x.0", .unroutable),
            (UnknownActorType(type: "nobody").description, .unroutable),
            ("rejected by RabbitMQ (maxlen)", .broker),
        ]
        for (reason, expected) in cases {
            #expect(DeadLetterClass(reason: reason) == expected, "\(reason)")
        }
    }

    @Test("a behaviour's own rejection text is 'rejected'")
    func behaviourRejections() {
        #expect(DeadLetterClass(reason: "insufficient funds: balance 3, withdrawing 5") == .rejected)
        #expect(DeadLetterClass(reason: "") == .rejected)
    }

    @Test("the filter matches a class by name and text case-insensitively, a type by its prefix, an id exactly")
    func filter() {
        let letter = DeadLetter(target: "counter/c1", kind: "add", messageID: "m-1", reason: "failed after 4 attempts: Boom",
                                attempts: 4, worker: nil, deadAt: nil, body: "{}")
        #expect(DeadLetterFilter(reason: "exhausted").matches(letter))
        #expect(DeadLetterFilter(reason: "boom").matches(letter))
        #expect(!DeadLetterFilter(reason: "invalid").matches(letter))
        #expect(DeadLetterFilter(type: "counter").matches(letter))
        #expect(!DeadLetterFilter(type: "count").matches(letter))
        #expect(DeadLetterFilter(type: "counter", id: "m-1").matches(letter))
        #expect(!DeadLetterFilter(id: "m-2").matches(letter))
        #expect(DeadLetterFilter().matches(letter))
    }
}
