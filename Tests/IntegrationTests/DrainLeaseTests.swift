import Broker
import Foundation
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A graceful stop whose last turn outlasts the lease TTL.
@Suite("Leases are renewed while a partition drains", .serialized, .timeLimit(.minutes(5)))
struct DrainLeaseTests {
    @Test("SIGTERM during a turn three times longer than the lease: the lease stays with the draining worker, its commit is not refused, nothing runs twice")
    func drainLongerThanLease() async throws {
        let fleet = try await ProcessFleet.make(partitions: 1)
        try await fleet.run { workers in
            let client = fleet.client
            let a = workers.add(try await fleet.startWorker("a", leaseSeconds: 2))
            let aID = fleet.workerID(a)
            let probe = try await client.spawn(type: fleet.type("probe"), id: "draining")
            let mark = "/tmp/greenroom-test-\(fleet.suffix)-entered"
            unlink(mark)
            defer { unlink(mark) }
            try await client.send(to: probe, kind: "touch", payload: Array(#"{"seq":0,"pauseMicroseconds":6000000,"mark":"\#(mark)"}"#.utf8))
            try await eventually(60, "worker A inside the long turn") { access(mark, F_OK) == 0 }

            a.send(SIGTERM)
            let b = workers.add(try WorkerProcess.start(suffix: fleet.suffix, partitions: 1, leaseSeconds: 2, logPath: fleet.logPath("b")))
            let redis = try await TestServers.redis()
            defer { Task { await redis.close() } }
            // While A drains (about 6 s), the lease must stay A's: B waits.
            // Once A's turn has committed, A gives the lease back, and B may
            // take it before A's process is gone.
            while a.poll() == nil {
                let holder = try await redis.send("GET", Keys.lease(fleet.type("probe"), 0)).string
                if holder != aID {
                    let committed = try await storedProbe(client, probe)?.touches ?? 0
                    #expect(committed == 1, "the lease moved to \(holder ?? "-") while A was still draining its turn")
                    break
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            let status = try await within(60, "worker A exiting") { await a.exited() }
            #expect(status == 0)
            #expect(!fleet.log("a").contains("commit refused"), "A's drained turn was fenced:\n\(fleet.log("a").suffix(2_000))")
            let state = try await settledProbe(client, probe)
            #expect(state.touches == 1, "\(state)")
            #expect(await b.terminate(SIGTERM) == 0)
        }
    }
}
