import Broker
import Foundation
import Synchronization
import Testing
import Workers

/// A real worker process with `GREENROOM_METRICS_PORT` under a real workload:
/// what `/metrics` says equals what was done, the heartbeat carries the same
/// per-type totals, and a port in use stops the start with advice.
@Suite("The worker's /metrics and the heartbeat's turn totals", .timeLimit(.minutes(4)))
struct MetricsEndpointTests {
    @Test("counters equal the work done: commits, a duplicate, retries, a dead letter by class; gauges; turns in the heartbeat")
    func countsWhatWasDone() async throws {
        try await withFleet(partitions: 4) { fleet in
            let port = try freeTCPPort()
            _ = try await fleet.startWorker("metrics", environment: [
                "GREENROOM_METRICS_PORT": "\(port)", "GREENROOM_TEST_PROBE_RETRY": "3:10", "GREENROOM_HEARTBEAT": "0.2"])
            let counterType = fleet.type("counter"), probeType = fleet.type("probe")
            @Sendable func turns(_ type: String, _ outcome: String) async throws -> Double? {
                try await PrometheusScrape.fetch(port: port).value("greenroom_turns_total", ["type": type, "outcome": outcome])
            }

            // Probes spawned to see the worker serve (`startWorker`) are turns too.
            let readyProbes = try #require(try await turns(probeType, "committed"))

            // 2 spawns + 50 adds, then one add sent again with the same id.
            let counters = try await [fleet.client.spawn(type: counterType, id: "a"), fleet.client.spawn(type: counterType, id: "b")]
            try await fleet.client.send((0..<50).map { index in
                GreenroomClient.Outgoing(to: counters[index % 2], kind: "add", payload: Array(#"{"by":1}"#.utf8), id: "add-\(fleet.suffix)-\(index)")
            })
            try await eventually(60, "52 committed turns of \(counterType)") { try await turns(counterType, "committed") == 52 }
            try await fleet.client.send(to: counters[0], kind: "add", payload: Array(#"{"by":1}"#.utf8), id: "add-\(fleet.suffix)-0")
            try await eventually(60, "the re-sent add counted as a duplicate") { try await turns(counterType, "duplicate") == 1 }

            // A probe: a turn that fails once (1 retry, then committed), one that
            // fails every attempt of 3 (2 retries, then dead-lettered).
            let probe = try await fleet.client.spawn(type: probeType, id: "p")
            try await fleet.client.send(to: probe, kind: "fail", payload: Array(#"{"times":1}"#.utf8), id: "once-\(fleet.suffix)")
            try await fleet.client.send(to: probe, kind: "fail", payload: Array(#"{"times":99}"#.utf8), id: "always-\(fleet.suffix)")
            // A send to a type no worker declared: dead-lettered by the publisher.
            try await fleet.client.send(to: probe, kind: "send", payload: Array(#"{"to":"nobody-\#(fleet.suffix)/x","kind":"k"}"#.utf8))
            try await eventually(60, "the dead letters counted with their classes") {
                let scrape = try await PrometheusScrape.fetch(port: port)
                return scrape.value("greenroom_dead_letters_total", ["type": probeType, "reason": DeadLetterClass.exhausted.rawValue]) == 1
                    && scrape.value("greenroom_dead_letters_total", ["type": GreenroomMetrics.otherType, "reason": DeadLetterClass.unroutable.rawValue]) == 1
            }
            // A duplicate passivates its actor (the next message reloads it): one
            // more add to each counter, and both are in memory again.
            try await fleet.client.send(counters.map { .init(to: $0, kind: "add", payload: Array(#"{"by":1}"#.utf8)) })
            try await eventually(60, "54 committed turns of \(counterType)") { try await turns(counterType, "committed") == 54 }
            let gauges = Mutex("")
            do {
                try await eventually(30, "the partitions and activations gauges sampled") {
                    let scrape = try await PrometheusScrape.fetch(port: port)
                    let (owned, active) = (scrape.value("greenroom_partitions_owned", ["type": counterType]),
                                           scrape.value("greenroom_activations", ["type": counterType]))
                    gauges.withLock { $0 = "partitions owned \(owned.map { "\($0)" } ?? "-"), activations \(active.map { "\($0)" } ?? "-")" }
                    return owned == 4 && active == 2
                }
            } catch {
                Issue.record("\(error): \(gauges.withLock { $0 })")
                throw error
            }

            let scrape = try await PrometheusScrape.fetch(port: port)
            #expect(scrape.value("greenroom_turns_total", ["type": counterType, "outcome": "committed"]) == 54, "no more commits than turns")
            #expect(scrape.value("greenroom_turns_total", ["type": counterType, "outcome": "duplicate"]) == 1)
            #expect(scrape.value("greenroom_turns_total", ["type": counterType, "outcome": "retried"]) == 0)
            #expect(scrape.value("greenroom_turns_total", ["type": counterType, "outcome": "fenced"]) == 0)
            #expect(scrape.value("greenroom_turns_total", ["type": probeType, "outcome": "committed"]) == readyProbes + 3)
            #expect(scrape.value("greenroom_turns_total", ["type": probeType, "outcome": "retried"]) == 3)
            #expect(scrape.value("greenroom_turns_total", ["type": probeType, "outcome": "dead_lettered"]) == 1)
            let commits = try #require(scrape.value("greenroom_turn_duration_seconds_count", ["type": counterType]))
            #expect(commits >= 2 && commits <= 54, "one observation per committed group")
            #expect(try #require(scrape.value("greenroom_turn_duration_seconds_sum", ["type": counterType])) > 0)
            #expect(try #require(scrape.value("greenroom_delivery_to_commit_seconds_count")) >= 2)
            #expect(scrape.value("greenroom_redeliveries_total") == 0)
            #expect(scrape.value("greenroom_mailbox_depth") != nil)

            try await eventually(30, "the heartbeat carries the same totals") {
                let worker = try await fleet.client.status(types: [counterType]).workers.first { $0.info.types.contains(counterType) }
                return worker?.info.turns?[counterType]?.committed == 54 && worker?.info.turns?[probeType]?.retried == 3
                    && worker?.info.turns?[probeType]?.deadLettered == 1
            }
            let totals = try #require(try await fleet.client.status(types: [counterType]).workers
                .first { $0.info.types.contains(counterType) }?.info.turns?[counterType])
            #expect(totals.seconds > 0)
        }
    }

    @Test("a message whose worker died after its commit comes back redelivered: counted as a redelivery and a duplicate")
    func redeliveredDuplicate() async throws {
        try await withFleet(partitions: 2) { fleet in
            let counterType = fleet.type("counter")
            let counter = try ActorAddress(type: counterType, id: "c")
            // The first worker dies right after committing its first turn, before the ack.
            let dying = fleet.started.add(try WorkerProcess.start(suffix: fleet.suffix, partitions: fleet.partitions, fault: "after-commit:1",
                                                                  leaseSeconds: 2, logPath: fleet.logPath("dying")))
            try await eventually(60, "the first worker declared \(counterType)") {
                do {
                    try await fleet.client.send(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true)
                    return true
                } catch is UnknownActorType {
                    return false
                }
            }
            #expect(await dying.exited(within: 60) != nil, "the fault killed the first worker")

            let port = try freeTCPPort()
            _ = try await fleet.startWorker("metrics", leaseSeconds: 2, environment: ["GREENROOM_METRICS_PORT": "\(port)"])
            try await eventually(60, "the redelivered add seen as a duplicate") {
                try await PrometheusScrape.fetch(port: port).value("greenroom_turns_total", ["type": counterType, "outcome": "duplicate"]) == 1
            }
            let scrape = try await PrometheusScrape.fetch(port: port)
            // At least the one: on a loaded host a partition may also change
            // hands once more before the ack, and come back redelivered again.
            #expect(try #require(scrape.value("greenroom_redeliveries_total")) >= 1)
            #expect(scrape.value("greenroom_turns_total", ["type": counterType, "outcome": "committed"]) == 0, "not run again")
            let state = try JSONDecoder().decode(Counter.State.self, from: Data(try await fleet.client.state(of: counter)))
            #expect(state.count == 1)
        }
    }

    @Test("a metrics port in use fails the start with what to do")
    func portInUse() async throws {
        let taken = try ListeningSocket()
        let run = try await CommandRun.run(WorkerProcess.binary, [], environment: ["GREENROOM_METRICS_PORT": "\(taken.port)"], seconds: 30)
        #expect(run.status != nil && run.status != 0, "\(run)")
        #expect(run.stderr.contains("cannot serve metrics on 127.0.0.1:\(taken.port)"), "\(run)")
        #expect(run.stderr.contains("pick a free --metrics-port"), "\(run)")
        #expect(!run.stderr.contains("worker started"), "nothing started: \(run)")
    }
}
