import Broker
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A throwaway Redis Cluster of the test's own — 3 masters and 3 replicas on
/// six free ports, data in a temporary directory — for tests that kill
/// nodes or move slots (never the shared cluster of `scripts/services up
/// --cluster`). Made as that one is: `redis-cli --cluster create …
/// --cluster-replicas 1 --cluster-yes`, `cluster-node-timeout 2000`.
final class ScratchRedisCluster: Sendable {
    let ports: [Int]
    let directory: String
    private let processes = Mutex<[Int: ChildProcess]>([:])

    private init(ports: [Int], directory: String) {
        self.ports = ports
        self.directory = directory
    }

    /// Starts six nodes, creates the cluster and waits until every node says `cluster_state:ok`.
    static func start() async throws -> ScratchRedisCluster {
        let base = freeBase()
        let cluster = ScratchRedisCluster(ports: Array(base..<base + 6), directory: "/tmp/greenroom-scratch-cluster-\(base)-\(getpid())")
        do {
            for port in cluster.ports {
                try FileManager.default.createDirectory(atPath: cluster.nodeDirectory(port), withIntermediateDirectories: true)
                try await cluster.launch(port)
            }
            let create = try ChildProcess("/usr/bin/redis-cli", ["--cluster", "create"] + cluster.ports.map { "127.0.0.1:\($0)" }
                                          + ["--cluster-replicas", "1", "--cluster-yes"], logPath: "\(cluster.directory)/create.log")
            guard await create.exited(within: 60) == 0 else {
                let log = (try? String(contentsOfFile: "\(cluster.directory)/create.log", encoding: .utf8)) ?? ""
                throw ScratchServerExited(what: "redis-cli --cluster create", status: 1, lastLines: String(log.suffix(2_000)))
            }
            try await cluster.waitUntilWhole()
            return cluster
        } catch {
            cluster.remove()
            throw error
        }
    }

    /// Six consecutive free ports whose cluster bus ports (port + 10000) are
    /// free too, all below Linux's ephemeral range so a restarted node gets
    /// its port back.
    private static func freeBase() -> Int {
        var generator = SystemRandomNumberGenerator()
        while true {
            let base = Int.random(in: 12_000..<22_000, using: &generator)
            let ports = Array(base..<base + 6)
            if (ports + ports.map { $0 + 10_000 }).allSatisfy(FreePort.canBind) { return base }
        }
    }

    /// The URL of the whole cluster (its first three nodes as seeds).
    func url(options: String? = nil) -> String {
        "redis+cluster://" + ports.prefix(3).map { "127.0.0.1:\($0)" }.joined(separator: ",") + (options.map { "/0?" + $0 } ?? "")
    }

    private func nodeDirectory(_ port: Int) -> String { "\(directory)/\(port)" }

    /// Starts (or restarts, with its `nodes.conf` and append-only file) the node on `port`.
    func launch(_ port: Int) async throws {
        let arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--dir", nodeDirectory(port), "--cluster-enabled", "yes",
                         "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
                         "--cluster-require-full-coverage", "no", "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                         // A replica syncs at once, not after the default 5 s wait for others.
                         "--repl-diskless-sync-delay", "0"]
        let logPath = "\(nodeDirectory(port))/redis.log"
        let process = try ChildProcess("/usr/bin/redis-server", arguments, logPath: logPath)
        processes.withLock { $0[port] = process }
        try await within(20, "scratch cluster node on port \(port) (its log: \(logPath))") {
            while !FreePort.isOpen(port) {
                if let status = process.poll() {
                    let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                    throw ScratchServerExited(what: "scratch cluster node on port \(port)", status: status,
                                              lastLines: log.split(separator: "\n").suffix(5).joined(separator: "\n"))
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Kills the node on `port` with SIGKILL, as a crash would.
    func kill(_ port: Int) {
        let process = processes.withLock { $0.removeValue(forKey: port) }
        process?.send(SIGKILL)
        _ = process?.waitForExit(within: 10)
    }

    /// A plain (single-server) client of one node, for administration.
    func node(_ port: Int) async throws -> RedisClient {
        try await RedisClient.connect(try RedisConfiguration(url: "redis://127.0.0.1:\(port)/0"))
    }

    /// Runs one command on the node on `port`.
    @discardableResult
    func command(_ port: Int, _ arguments: [String]) async throws -> RedisValue {
        let client = try await node(port)
        defer { Task { await client.close() } }
        return try await client.send(arguments: arguments.map { Array($0.utf8) })
    }

    /// Runs one command on the node on `port` right after `ASKING`, as a
    /// node importing a slot wants for the slot's keys.
    func askingCommand(_ port: Int, _ arguments: [String]) async throws -> RedisValue {
        let client = try await node(port)
        defer { Task { await client.close() } }
        return try await client.pipeline([["ASKING".redisBytes], arguments.map(\.redisBytes)])[1].get()
    }

    /// The ports of the nodes running now.
    var running: [Int] { processes.withLock { Array($0.keys).sorted() } }

    /// `CLUSTER NODES` as a running node sees it: port → (flags, master
    /// node id or "-", slots), plus each node's id.
    func nodes() async throws -> [(port: Int, id: String, flags: String, master: String, slots: [String])] {
        let text = try await command(running[0], ["CLUSTER", "NODES"]).string ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count >= 8, let address = fields[1].split(separator: "@").first,
                  let port = address.split(separator: ":").last.flatMap({ Int($0) }) else { return nil }
            return (port, fields[0], fields[2], fields[3], Array(fields.dropFirst(8)))
        }
    }

    /// The ports of the masters serving slots (not failed).
    func masters() async throws -> [Int] {
        try await nodes().filter { $0.flags.contains("master") && !$0.flags.contains("fail") && !$0.slots.isEmpty }.map(\.port).sorted()
    }

    /// The node id of the node on `port`.
    func id(of port: Int) async throws -> String {
        try await command(port, ["CLUSTER", "MYID"]).string ?? ""
    }

    /// Waits until every running node says `cluster_state:ok`, three masters
    /// serve slots, and every replica has synced with its master (a replica
    /// that never has cannot be promoted: a kill before then loses the slots).
    func waitUntilWhole(seconds: Double = 60) async throws {
        try await eventually(seconds, "the scratch Redis Cluster on \(ports.first!)… to be whole") {
            for port in self.running {
                guard let info = try? await self.command(port, ["CLUSTER", "INFO"]).string, info.contains("cluster_state:ok"),
                      let replication = try? await self.command(port, ["INFO", "replication"]).string,
                      replication.contains("role:master") || replication.contains("master_link_status:up") else { return false }
            }
            return (try? await self.masters().count) == 3
        }
    }

    /// Kills every node and deletes the data.
    func remove() {
        for port in running { kill(port) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { remove() }
}
