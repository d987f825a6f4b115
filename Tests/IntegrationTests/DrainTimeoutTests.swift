import Broker
import Foundation
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A graceful stop that cannot wait for a slow turn.
@Suite("The graceful drain has a time limit", .serialized, .timeLimit(.minutes(5)))
struct DrainTimeoutTests {
    @Test("SIGTERM during a 20 s turn with --drain-timeout 2: the worker exits 0 within seconds; the message is requeued and runs once on the next worker")
    func drainTimeout() async throws {
        let fleet = try await ProcessFleet.make(partitions: 1)
        try await fleet.run { workers in
            let client = fleet.client
            let a = workers.add(try ChildProcess(WorkerProcess.binary, [], environment: [
                "GREENROOM_AMQP_URL": TestServers.amqpURL, "GREENROOM_REDIS_URL": TestServers.redisURL,
                "GREENROOM_TYPE_SUFFIX": fleet.suffix, "GREENROOM_PARTITIONS": "1", "GREENROOM_DRAIN_TIMEOUT": "2",
            ], logPath: fleet.logPath("a")))
            try await WorkerProcess.waitUntilServing(client, type: fleet.type("probe"))
            let probe = try await client.spawn(type: fleet.type("probe"), id: "slow")
            let mark = "/tmp/greenroom-test-\(fleet.suffix)-entered"
            unlink(mark)
            defer { unlink(mark) }
            try await client.send(to: probe, kind: "touch", payload: Array(#"{"seq":0,"pauseMicroseconds":20000000,"mark":"\#(mark)"}"#.utf8))
            try await eventually(60, "worker A inside the slow turn") { access(mark, F_OK) == 0 }

            let stopping = ContinuousClock.now
            let status = await a.terminate(SIGTERM, within: 60)
            let took = ContinuousClock.now - stopping
            #expect(status == 0)
            #expect(took < .seconds(10), "SIGTERM took \(took) with a 2 s drain timeout")
            #expect(fleet.log("a").contains("did not finish within the drain timeout"))
            // Its lease was given back once its channel was closed: the next owner need not wait for it to expire.
            let redis = try await TestServers.redis()
            let holder = try await redis.send("GET", Keys.lease(fleet.type("probe"), 0)).string
            await redis.close()
            #expect(holder == nil, "the lease is still held by \(holder ?? "-")")

            // The turn did not commit on A: it was requeued and runs, once, on B.
            workers.add(try await fleet.startWorker("b"))
            let state = try await settledProbe(client, probe)
            #expect(state.touches == 1, "\(state)")
        }
    }
}
