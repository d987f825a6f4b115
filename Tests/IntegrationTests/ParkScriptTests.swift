@testable import Broker
import Foundation
import Testing
@testable import Workers

/// The commit script's park part driven directly (docs/TIME.md, "Delayed
/// retries"): what each step writes, so that a step repeated after a crash
/// neither loses nor doubles a held message.
@Suite("The commit script's park part: park, hold, release, unpark", .timeLimit(.minutes(2)))
struct ParkScriptTests {
    static func element(_ id: String) throws -> [UInt8] {
        try JSONDecoder().decode(HeldMessage.self, from: Data(#"{"id":"\#(id)","kind":"k","payload":"{}"}"#.utf8)).element()
    }

    static func group(_ scratch: CommitScriptTests.Scratch, expected: Int64, applied: [String] = [], checked: [String] = [],
                      parking: CommitScript.Parking) -> CommitScript.Group {
        var group = CommitScript.Group(address: scratch.counter, expectedVersion: expected,
                                       state: applied.isEmpty ? nil : Array(#"{"count":\#(expected)}"#.utf8),
                                       applied: applied.map { ($0, Array("[]".utf8)) }, checked: checked)
        group.parking = parking
        return group
    }

    static func held(_ scratch: CommitScriptTests.Scratch) async throws -> [String] {
        let key = RedisLayout.held(scratch.counter, in: scratch.partition)
        return try (try await scratch.redis.send("LRANGE", key, 0, -1).array ?? []).map { try HeldMessage.decode(element: $0.bytes ?? []).id }
    }

    static func parked(_ scratch: CommitScriptTests.Scratch) async throws -> String? {
        try await scratch.redis.send("HGET", RedisLayout.actor(scratch.counter, in: scratch.partition), "parked").string
    }

    static func round(_ park: String, due: Int64, scratch: CommitScriptTests.Scratch) throws -> (id: String, due: Int64, entry: [UInt8]) {
        let entry = try ParkID.releaseEntry(park, actor: scratch.counter, due: due)
        return (entry.id, due, try entry.encoded())
    }

    @Test("a park, released messages leaving the list (also as duplicates), a redelivery held once, then unpark only when the list is empty")
    func lifecycle() async throws {
        let scratch = try await CommitScriptTests.Scratch.make()
        defer { Task { try? await scratch.cleanUp() } }
        #expect(try await scratch.commit([scratch.group(expected: 0, count: 1, ids: ["a"])]) == .groups([.committed(version: 1)]))

        // Park: "m" fails; "n1", "n2" behind it are held. Nothing counts as a turn.
        var parking = CommitScript.Parking(expected: nil)
        parking.park = ("m#1", try Self.element("m"))
        parking.held = [(false, try Self.element("n1")), (false, try Self.element("n2"))]
        var parkGroup = Self.group(scratch, expected: 1, parking: parking)
        let release = try ParkID.releaseEntry("m#1", actor: scratch.counter, due: 5_000)
        parkGroup.dueAdded = [(release.id, release.due, try release.encoded())]
        #expect(try await scratch.commit([parkGroup]) == .groups([.committed(version: 1)]))
        #expect(try await Self.parked(scratch) == "m#1")
        #expect(try await Self.held(scratch) == ["m", "n1", "n2"])
        #expect(try await scratch.redis.send("ZSCORE", RedisLayout.due(scratch.partition), "m#1/unpark").integer == 5_000)

        // A group made as if the actor were not parked is stale: it would run what must be held.
        #expect(try await scratch.commit([scratch.group(expected: 1, count: 2, ids: ["b"])]) == .groups([.stale(storedVersion: 1)]))

        // A redelivered "n2" is not held twice; a fresh copy of "n3" is appended.
        parking = CommitScript.Parking(expected: "m#1")
        parking.held = [(true, try Self.element("n2")), (false, try Self.element("n3"))]
        #expect(try await scratch.commit([Self.group(scratch, expected: 1, parking: parking)]) == .groups([.committed(version: 1)]))
        #expect(try await Self.held(scratch) == ["m", "n1", "n2", "n3"])

        // Released: "m" applied and "n1" refused leave the head; "n3" is not at the head and stays.
        parking = CommitScript.Parking(expected: "m#1")
        parking.released = ["m", "n1", "n3"]
        #expect(try await scratch.commit([Self.group(scratch, expected: 1, applied: ["m"], checked: ["n1"], parking: parking)])
                == .groups([.committed(version: 2)]))
        #expect(try await Self.held(scratch) == ["n2", "n3"])

        // The unpark while messages are held: still parked, its release entry due again.
        parking = CommitScript.Parking(expected: "m#1")
        parking.unpark = ("m#1", try Self.round("m#1", due: 7_000, scratch: scratch))
        #expect(try await scratch.commit([Self.group(scratch, expected: 2, parking: parking)]) == .groups([.committed(version: 2)]))
        #expect(try await Self.parked(scratch) == "m#1")
        #expect(try await scratch.redis.send("ZSCORE", RedisLayout.due(scratch.partition), "m#1/unpark").integer == 7_000)

        // "n2" applied, then the same "n2" again (a re-published round): the duplicate leaves the head too.
        parking = CommitScript.Parking(expected: "m#1")
        parking.released = ["n2"]
        #expect(try await scratch.commit([Self.group(scratch, expected: 2, applied: ["n2"], parking: parking)])
                == .groups([.committed(version: 3)]))
        parking = CommitScript.Parking(expected: "m#1")
        parking.held = [(false, try Self.element("n3"))]
        #expect(try await scratch.commit([Self.group(scratch, expected: 3, parking: parking)]) == .groups([.committed(version: 3)]))
        #expect(try await Self.held(scratch) == ["n3", "n3"])
        parking = CommitScript.Parking(expected: "m#1")
        parking.released = ["n3"]
        #expect(try await scratch.commit([Self.group(scratch, expected: 3, applied: ["n3"], parking: parking)])
                == .groups([.committed(version: 4)]))
        let again = try await scratch.commit([Self.group(scratch, expected: 4, applied: ["n3"], parking: parking)])
        guard case .groups(let outcomes) = again, case .duplicate(let found) = outcomes.first else {
            Issue.record("expected a duplicate, got \(again)")
            return
        }
        #expect(Array(found.keys) == [0])
        #expect(try await Self.held(scratch) == [])

        // The unpark with nothing held ends the park.
        parking = CommitScript.Parking(expected: "m#1")
        parking.unpark = ("m#1", try Self.round("m#1", due: 9_000, scratch: scratch))
        #expect(try await scratch.commit([Self.group(scratch, expected: 4, parking: parking)]) == .groups([.committed(version: 4)]))
        #expect(try await Self.parked(scratch) == nil)
        #expect(try await scratch.commit([scratch.group(expected: 4, count: 5, ids: ["c"])]) == .groups([.committed(version: 5)]))
    }

    @Test("a released message that parks again leaves the head and goes back to it with its new attempt count, ahead of the rest")
    func parkAgain() async throws {
        let scratch = try await CommitScriptTests.Scratch.make()
        defer { Task { try? await scratch.cleanUp() } }
        var parking = CommitScript.Parking(expected: nil)
        parking.park = ("m#1", try Self.element("m"))
        parking.held = [(false, try Self.element("n1"))]
        #expect(try await scratch.commit([Self.group(scratch, expected: 0, parking: parking)]) == .groups([.committed(version: 0)]))
        // An actor that never existed is parked, and still does not exist.
        #expect(try await scratch.store.load([scratch.counter], in: scratch.partition)[0].parked == "m#1")
        #expect(try await scratch.store.load([scratch.counter], in: scratch.partition)[0].exists == false)

        parking = CommitScript.Parking(expected: "m#1")
        parking.released = ["m"]
        parking.park = ("m#2", try Self.element("m"))
        parking.held = [(false, try Self.element("n2"))]
        #expect(try await scratch.commit([Self.group(scratch, expected: 0, parking: parking)]) == .groups([.committed(version: 0)]))
        #expect(try await Self.parked(scratch) == "m#2")
        #expect(try await Self.held(scratch) == ["m", "n1", "n2"])
    }
}
