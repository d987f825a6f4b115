import Testing
@testable import Workers

@Suite("Dead-letter classes of the publisher's refusals", .timeLimit(.minutes(1)))
struct DeadLetterClassWordingTests {
    @Test("a send to a type no worker declared, and one the broker could not route, are unroutable")
    func unroutable() {
        #expect(DeadLetterClass(reason: UnknownActorType(type: "nobody").description) == .unroutable)
        #expect(DeadLetterClass(reason: "unroutable: NO_ROUTE for counter.3") == .unroutable)
    }
}
