import Foundation
import Testing
import Workers

/// `enqueue dead …` on the shared servers. The shared `greenroom.dead` holds
/// other tests' letters, and other tests browse it at the same time (a
/// letter they hold is hidden for a moment): every check filters on this
/// test's own type and waits for the expected answer.
@Suite("enqueue dead: filters, stats, replay by id, purge with a filter and confirmation", .timeLimit(.minutes(5)))
struct DeadLetterCommandTests {
    @Test("list and stats see this test's letters by type and reason, replay --id sends back exactly one, purge takes only its filter")
    func listStatsReplayPurge() async throws {
        try await withHarness { harness in
            let type = harness.type("counter")
            let spawned = try await CommandRun.run("enqueue", ["spawn", type, "x", "--json"])
            #expect(try json(spawned) as? [String: String] == ["spawned": "\(type)/x"], "\(spawned)")
            let missing = "actor \(type)/x does not exist (never spawned, or stopped)"
            let letters = [
                FakeDeadLetter(target: "\(type)/x", id: "r1-\(harness.suffix)", reason: missing, body: #"{"by":5}"#),
                FakeDeadLetter(target: "\(type)/x", id: "r2-\(harness.suffix)", reason: missing, body: #"{"by":7}"#),
                FakeDeadLetter(target: "\(type)/x", id: "r3-\(harness.suffix)", reason: "failed after 3 attempts: Boom", body: #"{"by":100}"#),
            ]
            try await publishDeadLetters(letters)

            let ids = { @Sendable (arguments: [String]) async throws -> [String] in
                let run = try await CommandRun.run("enqueue", ["dead", "list", "--type", type, "--json"] + arguments)
                guard run.status == 0 else { throw CommandFailed(run: run) }
                return try run.stdout.split(separator: "\n").map { line in
                    try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
                }.compactMap { $0["messageID"] as? String }
            }
            try await eventually(30, "the three letters listed in order") { try await ids([]) == letters.map(\.id) }
            try await eventually(30, "the exhausted one by class") { try await ids(["--reason", "exhausted"]) == ["r3-\(harness.suffix)"] }
            try await eventually(30, "the exhausted one by text") { try await ids(["--reason", "BOOM"]) == ["r3-\(harness.suffix)"] }
            try await eventually(30, "one by id") { try await ids(["--id", "r2-\(harness.suffix)"]) == ["r2-\(harness.suffix)"] }
            try await eventually(30, "the first two by limit") { try await ids(["--limit", "2"]) == ["r1-\(harness.suffix)", "r2-\(harness.suffix)"] }

            try await eventually(30, "stats counting them by class") {
                let run = try await CommandRun.run("enqueue", ["dead", "stats", "--json"])
                let groups = (try json(run) as? [String: Any])?["groups"] as? [[String: Any]] ?? []
                let mine = groups.filter { $0["type"] as? String == type }
                    .reduce(into: [String: Int]()) { $0[$1["reasonClass"] as? String ?? "?"] = $1["count"] as? Int }
                return mine == ["no_actor": 2, "exhausted": 1]
            }

            // No terminal, no --yes: refused, nothing deleted.
            let refused = try await CommandRun.run("enqueue", ["dead", "purge", "--type", type])
            #expect(refused.status != 0 && refused.stderr.contains("pass --yes"), "\(refused)")
            try await eventually(30, "all three still there") { try await ids([]).count == 3 }

            let replayed = Tally()
            try await eventually(30, "r1 replayed") {
                let run = try await CommandRun.run("enqueue", ["dead", "replay", "--id", "r1-\(harness.suffix)", "--json"])
                return await replayed.add((try json(run) as? [String: Int])?["replayed"] ?? -1) == 1
            }
            try await eventually(30, "r1's add applied") { try await harness.client.state(of: harness.address("counter", "x")) == Array(#"{"count":5}"#.utf8) }

            let purged = Tally()
            try await eventually(30, "r2 purged by type and class") {
                let run = try await CommandRun.run("enqueue", ["dead", "purge", "--type", type, "--reason", "no_actor", "--yes", "--json"])
                return await purged.add((try json(run) as? [String: Int])?["purged"] ?? -1) == 1
            }
            try await eventually(30, "only r3 left") { try await ids([]) == ["r3-\(harness.suffix)"] }
            #expect(await replayed.total == 1)
            #expect(await purged.total == 1)
        }
    }

    @Test("every command that prints data prints JSON that parses with --json")
    func jsonEverywhere() async throws {
        try await withHarness { harness in
            let type = harness.type("counter")
            let address = "\(type)/j"
            let run = { @Sendable (arguments: [String]) async throws -> Any in
                let result = try await CommandRun.run("enqueue", arguments)
                #expect(result.status == 0, "\(result)")
                return try json(result)
            }
            #expect(try await run(["spawn", type, "j", "--json"]) as? [String: String] == ["spawned": address])
            #expect(try await run(["send", address, "add", #"{"by":2}"#, "--json"]) as? [String: Int] == ["sent": 1])
            let asked = try await run(["ask", address, "get", "--json"]) as? [String: Any]
            #expect(asked?["reply"] as? [String: Int] == ["count": 2] && asked?["kind"] is String, "\(String(describing: asked))")
            #expect(try await run(["state", address, "--json"]) as? [String: Int] == ["count": 2])
            #expect(try await run(["find", "--type", type, "--json"]) as? [String] == [address])
            #expect(try await run(["find", "--children", address, "--json"]) as? [String] == [])
            #expect(try await run(["find", "--exists", address, "--json"]) as? [String] == [address])
            let status = try await run(["status", "--type", type, "--json"]) as? [String: Any]
            #expect((status?["partitions"] as? [Any])?.count == 4 && status?["leaseMilliseconds"] is Int)
            #expect(try await run(["reminders", "list", address, "--json"]) as? [Any] != nil)
            #expect(try await run(["reminders", "cancel", address, "none", "--json"]) as? [String: Bool] == ["cancelled": false])
            #expect((try await run(["dead", "stats", "--json"]) as? [String: Any])?["total"] is Int)
            #expect(try await run(["dead", "replay", "--id", "none-\(harness.suffix)", "--json"]) as? [String: Int] == ["replayed": 0])
            #expect(try await run(["dead", "purge", "--id", "none-\(harness.suffix)", "--yes", "--json"]) as? [String: Int] == ["purged": 0])
            let doctor = try await run(["doctor", "--messages", "20", "--json"]) as? [String: Any]
            #expect(doctor?["ok"] as? Bool == true && doctor?["rabbitMQ"] is [String: Any] && doctor?["redis"] is [String: Any])
            let stopped = try await run(["stop", address, "--json"]) as? [String: Any]
            #expect(stopped?["stopped"] as? String == address && stopped?["children"] as? Int == 0)
        }
    }

    @Test("bash and zsh completion scripts are generated and name the subcommands")
    func completion() async throws {
        for shell in ["bash", "zsh"] {
            let run = try await CommandRun.run("enqueue", ["--generate-completion-script", shell])
            #expect(run.status == 0, "\(run)")
            for word in ["send", "status", "dead", "stats", "replay", "purge", "reminders", "--json", "--yes"] {
                #expect(run.stdout.contains(word), "the \(shell) script names \(word)")
            }
        }
    }
}

/// `enqueue status` judges liveness by the lease TTL the workers wrote.
@Suite("enqueue status reads the workers' lease TTL", .timeLimit(.minutes(3)))
struct StatusLeaseTests {
    @Test("a frozen worker with a 2 s lease drops out of status by that lease, read from Redis without a flag")
    func statusReadsLease() async throws {
        // Redis of its own: the key is fleet-wide, and other tests' workers write theirs.
        let redis = try await ScratchRedis.start()
        defer { redis.stop() }
        var generator = SystemRandomNumberGenerator()
        let suffix = "t" + String(generator.next() as UInt32, radix: 36)
        let worker = try WorkerProcess.start(suffix: suffix, leaseSeconds: 2, logPath: "/tmp/greenroom-status-lease-\(suffix).log",
                                             environment: ["GREENROOM_REDIS_URL": redis.url()])
        defer {
            worker.send(SIGCONT)
            _ = worker.stop()
        }
        let client = try await GreenroomClient.connect(amqp: try .init(url: TestServers.amqpURL), redis: try .init(url: redis.url()))
        defer { Task { await client.close() } }
        try await WorkerProcess.waitUntilServing(client, type: "counter-\(suffix)")

        let run = try await CommandRun.run("enqueue", ["status", "--type", "counter-\(suffix)", "--json"],
                                           environment: ["GREENROOM_REDIS_URL": redis.url()], seconds: 120)
        let live = try json(run) as? [String: Any] ?? [:]
        #expect(live["leaseMilliseconds"] as? Int == 2_000, "\(run)")
        #expect((live["workers"] as? [Any])?.count == 1, "\(run)")

        worker.send(SIGSTOP)
        try await eventually(60, "the frozen worker gone from status") {
            let status = try await client.status(types: [])
            return status.workers.isEmpty && status.leaseMilliseconds == 2_000
        }
        // Still there by a longer TTL: status left its record alone.
        #expect(try await client.status(leaseMilliseconds: 600_000, types: []).workers.count == 1)
        try await RuntimeHarness.deleteEverything(of: RuntimeHarness.typeNames(suffix: suffix), redisURL: redis.url())
    }
}

/// A command's stdout as JSON.
private func json(_ run: CommandRun) throws -> Any {
    guard run.status == 0 else { throw CommandFailed(run: run) }
    return try JSONSerialization.jsonObject(with: Data(run.stdout.utf8), options: [.fragmentsAllowed])
}

private struct CommandFailed: Error, CustomStringConvertible {
    let run: CommandRun
    var description: String { "\(run)" }
}

/// A running sum across retries.
private actor Tally {
    private(set) var total = 0
    func add(_ count: Int) -> Int {
        total += count
        return total
    }
}
