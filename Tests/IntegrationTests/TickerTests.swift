import Broker
import Foundation
import Testing
import Workers

/// The `ticker` built-in (the demo's reminder) in a worker of its own: it
/// ticks every period once started, a period below the minimum is refused
/// with the reason, and `enqueue reminders cancel` stops it.
@Suite("ticker: a durable reminder as a built-in", .timeLimit(.minutes(3)))
struct TickerTests {
    @Test("start ticks every second; 500 ms is refused; cancel stops the ticks")
    func ticks() async throws {
        var generator = SystemRandomNumberGenerator()
        let suffix = "t" + String(generator.next() as UInt32, radix: 36)
        let type = "ticker-\(suffix)"
        let amqp = try AMQPConfiguration(url: TestServers.amqpURL)
        let redis = try RedisConfiguration(url: TestServers.redisURL)
        let runtime = WorkerRuntime(configuration: .init(amqp: amqp, redis: redis, types: [HostedType(Ticker(), name: type)], partitions: 2,
                                                         concurrency: 8, workerID: "test-\(suffix)"))
        try await runtime.start()
        let client = try await GreenroomClient.connect(amqp: amqp, redis: redis)
        try await withCleanUp((runtime, client), "ticker cleanup", cleanUp: { runtime, client in
            await runtime.shutdown()
            await client.close()
            try await RuntimeHarness.deleteEverything(of: [type])
        }) { _, client in
            let ticker = try await client.spawn(Ticker.self, id: "t", typeName: type)
            @Sendable func ticks() async throws -> Int { try await client.ask(Ticker.Get(), of: ticker).ticks }
            try await client.send(Ticker.Start(everyMs: 1_000), to: ticker)
            let started = Date()
            try await eventually(30, "two ticks") { try await ticks() >= 2 }
            #expect(Date().timeIntervalSince(started) >= 2, "ticked faster than every second")
            #expect(try await client.schedules(of: ticker.address).map(\.name) == [Ticker.reminder])

            try await client.send(Ticker.Start(everyMs: 500), to: ticker, id: "too-fast-\(suffix)")
            let dead = try await takeDeadLetters(client, suffix: suffix, ids: ["too-fast-\(suffix)"])
            #expect(dead.first?.reason.contains("at least") == true, "\(dead)")

            #expect(try await client.cancelReminder(Ticker.reminder, of: ticker.address))
            let after = try await ticks()
            #expect(try await client.schedules(of: ticker.address).isEmpty)
            // A firing already on its way may still run; none after two more periods.
            try await Task.sleep(for: .milliseconds(2_500))
            #expect(try await ticks() <= after + 1)
        }
    }
}
