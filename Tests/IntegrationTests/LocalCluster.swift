import Broker
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The local clusters `scripts/services up --cluster` runs: three RabbitMQ
/// nodes `greenroom-PORT@localhost` on `amqpPort`…+2, joined in one cluster,
/// and a Redis Cluster of three masters and three replicas on `redisPort`…+5.
///
/// Tests that kill nodes use a cluster of their own ports (only the fault test
/// kills nodes of the shared one), and restore it before they end:
///
/// ```swift
/// let cluster = try await LocalCluster.ensureUp(amqpPort: 5721, redisPort: 7021)
/// try await cluster.killRedisNode(port: try await cluster.redisMasters()[0])
/// try await cluster.restore()
/// ```
struct LocalCluster: Sendable {
    /// The first of the three RabbitMQ nodes' AMQP ports.
    let amqpPort: Int
    /// The first of the six Redis nodes' ports.
    let redisPort: Int

    /// The ports of the clusters the tests share: those of
    /// `TestServers.clusterAMQPURL` and `clusterRedisURL` (5701, 7001 unless overridden).
    init(amqpPort: Int = LocalCluster.firstPort(of: TestServers.clusterAMQPURL) ?? 5701,
         redisPort: Int = LocalCluster.firstPort(of: TestServers.clusterRedisURL) ?? 7001) {
        self.amqpPort = amqpPort
        self.redisPort = redisPort
    }

    var rabbitPorts: [Int] { (0..<3).map { amqpPort + $0 } }
    var redisPorts: [Int] { (0..<6).map { redisPort + $0 } }

    /// `greenroom-PORT@localhost`.
    static func rabbitNode(port: Int) -> String { "greenroom-\(port)@localhost" }

    /// The URL that reaches the RabbitMQ cluster, as `scripts/services up --cluster` prints it.
    var amqpURL: String { "amqp://guest:guest@" + rabbitPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",") + "/%2F" }
    /// The URL that reaches the Redis Cluster (its first three nodes as seeds), as `scripts/services up --cluster` prints it.
    var redisURL: String { "redis+cluster://" + redisPorts.prefix(3).map { "127.0.0.1:\($0)" }.joined(separator: ",") }

    /// Makes sure the clusters on these ports run and are whole: returns at
    /// once when they are, else runs `scripts/services up --cluster` (which
    /// starts only the nodes not answering and waits for the clusters).
    /// Throws, with the script's advice, when they cannot be brought up.
    @discardableResult
    static func ensureUp(amqpPort: Int = LocalCluster().amqpPort, redisPort: Int = LocalCluster().redisPort) async throws -> LocalCluster {
        let cluster = LocalCluster(amqpPort: amqpPort, redisPort: redisPort)
        if await cluster.isWhole() { return cluster }
        try await cluster.restore()
        return cluster
    }

    /// Runs `scripts/services up --cluster` for these ports and waits until
    /// the clusters are whole again: three RabbitMQ nodes running in one
    /// cluster, `cluster_state:ok` on every Redis node, three masters each
    /// with a connected replica. A killed Redis master comes back as a replica
    /// of the one promoted in its place; a killed RabbitMQ node with its data.
    func restore() async throws {
        let run = try await services(["up", "--cluster"], seconds: 420)
        guard run.status == 0 else { throw LocalClusterFailure.notUp(amqpPort: amqpPort, redisPort: redisPort, run: run) }
        try await eventually(60, "the clusters on \(amqpPort)/\(redisPort) to be whole") { await self.isWhole() }
    }

    /// Whether the clusters are whole (`missing()` finds nothing, and can ask every node).
    func isWhole() async -> Bool {
        do { return try await missing() == nil } catch { return false }
    }

    /// Stops the clusters on these ports (`scripts/services down --cluster`).
    func down() async throws {
        let run = try await services(["down", "--cluster"], seconds: 120)
        guard run.status == 0 else { throw LocalClusterFailure.script(run) }
    }

    /// `kill -9`s RabbitMQ node `greenroom-PORT` (its Erlang VM, the pid it
    /// reports, which is the one in its pid file) and waits until its port is closed.
    func killRabbitNode(port: Int) async throws {
        let reply = try await rabbitCtl(port: port, ["eval", "os:getpid()."])
        guard let pid = pid_t(reply.trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: CharacterSet(charactersIn: "\""))) else {
            throw LocalClusterFailure.unexpected("RabbitMQ node on \(port) reported no pid: \(reply)")
        }
        try await killAndWait(pid, port: port)
    }

    /// `kill -9`s the Redis node on `port` (the pid it reports, which is the
    /// one in its pid file) and waits until its port is closed.
    func killRedisNode(port: Int) async throws {
        let info = try await redis(port) { try await $0.send("INFO", "server").string ?? "" }
        guard let pid = Self.field("process_id", in: info).flatMap({ pid_t($0) }) else {
            throw LocalClusterFailure.unexpected("Redis on \(port) reported no process_id")
        }
        try await killAndWait(pid, port: port)
    }

    private func killAndWait(_ pid: pid_t, port: Int) async throws {
        guard kill(pid, SIGKILL) == 0 else { throw LocalClusterFailure.unexpected("kill -9 \(pid) (the node on \(port)): errno \(errno)") }
        try await eventually(30, "the node on \(port) to be gone after kill -9") { !FreePort.isOpen(port) }
    }

    /// The ports of the Redis masters that hold slots and are not failing, as
    /// the first answering node sees them, in ascending order.
    func redisMasters() async throws -> [Int] {
        try await redisView().filter { $0.isMaster && $0.hasSlots && !$0.isFailing }.map(\.port).sorted()
    }

    /// The role (`master` or `slave`) the Redis node on `port` reports.
    func redisRole(port: Int) async throws -> String? {
        Self.field("role", in: try await redis(port) { try await $0.send("INFO", "replication").string ?? "" })
    }

    /// The nodes running in the RabbitMQ cluster, as its first answering node reports them (`cluster_status`).
    func rabbitRunningNodes() async throws -> [String] {
        for port in rabbitPorts where FreePort.isOpen(port) {
            let text = try await rabbitCtl(port: port, ["cluster_status", "--formatter", "json"])
            guard let start = text.firstIndex(of: "{"), let end = text.lastIndex(of: "}"),
                  let status = try JSONSerialization.jsonObject(with: Data(text[start...end].utf8)) as? [String: Any] else {
                throw LocalClusterFailure.unexpected("cluster_status of \(Self.rabbitNode(port: port)): \(text)")
            }
            return ((status["running_nodes"] as? [String]) ?? []).sorted()
        }
        return []
    }

    /// What keeps the clusters from being whole, or nil when they are.
    func missing() async throws -> String? {
        if let closed = (rabbitPorts + redisPorts).first(where: { !FreePort.isOpen($0) }) { return "nothing answers on \(closed)" }
        for port in redisPorts {
            let info = try await redis(port) { try await $0.send("CLUSTER", "INFO").string ?? "" }
            if Self.field("cluster_state", in: info) != "ok" { return "Redis node \(port): cluster_state is not ok" }
        }
        let view = try await redisView()
        if let failing = view.first(where: \.isFailing) { return "Redis node \(failing.port) is failing" }
        let masters = view.filter { $0.isMaster && $0.hasSlots }
        if masters.count != 3 { return "\(masters.count) Redis masters hold slots, not 3" }
        for master in masters where !view.contains(where: { $0.masterID == master.id && $0.isConnected }) {
            return "Redis master \(master.port) has no replica"
        }
        let running = try await rabbitRunningNodes()
        if running != rabbitPorts.map(Self.rabbitNode).sorted() { return "RabbitMQ nodes running: \(running)" }
        return nil
    }

    /// One line of `CLUSTER NODES`.
    struct RedisNode: Sendable {
        var id: String
        var port: Int
        var flags: Set<Substring>
        /// The master's id, for a replica.
        var masterID: String?
        var isConnected: Bool
        var hasSlots: Bool
        var isMaster: Bool { flags.contains("master") }
        var isFailing: Bool { !flags.isDisjoint(with: ["fail", "fail?", "handshake", "noaddr"]) }

        /// `<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot>…`
        init?(line: Substring) {
            let fields = line.split(separator: " ")
            guard fields.count >= 8, let address = fields[1].split(separator: "@").first,
                  let port = address.split(separator: ":").last.flatMap({ Int($0) }) else { return nil }
            id = String(fields[0])
            self.port = port
            flags = Set(fields[2].split(separator: ","))
            masterID = fields[3] == "-" ? nil : String(fields[3])
            isConnected = fields[7] == "connected"
            hasSlots = fields.count > 8
        }
    }

    /// `CLUSTER NODES` of the first Redis node that answers.
    func redisView() async throws -> [RedisNode] {
        for port in redisPorts where FreePort.isOpen(port) {
            let text = try await redis(port) { try await $0.send("CLUSTER", "NODES").string ?? "" }
            return text.split(separator: "\n").compactMap(RedisNode.init(line:))
        }
        throw LocalClusterFailure.unexpected("no Redis node answers on \(redisPorts)")
    }

    /// `NAME:VALUE` from an INFO-style reply.
    static func field(_ name: String, in info: String) -> String? {
        info.split(whereSeparator: \.isNewline).first { $0.hasPrefix(name + ":") }
            .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
    }

    /// The port of the first host in a (multi-host) URL: `scheme://[user@]host:port,…`.
    static func firstPort(of url: String) -> Int? {
        guard let scheme = url.range(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        let hosts = authority.split(separator: "@").last ?? authority
        return hosts.split(separator: ",").first?.split(separator: ":").last.flatMap { Int($0) }
    }

    private func redis<T: Sendable>(_ port: Int, _ body: @Sendable (RedisClient) async throws -> T) async throws -> T {
        let client = try await RedisClient.connect(try RedisConfiguration(url: "redis://127.0.0.1:\(port)/0"))
        return try await withCleanUp(client, "closing the connection to Redis node \(port)", cleanUp: { await $0.close() }, body)
    }

    /// `rabbitmqctl -n greenroom-PORT@localhost -q ARGS`, as scripts/services runs it.
    func rabbitCtl(port: Int, _ arguments: [String], seconds: Double = 120) async throws -> String {
        let output = "/tmp/greenroom-rabbitmqctl-\(getpid())-\(UUID().uuidString).out"
        defer { unlink(output) }
        let node = Self.rabbitNode(port: port)
        var environment = ["RABBITMQ_NODENAME": node]
        if getenv("HOME") == nil { environment["HOME"] = "/root" }
        let process = try ChildProcess(RabbitControl.binary, ["-n", node, "-q"] + arguments, environment: environment, logPath: output)
        let status = try await within(seconds, "rabbitmqctl \(arguments.joined(separator: " ")) on \(node)") { await process.exited() }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw RabbitControlFailed(arguments: arguments, status: status, output: text) }
        return text
    }

    /// The repository's scripts/services.
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/services").path

    /// Runs scripts/services with `arguments` and these ports in its environment.
    func services(_ arguments: [String], seconds: Double) async throws -> CommandRun {
        let base = "/tmp/greenroom-services-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer {
            unlink(base + ".out")
            unlink(base + ".err")
        }
        let child = try ChildProcess("/bin/bash", [Self.script] + arguments,
                                     environment: ["GREENROOM_CLUSTER_AMQP_PORT": "\(amqpPort)", "GREENROOM_CLUSTER_REDIS_PORT": "\(redisPort)"],
                                     logPath: base + ".out", errorPath: base + ".err")
        let status = await child.exited(within: seconds)
        return CommandRun(command: (["scripts/services"] + arguments).joined(separator: " "), status: status,
                          stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
                          stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
    }
}

enum LocalClusterFailure: Error, CustomStringConvertible {
    case notUp(amqpPort: Int, redisPort: Int, run: CommandRun)
    case script(CommandRun)
    case unexpected(String)

    var description: String {
        switch self {
        case .notUp(let amqpPort, let redisPort, let run):
            "the local clusters on \(amqpPort)/\(redisPort) are not up — run scripts/services up --cluster "
                + "(GREENROOM_CLUSTER_AMQP_PORT=\(amqpPort) GREENROOM_CLUSTER_REDIS_PORT=\(redisPort)); it said:\n\(run)"
        case .script(let run): "\(run)"
        case .unexpected(let text): text
        }
    }
}
