import Broker
import Foundation
import Synchronization
import Testing
import Workers

/// The fleet `compose.yaml` describes, run as containers (`scripts/compose
/// test`, or `docker compose run --rm tests`): RabbitMQ, Redis and worker
/// containers, addressed by their compose service names. The tests kill,
/// stop and add worker containers through the engine (ComposeEngine), so
/// they run only in the compose tests container.
@Suite("The compose fleet: worker containers killed, stopped and scaled", .serialized, .timeLimit(.minutes(10)),
       .enabled(if: ComposeEngine.isPresent, "only in the compose tests container (scripts/compose test)"))
struct ComposeFleetTests {
    /// The run's own counter ids; the fleet hosts the built-in `counter`.
    private let run = "c" + String(UInt32.random(in: .min ... .max), radix: 36)

    /// Connects, trying again for up to 30 s: the network's DNS server
    /// reloads as containers come and go (the scale-up of the test before),
    /// and a service name may not resolve for a moment ("Temporary failure in
    /// name resolution"). The workers ride that out by reconnecting; a test
    /// client does the same here.
    private func connect() async throws -> GreenroomClient {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                return try await GreenroomClient.connect(amqp: try AMQPConfiguration(url: TestServers.amqpURL),
                                                         redis: try RedisConfiguration(url: TestServers.redisURL))
            } catch where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private func counters(_ count: Int, _ label: String) throws -> [ActorAddress] {
        try (0..<count).map { try ActorAddress(type: "counter", id: "\(run)-\(label)\($0)") }
    }

    /// One add to each of `counters`, `rounds` times.
    private func sendAdds(_ client: GreenroomClient, to counters: [ActorAddress], rounds: Int) async throws {
        for _ in 0..<rounds {
            try await client.send(counters.map { .init(to: $0, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true) })
        }
    }

    private func runningWorkers() async throws -> [ComposeEngine.Container] {
        try await ComposeEngine.containers(of: "worker").filter(\.running)
    }

    /// Waits until every partition of `counter` is owned, and the owners are
    /// exactly the workers of the running worker containers (by hostname).
    @discardableResult
    private func waitForFleet(_ client: GreenroomClient, seconds: Double = 120) async throws -> Set<String> {
        let hosts = Mutex<Set<String>>([])
        try await eventually(seconds, "every counter partition owned by the running worker containers") {
            let expected = Set(try await runningWorkers().map(\.hostname))
            let status = try await client.status(types: ["counter"])
            let hostOf = Dictionary(status.workers.map { ($0.info.id, $0.info.host) }) { first, _ in first }
            let partitions = status.partitions.filter { $0.type == "counter" }
            let owners = partitions.compactMap { $0.owner.flatMap { hostOf[$0] } }
            hosts.withLock { $0 = expected }
            return !partitions.isEmpty && owners.count == partitions.count && Set(owners) == expected
        }
        return hosts.withLock { $0 }
    }

    @Test("enqueue status, run inside the compose network, lists each worker container by its hostname")
    func statusShowsContainerHostnames() async throws {
        let client = try await connect()
        defer { Task { await client.close() } }
        let hosts = try await waitForFleet(client)
        #expect(hosts.count >= 2, "the fleet should run several worker containers: \(hosts)")
        let status = try await CommandRun.run("/usr/local/bin/enqueue", ["status"])
        #expect(status.status == 0, "\(status)")
        for host in hosts {
            #expect(status.stdout.contains("host \(host) "), "worker container \(host) missing from:\n\(status.stdout)")
        }
        print(status.stdout.components(separatedBy: "partitions:").first ?? status.stdout, terminator: "")
    }

    @Test("50,000 adds to 500 counters while a worker container is killed and another started with --scale: every counter exact")
    func killAndScaleUnderLoad() async throws {
        let client = try await connect()
        defer { Task { await client.close() } }
        let before = try await runningWorkers()
        try #require(before.count >= 2, "needs at least 2 running worker containers: \(before)")
        try await waitForFleet(client)
        let counters = try counters(500, "k")

        // A fifth of the adds queued before the kill, so it falls mid-stream.
        try await sendAdds(client, to: counters, rounds: 20)
        try await eventually(60, "the first adds committed") { (try? await client.state(of: counters[0])) != nil }
        let victim = before[0]
        try await ComposeEngine.kill(victim)
        print("killed \(victim)")
        let sending = Task { try await sendAdds(client, to: counters, rounds: 80) }
        defer { sending.cancel() }

        let all = try await ComposeEngine.containers(of: "worker")
        try await ComposeEngine.scale("worker", to: all.count + 1)
        let added = try await ComposeEngine.containers(of: "worker").filter { new in !all.contains { $0.id == new.id } }
        #expect(added.count == 1, "--scale should have added one worker container: \(added)")
        let hosts = try await waitForFleet(client)
        print("after the kill and the scale-up, the fleet is \(hosts.sorted())")
        #expect(added.allSatisfy { hosts.contains($0.hostname) }, "the new container \(added) should own partitions: \(hosts)")
        try await sending.value

        let counts = try await waitForCounters(client, counters, total: 100, seconds: 240)
        #expect(counts.allSatisfy { $0 == 100 }, "\(zip(counters, counts).filter { $0.1 != 100 }.prefix(10).map { "\($0.0.id)=\($0.1)" })")
    }

    @Test("a graceful stop of a worker container under load: it exits 0 and nothing is lost")
    func gracefulStopUnderLoad() async throws {
        let client = try await connect()
        defer { Task { await client.close() } }
        let before = try await runningWorkers()
        try #require(before.count >= 2, "needs at least 2 running worker containers: \(before)")
        try await waitForFleet(client)
        let counters = try counters(200, "s")

        try await sendAdds(client, to: counters, rounds: 10)
        try await eventually(60, "the first adds committed") { (try? await client.state(of: counters[0])) != nil }
        let sending = Task { try await sendAdds(client, to: counters, rounds: 40) }
        defer { sending.cancel() }
        let stopped = before[before.count - 1]
        try await ComposeEngine.stop(stopped, seconds: 60)
        let after = try await ComposeEngine.inspect(stopped.id)
        print("stopped \(after)")
        #expect(!after.running && after.exitCode == 0, "a stopped worker drains and exits 0: \(after)")
        let hosts = try await waitForFleet(client)
        #expect(!hosts.contains(stopped.hostname), "\(hosts)")
        try await sending.value

        let counts = try await waitForCounters(client, counters, total: 50, seconds: 240)
        #expect(counts.allSatisfy { $0 == 50 }, "\(zip(counters, counts).filter { $0.1 != 50 }.prefix(10).map { "\($0.0.id)=\($0.1)" })")
    }
}
