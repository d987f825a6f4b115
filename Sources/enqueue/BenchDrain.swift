import Broker
import Foundation
import Workers

/// `enqueue bench --drain`: a backlog drained from cold. Every add is
/// published before the worker starts; the clock runs from the worker
/// process's start until every counter's committed state holds its total.
/// Beside it, in the same run, the consume-only ceiling: the same number of
/// the same messages pre-published into plain queues and consumed + acked
/// through the Broker layer as fast as it goes.
struct DrainBench {
    let bench: Bench

    func run() async throws {
        let amqp = try AMQPConfiguration(url: bench.servers.amqpURL)
        let redis = try RedisConfiguration(url: bench.servers.redisURL)
        let actors = bench.actors, perActor = bench.messagesPerActor, publishers = bench.publishers
        let total = actors * perActor
        let log = StatusLine(enabled: !bench.json)

        var ceiling: Double?
        var topologyCeiling: Double?
        if !bench.skipCeiling {
            log.say("consume-only ceiling: \(total) messages pre-published into one queue, then consumed and acked through Broker")
            ceiling = try await ConsumeCeiling.measure(amqp: amqp, queueType: bench.servers.queueType(for: amqp), messages: total,
                                                      publishers: publishers, queues: 1, prefetch: bench.prefetch)
            if !bench.skipTopologyCeiling, bench.partitions > 1 {
                log.say("consume-only ceiling over \(bench.partitions) queues, as many as the partitions")
                topologyCeiling = try await ConsumeCeiling.measure(amqp: amqp, queueType: bench.servers.queueType(for: amqp),
                                                                   messages: total, publishers: publishers,
                                                                   queues: bench.partitions, prefetch: bench.prefetch)
            }
        }
        if bench.ceilingOnly {
            log.clear()
            print("consume-only ceiling (pre-published, Broker consume → ack): \(Int(ceiling ?? 0).formattedWithSeparators) messages/s")
            if let topologyCeiling { print("over \(bench.partitions) queues: \(Int(topologyCeiling).formattedWithSeparators) messages/s") }
            return
        }

        var generator = SystemRandomNumberGenerator()
        let suffix = "drain" + String(generator.next() as UInt32, radix: 36)
        let type = "counter-\(suffix)"
        let client = try await GreenroomClient.connect(amqp: amqp, redis: redis)
        let counters = try (0..<actors).map { try ActorAddress(type: type, id: "\(suffix)-\($0)") }

        // Set-up, untimed: a worker declares the type (its partition count and
        // queues) and spawns the counters, then stops gracefully, releasing
        // its leases. The drained worker below is a fresh process: nothing
        // activated, nothing cached.
        log.say("set-up: a worker declares the type and spawns \(actors) counters")
        let setup = try BenchFleet(count: 1, suffix: suffix, partitions: bench.partitions, concurrency: bench.concurrency,
                                   prefetch: bench.prefetch, servers: bench.servers, logTag: "setup")
        do {
            try await setup.waitUntilServing(client, type: type)
            try await client.send(counters.map { .init(to: $0, kind: WireFormat.SystemKind.spawn, payload: Array("{}".utf8)) })
            try await Bench.waitForCounts(client, counters, expected: 0, log: log)
        } catch {
            setup.stop()
            try? await cleanUp(client, type: type)
            throw error
        }
        setup.stop()

        do {
            log.say("pre-publishing \(total) adds from \(publishers) publishers, with no worker running")
            let senders = try await (0..<publishers).asyncMap { _ in try await GreenroomClient.connect(amqp: amqp, redis: redis) }
            let clock = ContinuousClock()
            let publishStart = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, sender) in senders.enumerated() {
                    let mine = stride(from: index, to: counters.count, by: senders.count).map { counters[$0] }
                    group.addTask {
                        var batch: [GreenroomClient.Outgoing] = []
                        for _ in 0..<perActor {
                            for counter in mine {
                                batch.append(.init(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8)))
                                if batch.count == 500 {
                                    try await sender.send(batch)
                                    batch.removeAll(keepingCapacity: true)
                                }
                            }
                        }
                        if !batch.isEmpty { try await sender.send(batch) }
                    }
                }
                try await group.waitForAll()
            }
            let publishRate = Double(total) / (clock.now - publishStart).seconds
            for sender in senders { await sender.close() }
            // Let RabbitMQ settle what the publishing left it to do, so the
            // drain is not charged for it (the consume-only ceiling does the same).
            try await Task.sleep(for: .seconds(1))
            let inspector = try await AMQPConnection.connect(amqp)
            let measured: Result<(Duration, [BenchFleet.ProcessUsage]?), any Error>
            do {
                measured = .success(try await timeDrain(inspector: inspector, client: client, suffix: suffix, counters: counters, log: log))
            } catch {
                measured = .failure(error)
            }
            await inspector.close()
            let (elapsed, usage) = try measured.get()

            let throughput = Double(total) / elapsed.seconds
            let result = DrainResult(
                actors: actors, messages: total, publishers: publishers, workers: bench.workers, partitions: bench.partitions,
                prefetch: bench.prefetch, throughput: throughput, seconds: elapsed.seconds, publishRate: publishRate,
                consumeCeiling: ceiling, ratio: ceiling.map { throughput / $0 },
                topologyConsumeCeiling: topologyCeiling, topologyRatio: topologyCeiling.map { throughput / $0 },
                workerCPUSeconds: usage?.map(\.cpuSeconds), workerPeakRSSMegabytes: usage?.map(\.peakRSSMegabytes))
            log.clear()
            print(bench.json ? result.json : result.text)
        } catch {
            log.clear()
            try? await cleanUp(client, type: type)
            throw error
        }
        try await cleanUp(client, type: type)
    }

    /// Checks the backlog is all queued, starts the drained worker(s) and
    /// waits until every counter holds its total; returns the time from the
    /// start of the worker process(es), and their CPU and peak RSS.
    private func timeDrain(inspector: AMQPConnection, client: GreenroomClient, suffix: String, counters: [ActorAddress],
                           log: StatusLine) async throws -> (Duration, [BenchFleet.ProcessUsage]?) {
        let type = "counter-\(suffix)"
        let total = counters.count * bench.messagesPerActor
        let queues = try await inspector.openChannel()
        let backlog = try await queued(queues, type: type)
        guard backlog == total else {
            throw BenchError("the drain's queues hold \(backlog) messages instead of \(total) before its worker started: "
                             + "is another worker consuming '\(type)'? stop it (enqueue status) and run again")
        }

        log.say("draining: \(bench.workers) worker\(bench.workers == 1 ? "" : "s") started on \(total) waiting messages")
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .seconds(600)
        let fleet = try BenchFleet(count: bench.workers, suffix: suffix, partitions: bench.partitions,
                                   concurrency: bench.concurrency, prefetch: bench.prefetch, servers: bench.servers, logTag: "drain")
        defer { fleet.stop() }
        // Cheap while the backlog lasts (one passive declare per partition
        // queue), then every counter, so polling does not compete with the
        // worker for the 2 cores.
        while case let ready = try await queued(queues, type: type), ready > 0 {
            guard clock.now < deadline else {
                throw BenchError("the drain did not finish within 600 s (\(ready) messages still queued); see the worker's log, /tmp/greenroom-bench-\(suffix)-drain-*.log")
            }
            log.say("draining: \(ready) messages still queued")
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Bench.waitForCounts(client, counters, expected: bench.messagesPerActor, log: log, deadline: deadline)
        let elapsed = clock.now - start
        return (elapsed, fleet.usage())
    }

    private func cleanUp(_ client: GreenroomClient, type: String) async throws {
        try await client.deleteType(type)
        await client.close()
    }

    /// Messages ready (not delivered) in the partition queues of `type`.
    private func queued(_ channel: AMQPChannel, type: String) async throws -> Int {
        var ready = 0
        for partition in 0..<bench.partitions {
            ready += Int(try await channel.inspectQueue(PartitionID(type: type, index: partition).queue).messageCount)
        }
        return ready
    }
}

/// The drain's ceiling: messages shaped like actor messages (same headers,
/// body, persistence) pre-published with confirms into `queues` queues
/// declared like partition queues, then — after the same 1 s settle as the
/// drain — consumed and acked as fast as the Broker layer goes: one
/// connection, a channel per queue, `prefetch` unacked per queue, and one
/// `multiple` ack per batch of deliveries (as the worker acks). Timed from the
/// first consume until the last delivery arrived and its ack was handed to
/// the connection.
enum ConsumeCeiling {
    static func measure(amqp: AMQPConfiguration, queueType: QueueType, messages: Int, publishers: Int, queues queueCount: Int,
                        prefetch: Int) async throws -> Double {
        var generator = SystemRandomNumberGenerator()
        let partitions = PartitionID.all(of: "bench-drain-ceiling-\(String(generator.next() as UInt32, radix: 36))", partitions: max(1, queueCount))
        let queues = partitions.map(\.queue)
        let connection = try await AMQPConnection.connect(amqp)
        let setup = try await connection.openChannel()
        try await Topology.declareShared(on: setup, queueType: queueType)
        for partition in partitions { try await Topology.declarePartition(partition, queueType: queueType, on: setup) }
        do {
            let rate = try await consume(connection: connection, amqp: amqp, queues: queues, messages: messages, publishers: publishers, prefetch: prefetch)
            for queue in queues { try await setup.deleteQueue(queue) }
            await connection.close()
            return rate
        } catch {
            for queue in queues { _ = try? await setup.deleteQueue(queue) }
            await connection.close()
            throw error
        }
    }

    private static func consume(connection: AMQPConnection, amqp: AMQPConfiguration, queues: [String], messages: Int, publishers: Int, prefetch: Int) async throws -> Double {
        let body = Array(#"{"by":1}"#.utf8)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for publisher in 0..<publishers {
                group.addTask {
                    let connection = try await AMQPConnection.connect(amqp)
                    let channel = try await connection.openChannel()
                    try await channel.enableConfirms()
                    let mine = (messages - publisher + publishers - 1) / publishers
                    var sent = 0
                    while sent < mine {
                        let count = min(500, mine - sent)
                        let batch = (0..<count).map { index in
                            let queue = queues[(sent + index) % queues.count]
                            return AMQPPublication(
                                AMQPMessage(body: body, properties: .init(
                                    contentType: WireFormat.contentType,
                                    headers: [WireFormat.toHeader: .string("counter-bench/bench-\((sent + index) % 1_000)")],
                                    persistent: true, messageID: UUID().uuidString.lowercased(), type: "add")),
                                exchange: Topology.actorsExchange, routingKey: queue, mandatory: true)
                        }
                        for result in try await channel.publish(batch) { try result.get() }
                        sent += count
                    }
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        try await Task.sleep(for: .seconds(1))

        let received = Tally()
        let (allReceived, allReceivedContinuation) = AsyncStream<Void>.makeStream()
        let clock = ContinuousClock()
        let start = clock.now
        var consumers: [AMQPConsumer] = []
        for queue in queues {
            let channel = try await connection.openChannel()
            try await channel.setPrefetch(UInt16(clamping: prefetch))
            consumers.append(try await channel.consume(queue: queue))
        }
        let consuming = consumers.map { consumer in
            Task {
                for try await batch in consumer.batches {
                    consumer.channel.ackWithoutWaiting(batch[batch.count - 1].deliveryTag, multiple: true)
                    if received.add(batch.count) >= messages { allReceivedContinuation.finish() }
                }
            }
        }
        for await _ in allReceived {}
        let elapsed = clock.now - start
        for consumer in consumers { try await consumer.cancel() }
        for task in consuming { _ = try? await task.value }
        return Double(messages) / elapsed.seconds
    }
}

struct DrainResult: Codable {
    var actors: Int
    var messages: Int
    var publishers: Int
    var workers: Int
    var partitions: Int
    var prefetch: Int
    /// Messages per second from the worker's start until every counter held its total.
    var throughput: Double
    var seconds: Double
    /// How fast the backlog was published (untimed set-up).
    var publishRate: Double
    var consumeCeiling: Double?
    var ratio: Double?
    var topologyConsumeCeiling: Double?
    var topologyRatio: Double?
    var workerCPUSeconds: [Double]?
    var workerPeakRSSMegabytes: [Double]?

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    var text: String {
        func f(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
        var lines = [
            "actors \(actors), messages \(messages) published before the worker started (at \(Int(publishRate).formattedWithSeparators)/s), "
                + "workers \(workers), partitions \(partitions)",
            "drain (worker start → every counter committed): \(Int(throughput).formattedWithSeparators) messages/s (\(f(seconds, 2)) s)",
        ]
        if let consumeCeiling, let ratio {
            lines.append("consume-only ceiling (pre-published, Broker consume → ack, one queue): \(Int(consumeCeiling).formattedWithSeparators) messages/s; ratio \(f(ratio, 2))")
        }
        if let topologyConsumeCeiling, let topologyRatio {
            lines.append("the same over \(partitions) queues (the partitions' fan-out): \(Int(topologyConsumeCeiling).formattedWithSeparators) messages/s; ratio \(f(topologyRatio, 2))")
        }
        if let cpu = workerCPUSeconds, let rss = workerPeakRSSMegabytes {
            lines.append("worker CPU: \(cpu.map { f($0) + " s" }.joined(separator: ", ")); peak RSS: \(rss.map { f($0) + " MB" }.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }
}
