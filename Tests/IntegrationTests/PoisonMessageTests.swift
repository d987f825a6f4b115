import Broker
import Foundation
import GreenroomTestSupport
import Testing
import Workers

/// A message whose turn kills the worker process (a trap in its handler) must
/// not crash-loop the fleet: after `--max-crashes` deaths (3) it is
/// dead-lettered, the actor's parent hears `child-failed`, and every other
/// message of the partition is applied exactly once, in order.
@Suite("A message that kills the worker is dead-lettered after 3 deaths", .timeLimit(.minutes(5)))
struct PoisonMessageTests {
    @Test("on classic and quorum queues: dead-lettered with the reason, child-failed to the parent, the rest exactly once and in order", arguments: [QueueType.classic, .quorum])
    func poison(queueType: QueueType) async throws {
        try await withFleet(partitions: 2) { fleet in
            let environment = ["GREENROOM_QUEUE_TYPE": queueType.rawValue]
            var generation = 0
            func startWorker() throws -> ChildProcess {
                generation += 1
                return fleet.started.add(try WorkerProcess.start(
                    suffix: fleet.suffix, partitions: fleet.partitions, leaseSeconds: 2,
                    logPath: fleet.logPath("worker-\(generation)"), environment: environment))
            }
            var worker = try startWorker()
            try await WorkerProcess.waitUntilServing(fleet.client, type: fleet.type("probe"))

            let parent = try await fleet.client.spawn(type: fleet.type("probe"), id: "parent")
            try await fleet.client.send(to: parent, kind: "adopt", payload: Array(#"{"id":"child"}"#.utf8))
            let child = try ActorAddress(type: fleet.type("probe"), id: "child")
            try await eventually(30, "the child spawned") { try await fleet.client.exists(child) }

            let poisonID = "poison-\(fleet.suffix)"
            var messages = (0..<10).map { GreenroomClient.Outgoing(to: child, kind: "touch", payload: Array(#"{"seq":\#($0)}"#.utf8)) }
            messages.append(.init(to: child, kind: "trap", payload: Array(#"{"t":"\#(fleet.suffix)"}"#.utf8), id: poisonID))
            messages += (10..<20).map { GreenroomClient.Outgoing(to: child, kind: "touch", payload: Array(#"{"seq":\#($0)}"#.utf8)) }
            try await fleet.client.send(messages)

            // No supervisor but this loop: start a worker again whenever one
            // dies. Deaths by the trap (SIGILL, or SIGTRAP) are counted; a worker
            // that exits otherwise (a login timing out on a loaded machine) is
            // restarted too, and noted in the failure message if it matters.
            var deaths = 0
            var otherExits: [Int32] = []
            let letters = try await takeDeadLettersWhile(fleet.client, suffix: fleet.suffix, ids: [poisonID], seconds: 120) {
                if let status = worker.poll() {
                    if status == 128 + SIGILL || status == 128 + SIGTRAP { deaths += 1 } else { otherExits.append(status) }
                    worker = try startWorker()
                }
            }
            let poison = try #require(letters.first { $0.messageID == poisonID })
            #expect(poison.reason == "the worker process died 3 times while handling it")
            #expect(poison.attempts == 3)
            #expect(deaths == 3, "workers killed by the trap: \(deaths); other exits: \(otherExits)")

            let childReport = try await report(fleet.client, child)
            #expect(childReport.touches == 20, "every other message applied exactly once")
            #expect(childReport.lastSeq == 19)
            #expect(childReport.outOfOrder == 0)
            try await eventually(30, "the parent heard child-failed") { try await report(fleet.client, parent).childFailures == 1 }
            #expect(worker.poll() == nil, "the last worker stays up")
            #expect(try await report(fleet.client, parent).childFailures == 1)
        }
    }

    private func report(_ client: GreenroomClient, _ probe: ActorAddress) async throws -> Probe.Report {
        try JSONDecoder().decode(Probe.Report.self, from: Data(try await client.ask(probe, kind: "report", timeout: .seconds(30)).payload))
    }

    /// `takeDeadLetters(…ids:)`, running `meanwhile` before every look.
    private func takeDeadLettersWhile(_ client: GreenroomClient, suffix: String, ids: Set<String>, seconds: Double,
                                      meanwhile: () throws -> Void) async throws -> [DeadLetter] {
        var collected: [DeadLetter] = []
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            try meanwhile()
            collected += try await client.takeDeadLetters(limit: scanEveryDeadLetter, timeout: .milliseconds(300)) { letter in
                letter.target?.contains("-\(suffix)/") == true || letter.body.contains(suffix)
            }
            if ids.isSubset(of: Set(collected.compactMap(\.messageID))) { return collected }
        }
        throw TimedOut(what: "dead letters \(ids.sorted())", seconds: seconds)
    }
}
