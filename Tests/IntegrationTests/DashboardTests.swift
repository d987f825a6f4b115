import Foundation
import Synchronization
import Testing
import Workers

/// What the dashboard tests look at, made in a fleet of their own: a counter
/// at 42, a probe with a child, and two dead letters of the fleet's counter
/// type whose kind is HTML markup (their reason quotes it).
struct DashboardScenario {
    let fleet: ProcessFleet
    let counter: ActorAddress
    let parent: ActorAddress
    let child: ActorAddress
    /// The dead letters' message ids.
    let deadIDs: [String]
    /// The markup in the dead letters' kind and reason.
    let markup: String

    var counterType: String { fleet.type("counter") }

    static func make(_ fleet: ProcessFleet) async throws -> DashboardScenario {
        let client = fleet.client
        let counter = try await client.spawn(type: fleet.type("counter"), id: "known")
        _ = try await client.ask(counter, kind: "add", payload: Array(#"{"by":42}"#.utf8))
        let parent = try await client.spawn(type: fleet.type("probe"), id: "parent")
        try await client.send(to: parent, kind: "adopt", payload: Array(#"{"id":"child"}"#.utf8))
        let child = try ActorAddress(type: fleet.type("probe"), id: "child")
        try await eventually(30, "the child spawned") { try await client.exists(child) }
        let markup = #"<b id="pwned-\#(fleet.suffix)">x</b>"#
        let deadIDs = ["dead-1-\(fleet.suffix)", "dead-2-\(fleet.suffix)"]
        for id in deadIDs { try await client.send(to: counter, kind: markup, id: id) }
        return DashboardScenario(fleet: fleet, counter: counter, parent: parent, child: child, deadIDs: deadIDs, markup: markup)
    }
}

/// Starts a dashboard, runs `body` with it, stops it whatever happens.
func withDashboard<T>(_ arguments: [String] = [], environment: [String: String] = [:],
                      _ body: (DashboardProcess) async throws -> T) async throws -> T {
    let dashboard = try await DashboardProcess.start(arguments, environment: environment)
    return try await withCleanUp(dashboard, "stopping the dashboard", cleanUp: { await $0.stop() }, body)
}

/// `enqueue dashboard`'s JSON API against a running worker process: what
/// `/api/status` and `/api/actor` show, dead letters listed, replayed and
/// purged by filter (on the test's own type), changes refused unless they
/// come as JSON from the page's own origin, and errors as JSON, not crashes.
@Suite("enqueue dashboard: the JSON API", .timeLimit(.minutes(8)))
struct DashboardAPITests {
    @Test("status, actor lookup, and dead letters listed, replayed and purged by filter")
    func fleetThroughTheAPI() async throws {
        try await withFleet(partitions: 2) { fleet in
            _ = try await fleet.startWorker("w1")
            let scenario = try await DashboardScenario.make(fleet)
            let type = scenario.counterType
            try await withDashboard { dashboard in
                // Only our types' partitions: the shared servers hold thousands
                // of partitions of earlier runs, and each costs two round trips.
                let status = try await dashboard.get("/api/status?type=\(type),\(fleet.type("probe"))")
                #expect(status.status == 200, "\(status.text)")
                let fleetStatus = try #require(status.json?["status"] as? [String: Any])
                let workers = try #require(fleetStatus["workers"] as? [[String: Any]])
                #expect(workers.contains { (($0["info"] as? [String: Any])?["types"] as? [String])?.contains(type) == true },
                        "a live worker hosting \(type)")
                let partitions = try #require(fleetStatus["partitions"] as? [[String: Any]]).filter { $0["type"] as? String == type }
                #expect(partitions.count == 2)
                #expect(try #require(fleetStatus["partitions"] as? [[String: Any]]).count == 4, "the two types' partitions only")
                #expect(status.json?["rates"] is [Any])

                let actor = try await dashboard.get("/api/actor?address=\(scenario.counter)")
                #expect(actor.status == 200, "\(actor.text)")
                let state = try #require((actor.json?["state"] as? String).map { Data($0.utf8) })
                #expect((try JSONSerialization.jsonObject(with: state) as? [String: Any])?["count"] as? Int == 42)
                let parent = try await dashboard.get("/api/actor?address=\(scenario.parent)")
                #expect(parent.json?["children"] as? [String] == [scenario.child.description])

                let missing = try await dashboard.get("/api/actor?address=\(type)/nobody")
                #expect(missing.status == 404)
                #expect((missing.json?["error"] as? String)?.contains("does not exist") == true, "\(missing.text)")
                let invalid = try await dashboard.get("/api/actor?address=\(type)/%3Cb%3E")
                #expect(invalid.status == 400)
                #expect((invalid.json?["error"] as? String)?.contains("invalid actor address") == true, "\(invalid.text)")

                // Listing by type finds exactly the two letters, by reason class and text too.
                @Sendable func listed(_ query: String) async throws -> [String] {
                    let reply = try await dashboard.get("/api/dead?type=\(type)&\(query)")
                    guard reply.status == 200 else { throw DashboardFailed(reply: reply.text) }
                    return ((reply.json?["letters"] as? [[String: Any]]) ?? []).compactMap { $0["messageID"] as? String }.sorted()
                }
                // (Other tests browse the shared dead-letter queue too, which hides
                // letters for a moment: what must be listed is waited for.)
                @Sendable func expectListed(_ query: String, _ ids: [String]) async throws {
                    try await eventually(60, "\(ids) listed for \(query)") { try await listed(query) == ids }
                }
                try await expectListed("limit=10", scenario.deadIDs)
                try await expectListed("reason=bad_message", scenario.deadIDs)
                try await expectListed("reason=UNKNOWN%20MESSAGE%20KIND", scenario.deadIDs)
                #expect(try await listed("reason=exhausted").isEmpty)
                try await expectListed("id=\(scenario.deadIDs[1])", [scenario.deadIDs[1]])
                try await expectListed("limit=1", [scenario.deadIDs[0]])
                let badLimit = try await dashboard.get("/api/dead?limit=0")
                #expect(badLimit.status == 400)

                // Changes: JSON only, from no other origin, and a purge names a filter or says "all".
                let form = try await dashboard.post("/api/dead/purge", ["type": type], headers: ["Content-Type": "application/x-www-form-urlencoded"])
                #expect(form.status == 400, "\(form.text)")
                let foreign = try await dashboard.post("/api/dead/purge", ["type": type],
                                                       headers: ["Content-Type": "application/json", "Origin": "http://evil.example"])
                #expect(foreign.status == 403, "\(foreign.text)")
                let unfiltered = try await dashboard.post("/api/dead/purge", [:])
                #expect(unfiltered.status == 400)
                #expect((unfiltered.json?["error"] as? String)?.contains("\"all\": true") == true, "\(unfiltered.text)")
                try await expectListed("limit=10", scenario.deadIDs)  // nothing deleted by the refused purges

                // A replay sends the letter back; its kind is still unknown, so it dies again.
                // (limit: the client's naive body looks at only the first `limit`
                // letters of the shared queue; replaying by id, a large one is the same.)
                // Other tests browsing the shared queue hide letters for a moment:
                // replayed until it went back, and once in all (a run replays an id once).
                let replayed = Mutex(0)
                try await eventually(60, "the letter replayed") {
                    let replay = try await dashboard.post("/api/dead/replay", ["type": type, "id": scenario.deadIDs[0], "limit": 100_000])
                    guard replay.status == 200, let count = replay.json?["replayed"] as? Int else { throw DashboardFailed(reply: replay.text) }
                    return replayed.withLock { $0 += count; return $0 } >= 1
                }
                #expect(replayed.withLock { $0 } == 1)
                try await expectListed("limit=10", scenario.deadIDs)  // the replayed letter dead again

                let purged = Mutex(0)
                try await eventually(60, "every letter of the type purged") {
                    let purge = try await dashboard.post("/api/dead/purge", ["type": type, "reason": "bad_message"])
                    guard purge.status == 200, let count = purge.json?["purged"] as? Int else { throw DashboardFailed(reply: purge.text) }
                    // Until both are purged: an empty list alone proves nothing, as
                    // letters another test is browsing are hidden for the moment.
                    return purged.withLock { $0 += count; return $0 } >= 2
                }
                #expect(purged.withLock { $0 } == 2)
                #expect(try await listed("limit=10").isEmpty)
            }
        }
    }

    @Test("a server that cannot be reached is an error in the answer, and the dashboard keeps serving")
    func unreachableServer() async throws {
        try await withDashboard(["--redis-url", "redis://127.0.0.1:1/0"]) { dashboard in
            for _ in 0..<2 {
                let status = try await dashboard.get("/api/status")
                #expect(status.status == 502, "\(status.text)")
                let error = try #require(status.json?["error"] as? String)
                #expect(error.contains("cannot connect to Redis at 127.0.0.1:1"), "\(error)")
                #expect(error.contains("scripts/services up"), "with advice: \(error)")
            }
            #expect(dashboard.process.poll() == nil, "still running")
            let page = try await dashboard.get("/")
            #expect(page.status == 200)
            #expect(page.text.contains("<title>Greenroom dashboard</title>"))
        }
    }

    @Test("bound to 127.0.0.1, it answers only requests addressed to a loopback name (no DNS rebinding)")
    func loopbackHostNamesOnly() async throws {
        try await withDashboard(["--redis-url", "redis://127.0.0.1:1/0"]) { dashboard in
            let port = try #require(dashboard.base.split(separator: ":").last.map(String.init))
            for host in ["127.0.0.1:\(port)", "localhost:\(port)", "LOCALHOST"] {
                let reply = try await dashboard.get("/", headers: ["Host": host])
                #expect(reply.status == 200, "Host: \(host)")
            }
            for host in ["rebound.example:\(port)", "127.0.0.1.rebound.example"] {
                let page = try await dashboard.get("/", headers: ["Host": host])
                #expect(page.status == 403, "Host: \(host)")
                let api = try await dashboard.get("/api/status", headers: ["Host": host])
                #expect(api.status == 403, "Host: \(host)")
            }
        }
    }

    @Test("a server down at start or restarted later: the next request connects again (scratch servers)")
    func reconnects() async throws {
        let rabbit = try await ScratchRabbit.start()
        defer { rabbit.remove() }
        let redisPort = FreePort.pickOutsideEphemeralRange()
        try await withDashboard(["--amqp-url", rabbit.url, "--redis-url", "redis://127.0.0.1:\(redisPort)/0"]) { dashboard in
            // Redis not there yet: a failed connection is not kept.
            let down = try await dashboard.get("/api/status")
            #expect(down.status == 502, "\(down.text)")
            let redis = try await ScratchRedis.start(port: redisPort)
            defer { redis.stop() }
            try await eventually(30, "the dashboard reading the Redis that came up") {
                try await dashboard.get("/api/status").status == 200
            }
            // RabbitMQ restarted: the lost connection is dropped and made again.
            rabbit.kill()
            let lost = try await dashboard.get("/api/status")
            #expect(lost.status == 502, "\(lost.text)")
            try await rabbit.launch()
            try await eventually(60, "the dashboard reading the restarted RabbitMQ") {
                try await dashboard.get("/api/status").status == 200
            }
        }
    }

    @Test("a port in use is one clear error at start-up")
    func portInUse() async throws {
        try await withDashboard { first in
            let port = try #require(first.base.split(separator: ":").last.map(String.init))
            let second = try await CommandRun.run("enqueue", ["dashboard", "--port", port], seconds: 30)
            #expect(second.status != nil && second.status != 0, "\(second)")
            #expect(second.errorLines == ["Error: cannot serve the dashboard on 127.0.0.1:\(port): the port is in use — "
                + "stop what uses it, or pick another with --port"], "\(second)")
        }
    }
}

struct DashboardFailed: Error, CustomStringConvertible {
    let reply: String
    var description: String { "the dashboard answered with an error: \(reply)" }
}
