import Broker
import Foundation
import GreenroomTestSupport
import Testing
import Workers

/// Delayed retries (docs/TIME.md, "Delayed retries"): a retry whose pause is
/// over `RetryPolicy.parkThreshold` parks its actor. Its later messages are
/// held in Redis and acked — so they no longer fill the partition's prefetch
/// — and run after the retried one, in order.
@Suite("Retries that don't block: a long retry parks its actor", .timeLimit(.minutes(4)))
struct ParkingTests {
    /// The actor's field `parked` (nil when not parked) and the length of its held list.
    static func park(_ address: ActorAddress, partitions: Int) async throws -> (parked: String?, held: Int) {
        let redis = try await TestServers.redis()
        defer { Task { await redis.close() } }
        let actor = Keys.actor(address, partitions: partitions)
        let parked = try await redis.send("HGET", actor, "parked").string
        let held = try await redis.send("LLEN", actor.replacingOccurrences(of: ":a:", with: ":h:")).integer ?? 0
        return (parked, Int(held))
    }

    static func report(_ client: GreenroomClient, _ address: ActorAddress, timeout: Duration = .seconds(10)) async throws -> Probe.Report {
        try JSONDecoder().decode(Probe.Report.self, from: Data(try await client.ask(address, kind: "report", timeout: timeout).payload))
    }

    static func touches(_ address: ActorAddress, _ range: ClosedRange<Int>) -> [GreenroomClient.Outgoing] {
        range.map { GreenroomClient.Outgoing(to: address, kind: "touch", payload: Array(#"{"seq":\#($0)}"#.utf8)) }
    }

    @Test("a parked actor's 300 later messages are held and acked: another actor of its partition is served meanwhile, and all run in order after the retry")
    func parkedActorKeepsOrderAndPartitionServes() async throws {
        // One failure, then a 10 s pause: over the 1 s threshold, so the actor parks.
        try await withHarness(partitions: 4, retry: RetryPolicy(attempts: 3, initialDelay: .seconds(10))) { harness in
            let a = try harness.address("probe", id("parked-", inPartition: 1, of: 4))
            let b = try harness.address("probe", id("other-", inPartition: 1, of: 4))
            for probe in [a, b] { try await harness.client.spawn(type: probe.type, id: probe.id) }
            // A timer due while A is parked waits its turn behind the retried message.
            try await harness.client.send(to: a, kind: "schedule", payload: Array(#"{"timer":"while-parked","afterMs":1500}"#.utf8))
            try await harness.client.send(to: a, kind: "flaky", payload: Array(#"{"seq":1,"times":1}"#.utf8))
            // More than the partition's prefetch (256): waiting unacked, they would stall the partition.
            try await harness.client.send(Self.touches(a, 2...301))
            // Behind A's 301 in the queue: reached only if A's are acked while A waits.
            try await harness.client.send(to: b, kind: "touch", payload: Array(#"{"seq":1}"#.utf8))
            // Well inside A's pause even on a loaded machine; without parking B waits out the whole pause.
            let other = try await Self.report(harness.client, b, timeout: .seconds(8))
            #expect(other.touches == 1, "B was not served while A was parked")
            try await eventually(10, "A parked, its later messages held in Redis") {
                let park = try await Self.park(a, partitions: 4)
                return park.parked != nil && park.held >= 250
            }
            let stored = try JSONDecoder().decode(Probe.State.self, from: Data(try await harness.client.state(of: a)))
            #expect(stored.touches == 0, "A's retry ran before its pause")

            // Read from Redis, not asked: an ask sent while A is parked waits its
            // turn behind the held messages, which under load takes longer than its timeout.
            try await eventually(60, "A's 301 messages done") {
                try JSONDecoder().decode(Probe.State.self, from: Data(try await harness.client.state(of: a))).touches >= 301
            }
            let seen = try await Self.report(harness.client, a)
            #expect(seen.touches == 301)
            #expect(seen.lastSeq == 301)
            #expect(seen.outOfOrder == 0)
            #expect(seen.overlaps == 0)
            let fired = try JSONDecoder().decode(Probe.State.self, from: Data(try await harness.client.state(of: a))).fired ?? []
            #expect(fired.map(\.name) == ["while-parked"])
            #expect((fired.first?.lateMs ?? 0) >= 2_000, "the timer's firing did not wait behind the parked message")
            let unparked = try await Self.park(a, partitions: 4)
            #expect(unparked.parked == nil)
            #expect(unparked.held == 0)
        }
    }

    @Test("the last attempt of a parked message is dead-lettered with its attempt count, the parent hears child-failed, and a stop sent behind it waits its turn")
    func deadLetterAfterLastAttempt() async throws {
        // Pauses of 1.5 s and 3 s: both park.
        try await withHarness(partitions: 4, retry: RetryPolicy(attempts: 3, initialDelay: .milliseconds(1_500))) { harness in
            let parent = try await harness.client.spawn(type: harness.type("probe"), id: "parent")
            try await harness.client.send(to: parent, kind: "adopt", payload: Array(#"{"id":"child"}"#.utf8))
            let child = try harness.address("probe", "child")
            try await eventually(10, "the child exists") { try await harness.client.exists(child) }
            try await harness.client.send(to: child, kind: "fail", payload: Array(#"{"times":99}"#.utf8))
            try await harness.client.send(Self.touches(child, 1...5))
            try await harness.client.send(to: child, kind: WireFormat.SystemKind.stop)
            try await harness.client.send(to: child, kind: "touch", payload: Array(#"{"seq":6}"#.utf8))

            let letters = try await harness.takeDeadLetters(2, seconds: 60)
            let failed = try #require(letters.first { $0.kind == "fail" })
            #expect(failed.attempts == 3)
            #expect(failed.reason.contains("failed after 3 attempts"))
            let refused = try #require(letters.first { $0.kind == "touch" })
            #expect(refused.attempts == 0, "the touch after the stop ran: the stop did not wait its turn")

            try await eventually(10, "the parent heard child-failed") {
                try await Self.report(harness.client, parent).childFailures == 1
            }
            // Stopped: its last state is still in its hash.
            let redis = try await TestServers.redis()
            let state = try await redis.send("HGET", Keys.actor(child, partitions: 4), "state").bytes ?? []
            await redis.close()
            let stored = try JSONDecoder().decode(Probe.State.self, from: Data(state))
            #expect(stored.touches == 5)
            #expect(stored.lastSeq == 5)
            #expect(stored.outOfOrder == 0)
            #expect(try await harness.client.exists(child) == false)
            let park = try await Self.park(child, partitions: 4)
            #expect(park.parked == nil)
            #expect(park.held == 0)
        }
    }
}

@Suite("Delayed retries across worker crashes", .timeLimit(.minutes(5)))
struct ParkingProcessTests {
    @Test("a worker killed -9 while an actor is parked, then the next one killed right after a commit in a release round: the third runs all 200 messages once each, in order")
    func killedWhileParked() async throws {
        try await withFleet { fleet in
            // The probe's pauses are 3 s, 6 s, 12 s: every retry parks.
            let environment = ["GREENROOM_TEST_PROBE_RETRY": "4:3000"]
            let first = try await fleet.startWorker("a", leaseSeconds: 2, environment: environment)
            let a = try ActorAddress(type: fleet.type("probe"), id: "parked")
            try await fleet.client.spawn(type: a.type, id: a.id)
            try await fleet.client.send(to: a, kind: "flaky", payload: Array(#"{"seq":1,"times":1}"#.utf8))
            try await fleet.client.send(ParkingTests.touches(a, 2...200))
            try await eventually(30, "A parked, its later messages held") {
                let park = try await ParkingTests.park(a, partitions: fleet.partitions)
                return park.parked != nil && park.held >= 150
            }
            _ = await first.terminate(SIGKILL)

            // The next worker's process has not seen the message fail: it fails once more there, and parks again.
            let second = try await fleet.startWorker("b", fault: "after-commit:60", leaseSeconds: 2, environment: environment)
            let crashed = try await within(120, "the injected crash") { await second.exited() }
            #expect(crashed == 86, "the second worker should have died at its 60th committed turn")

            let third = try await fleet.startWorker("c", leaseSeconds: 2, environment: environment)
            // Read from Redis: an ask would be held behind the parked message like any other.
            @Sendable func stored() async throws -> Probe.State {
                try JSONDecoder().decode(Probe.State.self, from: Data(try await fleet.client.state(of: a)))
            }
            try await eventually(120, "A's 200 messages done") { try await stored().touches >= 200 }
            // One more, behind anything still on its way: a copy run twice would be counted before it.
            try await fleet.client.send(to: a, kind: "touch", payload: Array(#"{"seq":201}"#.utf8))
            try await eventually(30, "the last touch done") { try await stored().lastSeq == 201 }
            let seen = try await stored()
            #expect(seen.touches == 201, "lost or doubled")
            #expect(seen.outOfOrder == 0)
            let park = try await ParkingTests.park(a, partitions: fleet.partitions)
            #expect(park.parked == nil)
            #expect(park.held == 0)
            let letters = try await fleet.client.takeDeadLetters(limit: scanEveryDeadLetter, timeout: .milliseconds(500)) { letter in
                letter.target == a.description
            }
            #expect(letters.isEmpty, "\(letters.map(\.reason))")
            #expect(try await fleet.finish(stopping: third) == 0)
        }
    }
}
