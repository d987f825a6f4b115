import Logging
import Synchronization

/// The cluster half of a `RedisClient`: routes each command to the master
/// serving its key's slot, over one `RedisNodeConnection` (one thread) per
/// node, created the first time the node is needed.
///
/// - The slot map comes from `CLUSTER SLOTS`, asked of any node that answers
///   (known masters, their replicas, then the URL's seeds), at connect time,
///   after a redirect or a lost node, and every `refreshInterval` while
///   commands flow — so a master that gained or lost a replica is noticed.
/// - `MOVED`: the slot is recorded at its new node, the map is read again in
///   the background, and the command goes to the new node.
/// - `ASK`: the command goes once to the named node, right after `ASKING`,
///   both in one write on that node's connection.
/// - `TRYAGAIN`, `CLUSTERDOWN` and a node that cannot be reached (a command
///   never sent): retried after a short pause, reading the map again, for up
///   to `retryWindow` — long enough for the cluster to promote a replica.
/// - A connection lost with the command in flight: the command may have run,
///   so it fails with `.connectionLost` (or `.timedOut`) as with a single
///   server; the map is read again so that the next command goes to the new
///   master.
final class RedisClusterRouter: Sendable {
    let configuration: RedisConfiguration
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var map: RedisSlotMap?
        var nodes: [RedisEndpoint: RedisNodeConnection] = [:]
        var refreshing: Task<Void, any Error>?
        var lastRefresh = ContinuousClock.now
        var closed = false
    }

    /// How often the slot map is read again while commands flow.
    static let refreshInterval: Duration = .seconds(5)
    /// How long a command is retried while its node is unreachable or the
    /// cluster says it is busy: the local clusters' failure detection
    /// (`cluster-node-timeout 2000`) and a replica's election fit in it.
    static let retryWindow: Duration = .seconds(6)
    /// The pause between two such retries.
    static let retryPause: Duration = .milliseconds(100)
    /// At most this many `MOVED`/`ASK` redirects for one command.
    static let maximumRedirects = 16

    private init(configuration: RedisConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Reads the slot map from the first seed that answers.
    static func connect(_ configuration: RedisConfiguration, logger: Logger) async throws -> RedisClusterRouter {
        let router = RedisClusterRouter(configuration: configuration, logger: logger)
        do {
            try await router.refresh()
        } catch {
            await router.close()
            throw error
        }
        return router
    }

    // MARK: commands

    /// Sends one command to the node serving its keys' slot (keyless
    /// commands: to the first master).
    func send(_ arguments: [[UInt8]]) async throws -> RedisValue {
        let slot = try RedisCommandKeys.slot(of: arguments)
        return try await result(arguments, slot: slot).get()
    }

    /// Splits `commands` by node, sends each node's share as one pipeline
    /// (all nodes at once), and returns the replies in the commands' order.
    /// Commands redirected or refused while the cluster changes are then
    /// retried one by one, in order.
    func pipeline(_ commands: [[[UInt8]]]) async throws -> [Result<RedisValue, RedisError>] {
        let slots = try commands.map { arguments throws(RedisError) in try RedisCommandKeys.slot(of: arguments) }
        var results = [Result<RedisValue, RedisError>?](repeating: nil, count: commands.count)
        var shares: [(node: RedisNodeConnection, indices: [Int])] = []
        var shareOfNode: [ObjectIdentifier: Int] = [:]
        for (index, slot) in slots.enumerated() {
            switch await route(slot) {
            case .failure(let error):
                results[index] = .failure(error)
            case .success(let node):
                if let share = shareOfNode[ObjectIdentifier(node)] {
                    shares[share].indices.append(index)
                } else {
                    shareOfNode[ObjectIdentifier(node)] = shares.count
                    shares.append((node, [index]))
                }
            }
        }
        if shares.count == 1 {
            let replies = try await shares[0].node.pipeline(shares[0].indices.map { commands[$0] })
            for (index, reply) in zip(shares[0].indices, replies) { results[index] = reply }
        } else if !shares.isEmpty {
            let sent = shares
            try await withThrowingTaskGroup(of: (Int, [Result<RedisValue, RedisError>]).self) { group in
                for (number, share) in sent.enumerated() {
                    group.addTask { (number, try await share.node.pipeline(share.indices.map { commands[$0] })) }
                }
                for try await (number, replies) in group {
                    for (index, reply) in zip(sent[number].indices, replies) { results[index] = reply }
                }
            }
        }
        for index in results.indices {
            guard case .failure(let error)? = results[index] else { continue }
            switch RedisClusterRedirect(error) {
            case .moved(let slot, let node):
                learn(slot: slot, movedTo: node)
                results[index] = await result(commands[index], slot: slots[index])
            case .ask, .busy, .unreachable:
                results[index] = await result(commands[index], slot: slots[index])
            case .inFlight:
                refreshInBackground()
            case .none:
                continue
            }
        }
        return results.map { $0! }
    }

    /// Sends `arguments` until it has an answer to give: its reply, its own
    /// error, or a cluster error that retrying did not clear.
    private func result(_ arguments: [[UInt8]], slot: Int?) async -> Result<RedisValue, RedisError> {
        var redirects = 0
        var asking: RedisEndpoint?
        var retryUntil: ContinuousClock.Instant?
        while true {
            let outcome: Result<RedisValue, RedisError>
            if let target = asking {
                asking = nil
                outcome = await askingResult(arguments, on: connection(to: target))
            } else {
                switch await route(slot) {
                case .success(let node): outcome = await node.result(arguments)
                case .failure(let error): outcome = .failure(error)
                }
            }
            guard case .failure(let error) = outcome else { return outcome }
            let redirect = RedisClusterRedirect(error)
            switch redirect {
            case .moved(let movedSlot, let node):
                redirects += 1
                guard redirects <= Self.maximumRedirects else { return outcome }
                learn(slot: movedSlot, movedTo: node)
            case .ask(let node):
                redirects += 1
                guard redirects <= Self.maximumRedirects else { return outcome }
                asking = node
            case .busy, .unreachable:
                let now = ContinuousClock.now
                let deadline = retryUntil ?? now + Self.retryWindow
                retryUntil = deadline
                guard now < deadline else { return outcome }
                if redirect == .unreachable { try? await refresh() }
                do { try await Task.sleep(for: Self.retryPause) } catch { return outcome }
            case .inFlight:
                refreshInBackground()
                return outcome
            case .none:
                return outcome
            }
        }
    }

    /// `ASKING` then the command, handed over together so they are written
    /// one after the other on `node`'s connection.
    private func askingResult(_ arguments: [[UInt8]], on node: RedisNodeConnection) async -> Result<RedisValue, RedisError> {
        do {
            return try await node.pipeline([["ASKING".redisBytes], arguments])[1]
        } catch let error as RedisError {
            return .failure(error)
        } catch {
            return .failure(RedisError(code: .connectionLost, command: RedisConnectionCore.name(of: arguments), message: "\(error)"))
        }
    }

    // MARK: keyless commands

    /// The masters that serve slots, as the slot map says now.
    func masters() async throws -> [RedisEndpoint] {
        if let masters = state.withLock({ $0.map?.servingMasters }) { return masters }
        try await refresh()
        return state.withLock { $0.map?.servingMasters ?? [] }
    }

    /// Sends `arguments` to every master, one after the other.
    func eachMaster(_ arguments: [[UInt8]]) async throws -> [(node: RedisEndpoint, reply: RedisValue)] {
        var replies: [(node: RedisEndpoint, reply: RedisValue)] = []
        for master in try await masters() {
            replies.append((master, try await connection(to: master).send(arguments)))
        }
        return replies
    }

    /// SCANs every master for keys matching `pattern`, handing each batch to `body`.
    func scanKeys(matching pattern: String, count: Int, _ body: ([[UInt8]]) async throws -> Void) async throws {
        for master in try await masters() {
            try await RedisClient.scan(matching: pattern, count: count, body) { try await self.connection(to: master).send($0) }
        }
    }

    // MARK: the map and the nodes

    /// The connection to the master serving `slot` (any master for nil).
    private func route(_ slot: Int?) async -> Result<RedisNodeConnection, RedisError> {
        enum Found { case node(RedisEndpoint), none, closed }
        for attempt in 0..<2 {
            let found: Found = state.withLock { state in
                if state.closed { return .closed }
                guard let map = state.map else { return .none }
                if ContinuousClock.now - state.lastRefresh > Self.refreshInterval { startReading(&state) }
                return (slot.map { map.master(ofSlot: $0) } ?? map.servingMasters.first).map(Found.node) ?? .none
            }
            switch found {
            case .closed: return .failure(RedisError(code: .closed, command: "command", message: "the Redis client was closed"))
            case .node(let node): return .success(connection(to: node))
            case .none: if attempt == 0 { try? await refresh() }
            }
        }
        return .failure(RedisError(code: .server, command: "CLUSTER",
                                   message: "CLUSTERDOWN no master serves slot \(slot.map(String.init) ?? "any") in the cluster's slot map"))
    }

    /// The node's connection, started on first use.
    private func connection(to node: RedisEndpoint) -> RedisNodeConnection {
        state.withLock { state in
            if let known = state.nodes[node] { return known }
            var nodeConfiguration = configuration
            nodeConfiguration.host = node.host
            nodeConfiguration.port = node.port
            nodeConfiguration.isCluster = false
            nodeConfiguration.otherSeeds = []
            let replicaWait = configuration.replicaWaitMilliseconds > 0
                ? RedisReplicaWait(timeoutMilliseconds: configuration.replicaWaitMilliseconds) : nil
            replicaWait?.replicas = state.map?.replicaCounts[node] ?? 0
            let started = RedisNodeConnection.start(nodeConfiguration, replicaWait: replicaWait, logger: logger)
            state.nodes[node] = started
            return started
        }
    }

    /// Records a `MOVED` and reads the whole map again in the background.
    private func learn(slot: Int, movedTo node: RedisEndpoint) {
        state.withLock { $0.map?.move(slot: slot, to: node) }
        refreshInBackground()
    }

    private func refreshInBackground() {
        _ = state.withLock { startReading(&$0) }
    }

    /// Reads the slot map again (one reading at a time: a caller arriving
    /// while one is under way waits for it).
    func refresh() async throws {
        try await state.withLock { startReading(&$0) }?.value
    }

    /// The reading of the slot map under way, started now if there is none
    /// (and the client is open): the one place a reading starts.
    @discardableResult
    private func startReading(_ state: inout State) -> Task<Void, any Error>? {
        if let running = state.refreshing { return running }
        guard !state.closed else { return nil }
        let started = Task { try await self.discover() }
        state.refreshing = started
        return started
    }

    /// Asks the known nodes, then the seeds, for `CLUSTER SLOTS` until one answers.
    private func discover() async throws {
        defer {
            state.withLock { state in
                state.refreshing = nil
                state.lastRefresh = .now
            }
        }
        let known = state.withLock { state in (state.map?.masters ?? []) + (state.map?.replicas ?? []) }
        var candidates: [RedisEndpoint] = []
        for node in known + configuration.seeds where !candidates.contains(node) { candidates.append(node) }
        var problems: [String] = []
        for node in candidates {
            if state.withLock({ $0.closed }) { return }
            switch await connection(to: node).result(["CLUSTER".redisBytes, "SLOTS".redisBytes]) {
            case .success(let reply):
                let map = try RedisSlotMap(clusterSlots: reply, askedHost: node.host)
                state.withLock { state in
                    state.map = map
                    for (endpoint, connection) in state.nodes {
                        connection.replicaWait?.replicas = map.replicaCounts[endpoint] ?? 0
                    }
                }
                return
            case .failure(let error) where error.code == .server && error.message.contains("cluster support disabled"):
                throw RedisError(code: .server, command: "CLUSTER", message: "\(node) is a single Redis server, not a cluster node "
                                 + "(cluster support disabled): use a redis:// URL for it, redis+cluster:// only for a Redis Cluster",
                                 endpoint: node.description)
            case .failure(let error):
                problems.append("\(node): \(error.message)")
            }
        }
        throw RedisError(code: .connectFailed, command: "CLUSTER SLOTS",
                         message: "no node of the Redis Cluster answered (\(problems.joined(separator: "; ")))",
                         endpoint: configuration.seeds.map(\.description).joined(separator: ","))
    }

    /// Closes every node's connection.
    func close() async {
        let (nodes, reading) = state.withLock { state in
            state.closed = true
            return (Array(state.nodes.values), state.refreshing)
        }
        reading?.cancel()
        for node in nodes { await node.close() }
    }
}
