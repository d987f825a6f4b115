import Testing
import Workers

@Suite("Actor addresses", .timeLimit(.minutes(1)))
struct ActorAddressTests {
    @Test("valid addresses parse into type and ID")
    func valid() throws {
        let address = try ActorAddress(parsing: "counter/user.42:eu@home_1-a")
        #expect(address.type == "counter")
        #expect(address.id == "user.42:eu@home_1-a")
        #expect(address.description == "counter/user.42:eu@home_1-a")
        #expect(try ActorAddress(parsing: "a/" + String(repeating: "x", count: 200)).id.count == 200)
        #expect(try ActorAddress(parsing: "a" + String(repeating: "b", count: 63) + "/1").type.count == 64)
        // Only the first '/' separates: the ID cannot hold another.
        #expect(throws: AddressError.self) { try ActorAddress(parsing: "counter/a/b") }
    }

    @Test("invalid addresses are rejected with the reason", arguments: [
        ("counter", "no '/'"),
        ("/42", "type is empty"),
        ("counter/", "ID is empty"),
        ("Counter/1", "start with a lowercase"),
        ("1counter/1", "start with a lowercase"),
        ("coun ter/1", "a space"),
        ("counter/4 2", "a space"),
        ("counter/ü", "non-ASCII"),
        ("counter/a#b", "'#'"),
    ])
    func invalid(input: String, reason: String) {
        do {
            _ = try ActorAddress(parsing: input)
            Issue.record("\(input) was accepted")
        } catch {
            #expect(error.description.contains(reason), "\(error)")
            #expect(error.description.contains("invalid actor address"))
        }
    }

    @Test("length limits")
    func lengths() {
        #expect(throws: AddressError.self) { try ActorAddress(parsing: "a/" + String(repeating: "x", count: 201)) }
        #expect(throws: AddressError.self) { try ActorAddress(parsing: "a" + String(repeating: "b", count: 64) + "/1") }
    }
}
