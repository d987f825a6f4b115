import Foundation
import Testing

@Suite("The benchmark runs (tiny size; speed is measured by scripts/bench, not by tests)", .timeLimit(.minutes(5)))
struct BenchSmokeTests {
    /// Runs `enqueue bench ARGUMENTS --json` (killed with the workers it
    /// starts, if it hangs) and returns the JSON it printed.
    private static func bench(_ arguments: [String], what: String) async throws -> [String: Any] {
        let output = "/tmp/greenroom-test-bench-\(getpid())-\(UUID().uuidString.prefix(8)).json"
        defer { unlink(output) }
        let bench = try ChildProcess(CommandRun.binary("enqueue"), ["bench"] + arguments + ["--json"],
                                     environment: ["GREENROOM_AMQP_URL": TestServers.amqpURL, "GREENROOM_REDIS_URL": TestServers.redisURL],
                                     logPath: output, ownGroup: true)
        let status = try await within(180, what) { await bench.exited() }
        let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(status == 0, "\(printed)")
        let json = try #require(printed.firstIndex(of: "{").map { String(printed[$0...]) })
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    @Test("enqueue bench with its own worker reports throughput, the ceiling, latency, CPU and RSS")
    func tinyBench() async throws {
        let result = try await Self.bench(["--actors", "20", "--messages", "5", "--workers", "1", "--sample-every", "10"], what: "enqueue bench")
        #expect(result["messages"] as? Int == 100)
        #expect((result["throughput"] as? Double ?? 0) > 0)
        #expect((result["ceiling"] as? Double ?? 0) > 0)
        // The same loop over the 16 partitions' worth of queues.
        #expect((result["topologyCeiling"] as? Double ?? 0) > 0)
        #expect(result["partitions"] as? Int == 16)
        // Each of the 4 publishers sends 25 messages and samples every 10th: 2 each.
        #expect((result["latencySamples"] as? Int ?? 0) == 8)
        #expect((result["workerPeakRSSMegabytes"] as? [Double])?.first ?? 0 > 0)
    }

    @Test("enqueue bench --drain drains a backlog published before its worker and reports both consume-only ceilings")
    func tinyDrain() async throws {
        let result = try await Self.bench(["--drain", "--actors", "20", "--messages", "5", "--partitions", "4"], what: "enqueue bench --drain")
        #expect(result["messages"] as? Int == 100)
        #expect((result["throughput"] as? Double ?? 0) > 0)
        #expect((result["consumeCeiling"] as? Double ?? 0) > 0)
        #expect((result["topologyConsumeCeiling"] as? Double ?? 0) > 0)
        #expect(result["partitions"] as? Int == 4)
        #expect((result["workerPeakRSSMegabytes"] as? [Double])?.first ?? 0 > 0)
    }

    @Test("enqueue bench --delays reports lateness at the turn, idle CPU and Redis memory per pending delayed message")
    func tinyDelays() async throws {
        let result = try await Self.bench(["--delays", "--actors", "10", "--messages", "5", "--spread", "1", "--idle-seconds", "1",
                                           "--memory-messages", "200", "--partitions", "4"], what: "enqueue bench --delays")
        #expect(result["messages"] as? Int == 50)
        // Every message handled once, each with its lateness (from its due time in the payload if it ran at once).
        #expect(result["recorded"] as? Int == 50)
        let lateness = try #require(result["latenessMilliseconds"] as? [String: Int])
        #expect(lateness["p50"] != nil && lateness["p99"] != nil && lateness["max"] != nil, "\(lateness)")
        #expect((lateness["p50"] ?? -1) <= (lateness["p99"] ?? -1) && (lateness["p99"] ?? -1) <= (lateness["max"] ?? -1), "\(lateness)")
        #expect(result["memoryMessages"] as? Int == 200)
        // An entry is its JSON plus its id twice and a score: more than 100 bytes, far less than 10 kB.
        let perMessage = result["dueSetBytesPerMessage"] as? Double ?? 0
        #expect(perMessage > 100 && perMessage < 10_000, "\(perMessage)")
        #expect((result["idleCPUSecondsPerMinute"] as? [Double])?.count == 1)
    }
}
