import Broker
import CommandLineAdvice
import Foundation
import Testing

/// RELIABILITY "Servers going away": a Redis that stops answering without
/// closing the connection (SIGSTOP: the same as dropped packets) fails each
/// command within `command_timeout` with `timedOut`, instead of hanging it
/// forever; once the server answers again, the next command reconnects.
@Suite("Redis commands time out on a server that stops answering", .timeLimit(.minutes(2)))
struct RedisTimeoutTests {
    @Test("a frozen Redis fails commands with timedOut within command_timeout; after it thaws the client works again")
    func frozen() async throws {
        let redis = try await ScratchRedis.start()
        defer { redis.stop() }
        let client = try await RedisClient.connect(try RedisConfiguration(url: redis.url(options: "command_timeout=500")))
        try await client.send("SET", "before", "1")

        redis.freeze()
        let clock = ContinuousClock()
        let start = clock.now
        // Concurrent commands share the batch: all of them must fail, none hang.
        let outcomes = try await within(10, "commands to a frozen Redis") {
            await withTaskGroup(of: (any Error)?.self) { group in
                for index in 0..<5 {
                    group.addTask {
                        do { try await client.send("SET", "during-\(index)", "1"); return nil } catch { return error }
                    }
                }
                return await group.reduce(into: [(any Error)?]()) { $0.append($1) }
            }
        }
        let waited = clock.now - start
        for outcome in outcomes {
            let error = outcome as? RedisError
            #expect(error?.code == .timedOut, "\(String(describing: outcome))")
        }
        #expect(waited >= .milliseconds(450) && waited < .seconds(5), "waited \(waited)")
        let line = outcomes.compactMap { $0 }.first.map(Advice.line(for:)) ?? ""
        #expect(line.contains("no reply") && line.contains("500 ms") && line.contains("command_timeout"), "\(line)")

        redis.thaw()
        try await eventually(10, "the client working again after the thaw") {
            (try? await client.send("GET", "before"))?.string == "1"
        }
        await client.close()
    }

    @Test("command_timeout is read from the URL; 0 means none; the default is below the default lease TTL")
    func configuration() throws {
        #expect(try RedisConfiguration(url: "redis://h?command_timeout=250").commandTimeoutMilliseconds == 250)
        #expect(try RedisConfiguration(url: "redis://h?command_timeout=0").commandTimeoutMilliseconds == 0)
        #expect(RedisConfiguration().commandTimeoutMilliseconds < 6_000)
        #expect(throws: URLFormatError.self) { try RedisConfiguration(url: "redis://h?command_timeout=soon") }
    }
}
