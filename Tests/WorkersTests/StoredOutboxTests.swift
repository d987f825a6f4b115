import Foundation
import Testing
@testable import Workers

@Suite("Stored outboxes: compact, and records of the format before still read", .timeLimit(.minutes(1)))
struct StoredOutboxTests {
    static let reply = OutgoingMessage(
        destination: .reply(queue: "amq.rabbitmq.reply-to.g1h2AA", correlationID: "c1"), kind: "reply",
        payload: Array(#"{"count":12345,"note":"ünïcode"}"#.utf8), id: "m1/0", from: try! ActorAddress(type: "counter", id: "a"))
    static let send = OutgoingMessage(
        destination: .actor(try! ActorAddress(type: "account", id: "b")), kind: "deposit",
        payload: Array(#"{"amount":5}"#.utf8), id: "m1/1", from: nil, spawnIfMissing: true)

    @Test("round trip, payload stored as text")
    func roundTrip() throws {
        let stored = try StoredOutbox.encode([Self.reply, Self.send])
        #expect(try StoredOutbox.decode(stored) == [Self.reply, Self.send])
        #expect(String(decoding: stored, as: UTF8.self).contains(#""payload":"{\"amount\":5}""#))
        #expect(try StoredOutbox.encode([]) == Array("[]".utf8))
    }

    @Test("a record written before (payload as an array of numbers) decodes")
    func formerFormat() throws {
        let former = Array(try JSONEncoder().encode([Self.reply, Self.send]))
        #expect(String(decoding: former, as: UTF8.self).contains("[123,"))
        #expect(try StoredOutbox.decode(former) == [Self.reply, Self.send])
    }
}
