import Broker
import Foundation
import Testing
import Workers

/// The dashboard's turn rates and latency come from two successive readings
/// of each worker's running totals (`MemberInfo.turns`). The heartbeats are
/// written by hand into a Redis of the test's own (a fake member in the
/// shared one would be a live worker to every other test), with the times
/// they were seen, so the expected figures are exact.
@Suite("enqueue dashboard: turn rates from successive heartbeats", .timeLimit(.minutes(2)))
struct DashboardRatesTests {
    /// A worker's heartbeat record, as `MemberInfo` is stored.
    struct Heartbeat: Encodable {
        var id: String
        var host = "h"
        var pid: Int32 = 1
        var types = ["counter"]
        var concurrency = 1
        var startedAt: Int64 = 0
        var turns: [String: TurnTotals]?
    }

    /// Whether `value` is the number `expected`, up to rounding.
    func about(_ value: Any?, _ expected: Double) -> Bool {
        guard let value = value as? Double else { return false }
        return abs(value - expected) < 1e-9
    }

    @Test("rate and mean latency from the difference of two readings; a restart starts again; no totals show none")
    func ratesFromHeartbeats() async throws {
        let redis = try await ScratchRedis.start()
        defer { redis.stop() }
        let client = try await RedisClient.connect(try RedisConfiguration(url: redis.url()))
        defer { Task { await client.close() } }
        // Heartbeat times a minute ahead: a member counts as live until 6 s
        // after its last one, so none expires however slowly the test runs;
        // the rates depend only on the differences.
        let start = Int64(Date().timeIntervalSince1970 * 1_000) + 60_000
        func heartbeat(_ id: String, at offset: Int64, _ turns: [String: TurnTotals]?) async throws {
            let info = Heartbeat(id: id, turns: turns)
            try await client.send("ZADD", "gr:{members}", "\(start + offset)", id)
            try await client.send("HSET", "gr:{members}:info", id, String(decoding: try JSONEncoder().encode(info), as: UTF8.self))
        }
        try await withDashboard(["--redis-url", redis.url()]) { dashboard in
            func rates() async throws -> [String: [String: Any]] {
                let reply = try await dashboard.get("/api/status")
                guard reply.status == 200, let rates = reply.json?["rates"] as? [[String: Any]] else { throw DashboardFailed(reply: reply.text) }
                return Dictionary(uniqueKeysWithValues: rates.map { ($0["type"] as! String, $0) })
            }
            try await heartbeat("w1", at: 0, ["counter": TurnTotals(committed: 10, deadLettered: 1, retried: 0, seconds: 0.5)])
            try await heartbeat("old", at: 0, nil)  // a worker that reports no totals adds nothing
            var now = try await rates()
            #expect(now["counter"]?["committedTotal"] as? Int == 10)
            #expect(now["counter"]?["turnsPerSecond"] == nil, "one reading has no rate")

            // 1 s later: 20 more turns (1 s of turn time between them), 2 more dead letters.
            try await heartbeat("w1", at: 1_000, ["counter": TurnTotals(committed: 30, deadLettered: 3, retried: 1, seconds: 1.5)])
            now = try await rates()
            #expect(about(now["counter"]?["turnsPerSecond"], 20))
            #expect(about(now["counter"]?["meanLatencyMilliseconds"], 50))
            #expect(about(now["counter"]?["deadLetteredPerSecond"], 2))
            #expect(about(now["counter"]?["retriedPerSecond"], 1))
            // Polled again before the next heartbeat: the same rate, not zero.
            now = try await rates()
            #expect(about(now["counter"]?["turnsPerSecond"], 20))

            // A second worker, 2 readings 0.5 s apart: the rates add up; the latency is over both.
            try await heartbeat("w2", at: 1_000, ["counter": TurnTotals(committed: 0, seconds: 0)])
            _ = try await rates()
            try await heartbeat("w2", at: 1_500, ["counter": TurnTotals(committed: 5, seconds: 1.5)])
            now = try await rates()
            #expect(about(now["counter"]?["turnsPerSecond"], 30))
            #expect(about(now["counter"]?["meanLatencyMilliseconds"], 100))  // (1 s + 1.5 s) / 25
            #expect(now["counter"]?["committedTotal"] as? Int == 35)

            // w1 restarted under the same id (totals went down): no rate from it until its next reading.
            try await heartbeat("w1", at: 2_000, ["counter": TurnTotals(committed: 4, seconds: 0.1)])
            now = try await rates()
            #expect(about(now["counter"]?["turnsPerSecond"], 10), "w2's rate only")
            try await heartbeat("w1", at: 2_500, ["counter": TurnTotals(committed: 8, seconds: 0.3)])
            now = try await rates()
            #expect(about(now["counter"]?["turnsPerSecond"], 18))
        }
    }
}
