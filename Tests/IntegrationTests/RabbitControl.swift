import Broker
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `rabbitmqctl` against the node `scripts/services` runs
/// (`greenroom-PORT@localhost`), for what the AMQP protocol cannot tell or do:
/// unacked counts per queue, and closing another process's connections.
///
/// Invoked like scripts/services does: /usr/lib/rabbitmq/bin/rabbitmqctl as
/// the current user (the Erlang cookie is in its HOME), the node named by
/// `-n`. Override the node with GREENROOM_RABBIT_NODE.
enum RabbitControl {
    static let binary = "/usr/lib/rabbitmq/bin/rabbitmqctl"

    static var node: String {
        // GREENROOM_RABBIT_NODE names the single node; on servers chosen with
        // TestServers.using, the node is the AMQP URL's first host.
        if TestServers.selected == nil, let node = getenv("GREENROOM_RABBIT_NODE").map({ String(cString: $0) }), !node.isEmpty { return node }
        let port = (try? AMQPConfiguration(url: TestServers.amqpURL).port) ?? 5672
        return "greenroom-\(port)@localhost"
    }

    /// Runs rabbitmqctl with `arguments`; returns its standard output, or
    /// throws with its output when it exits non-zero.
    static func run(_ arguments: [String], seconds: Double = 120) async throws -> String {
        let output = "/tmp/greenroom-rabbitmqctl-\(getpid())-\(UUID().uuidString).out"
        defer { unlink(output) }
        var environment = ["RABBITMQ_NODENAME": node]
        if getenv("HOME") == nil { environment["HOME"] = "/root" }
        let process = try ChildProcess(binary, ["-n", node, "-q"] + arguments, environment: environment, logPath: output)
        let status = try await within(seconds, "rabbitmqctl \(arguments.joined(separator: " "))") { await process.exited() }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw RabbitControlFailed(arguments: arguments, status: status, output: text) }
        return text
    }

    /// One queue as `list_queues` reports it.
    struct QueueStats: Sendable, Equatable, CustomStringConvertible {
        var name: String
        var ready: Int
        var unacked: Int
        var consumers: Int
        var description: String { "\(name): ready \(ready), unacked \(unacked), consumers \(consumers)" }
    }

    /// The JSON array in rabbitmqctl's output (stderr shares the file; any
    /// warning it printed is outside the brackets).
    static func jsonRows(_ text: String, _ what: String) throws -> [[String: Any]] {
        guard let start = text.firstIndex(of: "["), let end = text.lastIndex(of: "]"), start < end,
              let rows = try JSONSerialization.jsonObject(with: Data(text[start...end].utf8)) as? [[String: Any]] else {
            throw RabbitControlFailed(arguments: [what], status: 0, output: text)
        }
        return rows
    }

    /// The partition queues (`greenroom.TYPE.P`) of `types`, by name.
    static func partitionQueues(of types: [String]) async throws -> [QueueStats] {
        let text = try await run(["list_queues", "name", "messages_ready", "messages_unacknowledged", "consumers", "--formatter", "json"])
        let rows = try jsonRows(text, "list_queues")
        return rows.compactMap { row -> QueueStats? in
            guard let name = row["name"] as? String, isPartitionQueue(name, of: types) else { return nil }
            return QueueStats(name: name, ready: row["messages_ready"] as? Int ?? -1,
                              unacked: row["messages_unacknowledged"] as? Int ?? -1, consumers: row["consumers"] as? Int ?? -1)
        }.sorted { $0.name < $1.name }
    }

    static func isPartitionQueue(_ name: String, of types: [String]) -> Bool {
        types.contains { type in
            let prefix = "greenroom.\(type)."
            return name.hasPrefix(prefix) && Int(name.dropFirst(prefix.count)) != nil
        }
    }

    /// Open connections: the broker's name for each (what `close_connection`
    /// takes) and the name the client gave it (`connection_name`), if any.
    static func connections() async throws -> [(name: String, clientName: String?)] {
        let text = try await run(["list_connections", "name", "client_properties", "--formatter", "json"])
        let rows = try jsonRows(text, "list_connections")
        return rows.compactMap { row in
            guard let name = row["name"] as? String else { return nil }
            // client_properties: [[key, type, value], …]
            let properties = row["client_properties"] as? [[Any]] ?? []
            let clientName = properties.first { ($0.first as? String) == "connection_name" }.flatMap { $0.count > 2 ? $0[2] as? String : nil }
            return (name, clientName)
        }
    }

    /// The names WorkerRuntime.start gives a worker's two connections.
    static func workerConnectionNames(pid: pid_t) -> (consume: String, publish: String) {
        let id = "\(hostName())-\(pid)"
        return ("greenroom worker \(id) consume", "greenroom worker \(id) publish")
    }

    /// Closes every connection whose client-given name is in `clientNames`;
    /// returns how many it closed.
    @discardableResult
    static func closeConnections(named clientNames: Set<String>, reason: String = "closed by a Greenroom test") async throws -> Int {
        // close_connection takes the connection's Erlang pid (<node.N.N.N>), which
        // the JSON formatter does not print in that form: names are mapped to pids
        // from the table, a second listing. A connection that closed in between
        // (a client reconnecting under its same name) makes both listings again.
        for attempt in 1... {
            let wanted = try await connections().filter { $0.clientName.map(clientNames.contains) == true }.map(\.name)
            guard !wanted.isEmpty else { return 0 }
            var pids: [String: String] = [:]
            for line in try await run(["list_connections", "--no-table-headers", "pid", "name"]).split(separator: "\n") {
                let columns = line.split(separator: "\t", maxSplits: 1).map(String.init)
                if columns.count == 2, columns[0].hasPrefix("<") { pids[columns[1]] = columns[0] }
            }
            let found = wanted.compactMap { pids[$0] }
            guard found.count == wanted.count else {
                if attempt == 5 {
                    throw RabbitControlFailed(arguments: ["list_connections"], status: 0,
                                              output: "no pid for \(wanted.filter { pids[$0] == nil }), 5 times")
                }
                continue
            }
            for pid in found { _ = try await run(["close_connection", pid, reason]) }
            return found.count
        }
        fatalError("unreachable")
    }

    static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

struct RabbitControlFailed: Error, CustomStringConvertible {
    let arguments: [String]
    let status: Int32?
    let output: String
    var description: String { "rabbitmqctl \(arguments.joined(separator: " ")) exited \(status.map(String.init) ?? "?"): \(output)" }
}
