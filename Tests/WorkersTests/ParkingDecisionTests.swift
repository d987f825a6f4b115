import Broker
import Foundation
import Testing
@testable import Workers

/// The pure decisions of delayed retries (docs/TIME.md, "Delayed retries"):
/// when a retry parks, what becomes of a parked actor's deliveries, and the
/// held list's element format.
@Suite("Parking decisions: park or wait, run, hold or drop, and held messages", .timeLimit(.minutes(1)))
struct ParkingDecisionTests {
    @Test("a pause up to the threshold waits in memory; a longer one parks")
    func threshold() {
        let defaults = RetryPolicy()
        #expect((1...3).allSatisfy { !defaults.parks(after: $0) }, "100, 200, 400 ms stay in memory")
        let slow = RetryPolicy(attempts: 5, initialDelay: .milliseconds(500))
        #expect(!slow.parks(after: 1))  // 500 ms
        #expect(!slow.parks(after: 2))  // 1 s: at the threshold, not over it
        #expect(slow.parks(after: 3))  // 2 s
        #expect(RetryPolicy(initialDelay: .seconds(5), parkThreshold: .seconds(10)).parks(after: 1) == false)
    }

    @Test("a park id names its message, also when the id has # and digits in it")
    func parkIDs() {
        #expect(ParkID.make(messageID: "m-1", attempts: 2) == "m-1#2")
        #expect(ParkID.messageID(of: "m-1#2") == "m-1")
        #expect(ParkID.messageID(of: ParkID.make(messageID: "a#b#7", attempts: 12)) == "a#b#7")
        #expect(ParkID.messageID(of: "no-mark") == nil)
        #expect(ParkID.messageID(of: "ends#") == nil)
        #expect(ParkID.messageID(of: "x#1a") == nil)
    }

    @Test("an actor not parked runs what comes, and drops what a finished park released")
    func notParked() {
        #expect(ParkedArrival.of(kind: "add", messageID: "m", release: nil, unparking: nil, parked: nil) == .run)
        #expect(ParkedArrival.of(kind: "add", messageID: "m", release: "old#1", unparking: nil, parked: nil) == .drop)
        #expect(ParkedArrival.of(kind: WireFormat.SystemKind.unpark, messageID: "u", release: "old#1", unparking: "old#1", parked: nil) == .drop)
    }

    @Test("a parked actor runs what its park released, holds what is new, drops copies stored already, and takes its own unpark")
    func parked() {
        let park = "m#1"
        #expect(ParkedArrival.of(kind: "add", messageID: "n", release: park, unparking: nil, parked: park) == .run)
        #expect(ParkedArrival.of(kind: "add", messageID: "m", release: park, unparking: nil, parked: park) == .run)
        #expect(ParkedArrival.of(kind: "add", messageID: "n", release: nil, unparking: nil, parked: park) == .hold)
        #expect(ParkedArrival.of(kind: WireFormat.SystemKind.stop, messageID: "s", release: nil, unparking: nil, parked: park) == .hold)
        // The parked message itself, redelivered: it heads the held list already.
        #expect(ParkedArrival.of(kind: "add", messageID: "m", release: nil, unparking: nil, parked: park) == .drop)
        // Released by an earlier park: its copy stays in the list until its turn settles.
        #expect(ParkedArrival.of(kind: "add", messageID: "n", release: "k#1", unparking: nil, parked: park) == .drop)
        #expect(ParkedArrival.of(kind: WireFormat.SystemKind.unpark, messageID: "u", release: park, unparking: park, parked: park) == .unpark)
        #expect(ParkedArrival.of(kind: WireFormat.SystemKind.unpark, messageID: "u", release: "k#1", unparking: "k#1", parked: park) == .drop)
    }

    @Test("a held element starts with its id's length and id, reads back, and is published again with its headers and the release")
    func heldElement() throws {
        let json = #"""
            {"id":"a:b","kind":"tick","payload":"{\"x\":1}","reply_to":"amq.rabbitmq.reply-to.q","correlation_id":"c",
             "attempts":2,"due_at":1700000000000,"schedule":"reminder:beat","generation":"g1","missed":3,"spawn":true}
            """#
        let held = try JSONDecoder().decode(HeldMessage.self, from: Data(json.utf8))
        let element = try held.element()
        #expect(String(decoding: element.prefix(6), as: UTF8.self) == "3:a:b{")
        #expect(try HeldMessage.decode(element: element) == held)
        #expect(throws: (any Error).self) { try HeldMessage.decode(element: Array("9:short".utf8)) }

        let actor = try ActorAddress(parsing: "probe/p")
        let message = held.message(to: actor, release: "a:b#2")
        let headers = message.properties.headers
        #expect(message.properties.messageID == "a:b")
        #expect(message.properties.type == "tick")
        #expect(message.body == Array(#"{"x":1}"#.utf8))
        #expect(message.properties.replyTo == "amq.rabbitmq.reply-to.q")
        #expect(message.properties.correlationID == "c")
        #expect(headers[WireFormat.releaseHeader]?.stringValue == "a:b#2")
        #expect(HeldMessage.attempts(in: headers) == 2)
        #expect(Envelope.integer(headers[WireFormat.dueAtHeader]) == 1_700_000_000_000)
        #expect(headers[WireFormat.scheduleHeader]?.stringValue == "reminder:beat")
        #expect(headers[WireFormat.generationHeader]?.stringValue == "g1")
        #expect(Envelope.integer(headers[WireFormat.missedHeader]) == 3)
        #expect(headers[WireFormat.toHeader]?.stringValue == "probe/p")
    }

    @Test("a release entry is the park's greenroom.unpark, due when the pause ends")
    func releaseEntry() throws {
        let actor = try ActorAddress(parsing: "probe/p")
        let entry = try ParkID.releaseEntry("m#1", actor: actor, due: 42)
        #expect(entry.id == "m#1/unpark")
        #expect(entry.kind == WireFormat.SystemKind.unpark)
        #expect(entry.release == "m#1")
        #expect(entry.due == 42)
        #expect(try JSONDecoder().decode(Unpark.self, from: Data(entry.payload.utf8)).park == "m#1")
    }
}
