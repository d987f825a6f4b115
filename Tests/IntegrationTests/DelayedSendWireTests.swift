import Broker
import Foundation
import Testing
import Workers

/// A client's delayed message on the wire (docs/PROTOCOL.md, "Delayed
/// messages"): an ordinary actor message, published now, with
/// `x-greenroom-not-before` in unix milliseconds. Read straight from a
/// partition queue that no worker consumes (a type declared by hand).
@Suite("A client's delayed send carries its not-before time on the wire", .timeLimit(.minutes(2)))
struct DelayedSendWireTests {
    /// A one-partition type no worker hosts, its queue consumed by the test.
    private static func withQueue(_ body: (String, AMQPConsumer, GreenroomClient) async throws -> Void) async throws {
        try await GhostQueue.with(prefix: "wire-") { try await body($0.type, $0.consumer, $0.client) }
    }

    private static func notBefore(_ delivery: AMQPDelivery) -> Int64? {
        delivery.properties.headers[WireFormat.notBeforeHeader]?.intValue
    }

    private static func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000) }

    @Test("send(after:), a typed send(at:), a plain send: the header as unix ms, and none without a delay")
    func library() async throws {
        try await Self.withQueue { type, consumer, client in
            let a = try ActorAddress(type: type, id: "a")
            let before = Self.nowMilliseconds()
            try await client.send(to: a, kind: "add", payload: Array(#"{"by":1}"#.utf8), id: "delayed-1", after: .seconds(5))
            let after = Self.nowMilliseconds()
            let tomorrow = (Date().timeIntervalSince1970 + 86_400).rounded(.down)
            let at = Date(timeIntervalSince1970: tomorrow + 0.25)
            try await client.send(Counter.Add(by: 2), to: ActorRef<Counter>(a), at: at, id: "delayed-2")
            try await client.send(to: a, kind: "add", payload: Array(#"{"by":3}"#.utf8), id: "now-3")
            let received = try await take(3, from: consumer)
            #expect(received.map(\.properties.messageID) == ["delayed-1", "delayed-2", "now-3"])
            let first = try #require(Self.notBefore(received[0]))
            #expect(first >= before + 5_000 && first <= after + 5_001, "\(first) not 5 s after [\(before), \(after)]")
            #expect(Self.notBefore(received[1]) == Int64(tomorrow) * 1_000 + 250)
            #expect(Self.notBefore(received[2]) == nil)
            #expect(received.allSatisfy { $0.properties.headers[WireFormat.toHeader]?.stringValue == a.description })
        }
    }

    @Test("an invalid not-before refuses the whole batch before anything is published")
    func invalidBatchSendsNothing() async throws {
        try await Self.withQueue { type, consumer, client in
            let a = try ActorAddress(type: type, id: "a")
            let good = GreenroomClient.Outgoing(to: a, kind: "add", id: "good")
            let bad = GreenroomClient.Outgoing(to: a, kind: "add", id: "bad", notBefore: Date().addingTimeInterval(400 * 86_400))
            let error = await #expect(throws: InvalidSchedule.self) { try await client.send([good, bad]) }
            #expect(error?.code == .beyondMaximum)
            await #expect(throws: InvalidSchedule.self) { try await client.send(to: a, kind: "add", after: .seconds(-1)) }
            try await client.send(to: a, kind: "add", id: "marker")
            let received = try await take(1, from: consumer)
            #expect(received.map(\.properties.messageID) == ["marker"])
        }
    }

    @Test("enqueue send --delay, and --at for every line of a --file")
    func commandLine() async throws {
        try await Self.withQueue { type, consumer, _ in
            let before = Self.nowMilliseconds()
            let one = try await CommandRun.run("enqueue", ["send", "\(type)/a", "add", #"{"by":1}"#, "--id", "cli-1", "--delay", "1h30m"])
            let after = Self.nowMilliseconds()
            #expect(one.status == 0, "\(one)")
            #expect(one.stdout.contains("sent 1 message, due at "), "\(one)")
            let file = "/tmp/greenroom-test-\(getpid())-\(type).jsonl"
            defer { unlink(file) }
            try (1...2).map { #"{"to": "\#(type)/b", "kind": "add", "payload": {"by": \#($0)}, "id": "file-\#($0)"}"# + "\n" }.joined()
                .write(toFile: file, atomically: true, encoding: .utf8)
            let due = (Date().timeIntervalSince1970 + 86_400).rounded(.down) + 0.5
            let lines = try await CommandRun.run("enqueue", ["send", "--file", file, "--at", DelayText.iso8601(Date(timeIntervalSince1970: due)), "--json"])
            #expect(lines.status == 0, "\(lines)")
            #expect(lines.stdout.contains(#"{"sent":2,"due":"\#(DelayText.iso8601(Date(timeIntervalSince1970: due)))"}"#), "\(lines)")
            let received = try await take(3, from: consumer)
            #expect(received.map(\.properties.messageID) == ["cli-1", "file-1", "file-2"])
            let first = try #require(Self.notBefore(received[0]))
            #expect(first >= before + 5_400_000 && first <= after + 5_400_000, "\(first) not 90 min after [\(before), \(after)]")
            #expect(received.dropFirst().map(Self.notBefore) == [Int64(due * 1_000), Int64(due * 1_000)])
        }
    }
}
