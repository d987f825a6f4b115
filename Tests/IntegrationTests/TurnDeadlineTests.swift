import Broker
import Foundation
import GreenroomTestSupport
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A behaviour that does not return in time, in a real worker with a 1 s turn deadline.
@Suite("Turn deadlines", .serialized, .timeLimit(.minutes(5)))
struct TurnDeadlineTests {
    @Test("a turn past its deadline is a failed attempt: retried, then dead-lettered saying so; the partition's other actor goes on meanwhile")
    func hungTurn() async throws {
        let fleet = try await ProcessFleet.make(partitions: 1)
        try await fleet.run { workers in
            let client = fleet.client
            let log = fleet.logPath("a")
            workers.add(try ChildProcess(WorkerProcess.binary, [], environment: [
                "GREENROOM_AMQP_URL": TestServers.amqpURL, "GREENROOM_REDIS_URL": TestServers.redisURL,
                "GREENROOM_TYPE_SUFFIX": fleet.suffix, "GREENROOM_PARTITIONS": "1", "GREENROOM_TURN_DEADLINE": "1",
            ], logPath: log))
            try await WorkerProcess.waitUntilServing(client, type: fleet.type("probe"))
            let hung = try await client.spawn(type: fleet.type("probe"), id: "hung")
            let other = try await client.spawn(type: fleet.type("probe"), id: "other")

            // A ten-minute turn: far past the 1 s deadline, every attempt.
            let doomed = "hung-\(fleet.suffix)"
            try await client.send(to: hung, kind: "touch", payload: Array(#"{"seq":0,"pauseMicroseconds":600000000}"#.utf8), id: doomed)
            try await client.send((1...20).map { .init(to: other, kind: "touch", payload: Array(#"{"seq":\#($0)}"#.utf8)) })
            try await eventually(30, "the other actor's touches") { try await storedProbe(client, other)?.touches == 20 }

            let dead = try await takeDeadLetters(client, suffix: fleet.suffix, ids: [doomed], seconds: 60)
            #expect(dead.first?.attempts == 4, "\(dead)")
            #expect(dead.first?.reason.contains("did not finish within its deadline") == true, "\(dead)")
            // The actor is free again: its next message runs; the late turn was never applied.
            try await client.send(to: hung, kind: "touch", payload: Array(#"{"seq":1}"#.utf8))
            try await eventually(30, "the hung actor's next touch") { try await storedProbe(client, hung)?.touches == 1 }
            #expect(try await storedProbe(client, hung)?.lastSeq == 1)
        }
    }
}
