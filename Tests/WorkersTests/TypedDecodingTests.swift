import Testing
import Workers

/// The reasons a typed message's payload is refused with: each names the
/// field and what was expected, since the sender reads them in a dead letter.
@Suite("Payloads that do not decode say which field and what was expected", .timeLimit(.minutes(1)))
struct TypedDecodingTests {
    static func reason<M: ActorMessage>(_ type: M.Type, _ payload: String) -> String? {
        do {
            _ = try Message(kind: M.kind, payload: Array(payload.utf8), id: "m").decode(M.self)
            return nil
        } catch {
            return (error as? MessageRejected)?.reason ?? "not a MessageRejected: \(error)"
        }
    }

    @Test("a field of the wrong type, null, missing, or a number it cannot hold")
    func fields() {
        #expect(Self.reason(Counter.Add.self, #"{"by": "two"}"#) == "payload of 'add' does not decode as Add: 'by' is not Int")
        #expect(Self.reason(Counter.Add.self, #"{"by": null}"#) == "payload of 'add' does not decode as Add: 'by' is null, expected Int")
        #expect(Self.reason(Counter.Add.self, #"{"bye": 1}"#) == "payload of 'add' does not decode as Add: missing field 'by'")
        #expect(Self.reason(Counter.Add.self, #"{"by": 1.5}"#)
                == "payload of 'add' does not decode as Add: a number does not fit its field (a fraction or a number out of range for an integer): 'by' is 1.5")
        #expect(Self.reason(Tree.Grow.self, #"{"depth": 1e30, "fanout": 2}"#)?.hasSuffix("'depth' is 1e+30") == true)
        #expect(Self.reason(Counter.Add.self, #"{"by": 1"#) == "payload of 'add' does not decode as Add: not valid JSON")
        #expect(Self.reason(Counter.Add.self, #"[1]"#) == "payload of 'add' does not decode as Add: the value is not an object")
    }

    @Test("an address field says which field and what is wrong with the address")
    func addresses() {
        #expect(Self.reason(Account.Transfer.self, #"{"to": "nobody", "amount": 1}"#)
                == "payload of 'transfer' does not decode as Transfer: 'to' is invalid: invalid actor address 'nobody': an address is TYPE/ID, e.g. counter/42; there is no '/'")
        #expect(Self.reason(Account.Transfer.self, #"{"to": 7, "amount": 1}"#) == "payload of 'transfer' does not decode as Transfer: 'to' is not String")
    }

    @Test("a ping is any JSON object, and only an object")
    func ping() throws {
        #expect(Self.reason(Echo.Ping.self, #"[1, 2]"#) == "payload of 'ping' does not decode as Ping: the value is not an object")
        let ping = try Message(kind: "ping", payload: Array(#"{"a": [1, 2.5, null, {"b": true}], "s": "x"}"#.utf8), id: "m").decode(Echo.Ping.self)
        #expect(ping == Echo.Ping(["a": [1, 2.5, nil, ["b": true]], "s": "x"]))
    }
}
