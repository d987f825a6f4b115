import Foundation

/// Three `ScratchRabbit` nodes joined into one RabbitMQ cluster, for a test
/// that kills a node — never the shared cluster of `scripts/services up
/// --cluster`, which other suites use at the same time. Starting it takes
/// a minute or two (three boots, one at a time, and two joins).
final class ScratchRabbitCluster: Sendable {
    let nodes: [ScratchRabbit]

    private init(nodes: [ScratchRabbit]) {
        self.nodes = nodes
    }

    /// `amqp://guest:guest@127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/%2F`.
    var url: String { "amqp://guest:guest@" + nodes.map { "127.0.0.1:\($0.amqpPort)" }.joined(separator: ",") + "/%2F" }

    /// Starts `size` nodes and joins the others to the first (`join_cluster`).
    static func start(size: Int = 3) async throws -> ScratchRabbitCluster {
        var nodes: [ScratchRabbit] = []
        do {
            for _ in 0..<size { nodes.append(try await ScratchRabbit.start()) }
            for node in nodes.dropFirst() {
                try await node.ctl(["stop_app"])
                try await node.ctl(["join_cluster", nodes[0].node])
                try await node.ctl(["start_app"])
                try await node.awaitStartup()
            }
            let status = try await nodes[0].ctl(["cluster_status", "--formatter", "json"])
            for node in nodes where !status.contains(node.node) {
                throw RabbitControlFailed(arguments: ["cluster_status"], status: 0, output: "\(node.node) did not join: \(status)")
            }
        } catch {
            for node in nodes { node.remove() }
            throw error
        }
        return ScratchRabbitCluster(nodes: nodes)
    }

    /// Kills every node and deletes their directories.
    func remove() {
        for node in nodes { node.remove() }
    }

    /// Runs `rabbitmqctl` against the first node that is not `except`.
    @discardableResult
    func ctl(_ arguments: [String], except: ScratchRabbit? = nil) async throws -> String {
        let node = nodes.first { $0 !== except } ?? nodes[0]
        return try await node.ctl(arguments)
    }

    /// Each queue named with `prefix`: its type and the node leading it.
    func queues(prefixed prefix: String, except: ScratchRabbit? = nil) async throws -> [String: (type: String, leader: String)] {
        let text = try await ctl(["list_queues", "--no-table-headers", "name", "type", "leader"], except: except)
        var found: [String: (type: String, leader: String)] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let columns = line.split(separator: "\t").map(String.init)
            guard columns.count >= 3, columns[0].hasPrefix(prefix) else { continue }
            found[columns[0]] = (columns[1], columns[2])
        }
        return found
    }

    /// The node a client connection is on, found by the end of its name
    /// (`connection_name` in its client properties): the node whose AMQP port
    /// it connected to. Nil while no such connection is open.
    func node(ofConnectionNameEnding ending: String, except: ScratchRabbit? = nil) async throws -> ScratchRabbit? {
        let text = try await ctl(["list_connections", "--no-table-headers", "port", "client_properties"], except: except)
        for line in text.split(whereSeparator: \.isNewline) where line.contains("\(ending)\"}") && line.contains("{\"connection_name\",") {
            guard let port = line.split(separator: "\t").first.flatMap({ Int($0) }) else { continue }
            return nodes.first { $0.amqpPort == port }
        }
        return nil
    }
}
