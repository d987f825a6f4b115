import CAMQP
import Logging
import Synchronization

/// A connection to RabbitMQ.
///
/// The connection owns one dedicated thread (see `AMQPConnectionCore` for the
/// threading model); every method here is async and safe to call from any task.
/// Open channels with `openChannel()`; close the connection with `close()`.
///
/// ```swift
/// let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: url))
/// let channel = try await connection.openChannel()
/// try await channel.enableConfirms()
/// try await channel.publish(AMQPMessage("hi"), exchange: "", routingKey: "my-queue")
/// ```
public final class AMQPConnection: Sendable {
    /// What it was asked to connect to: every host of the URL.
    public let configuration: AMQPConfiguration
    /// The `host:port` of the node it is connected to (one of `configuration.hosts`).
    public let endpoint: String
    private let jobs: JobQueue<AMQPConnectionCore.Job>
    private let ended: EndReason

    private init(configuration: AMQPConfiguration, endpoint: String, jobs: JobQueue<AMQPConnectionCore.Job>, ended: EndReason) {
        self.configuration = configuration
        self.endpoint = endpoint
        self.jobs = jobs
        self.ended = ended
    }

    /// Connects and logs in. Fails fast, with an `AMQPError` that names the
    /// problem, when the server is unreachable or refuses the credentials.
    ///
    /// With several hosts (a cluster's nodes) it tries them in turn, starting
    /// at a different one for each connection — the next in a rotation that
    /// begins at random in each process — so a fleet's connections spread over
    /// the nodes, and a reconnect after a node died goes to a node that is
    /// up. Only when every host failed does it fail, with an error that names
    /// each host and why.
    public static func connect(_ configuration: AMQPConfiguration, logger: Logger = Logger(label: "greenroom.amqp")) async throws -> AMQPConnection {
        let count = configuration.hosts.count
        let start = count > 1 ? HostRotation.next() % count : 0
        var failures: [AMQPError] = []
        for step in 0..<count {
            let node = configuration.only((start + step) % count)
            do {
                return try await connect(node: node, configuration: configuration, logger: logger)
            } catch {
                if count > 1 {
                    logger.debug("cannot connect to a RabbitMQ node, trying the next", metadata: ["endpoint": "\(node.endpoint)", "error": "\(error)"])
                }
                failures.append(error)
            }
        }
        throw count == 1 ? failures[0] : AMQPError(everyNodeFailed: failures, hosts: configuration.endpoints)
    }

    /// Connects to `node` (a configuration with one host); the connection
    /// reports `configuration`, the hosts it was asked for.
    private static func connect(node: AMQPConfiguration, configuration: AMQPConfiguration, logger: Logger) async throws(AMQPError) -> AMQPConnection {
        let jobs = JobQueue<AMQPConnectionCore.Job>()
        let ended = EndReason()
        let result: Result<Void, AMQPError> = await withCheckedContinuation { continuation in
            startOwnedThread(name: "amqp \(node.endpoint)") {
                switch AMQPConnectionCore.open(configuration: node, logger: logger, onTerminate: { ended.record($0, lost: !$1) }) {
                case .failure(let error):
                    ended.record(error)
                    _ = jobs.close()
                    continuation.resume(returning: .failure(error))
                case .success(let core):
                    logger.debug("connected to RabbitMQ", metadata: ["endpoint": "\(node.endpoint)"])
                    continuation.resume(returning: .success(()))
                    core.run(jobs: jobs)
                }
            }
        }
        try result.get()
        return AMQPConnection(configuration: configuration, endpoint: node.endpoint, jobs: jobs, ended: ended)
    }

    /// Why the connection ended, or nil while it is open.
    public var closedBecause: AMQPError? { ended.current }

    /// True until the connection is closed or lost.
    public var isOpen: Bool { closedBecause == nil }

    /// Calls `handler` once, with the reason, if the connection is lost —
    /// the broker closed it or the network failed — rather than closed by
    /// `close()`; at once if it has been lost already. A program that keeps
    /// a connection for a long time learns of its loss here even when no
    /// call of its own is waiting on it. `handler` runs on the connection's
    /// thread (or the caller's): it must not block.
    public func whenLost(_ handler: @escaping @Sendable (AMQPError) -> Void) {
        ended.whenLost(handler)
    }

    /// Opens a new channel.
    public func openChannel() async throws -> AMQPChannel {
        let (number, ended): (UInt16, EndReason) = try await perform("opening a channel") { core, continuation in
            guard let channel = core.allocateChannel() else {
                continuation.resume(throwing: AMQPError(code: .invalidArgument, operation: "opening a channel", detail: "every channel number is in use"))
                return
            }
            let number = channel.number
            let ended = channel.ended
            core.enqueueRPC(.init(.channelOpen, operation: "opening channel \(number)") { result in
                switch result {
                case .success: continuation.resume(returning: (number, ended))
                case .failure(let error):
                    if core.channels[number] === channel { core.channels[number] = nil }
                    continuation.resume(throwing: error)
                }
            }, on: channel)
        }
        return AMQPChannel(connection: self, number: number, ended: ended)
    }

    /// Closes the connection cleanly: consumers finish, the broker requeues
    /// anything delivered but not acked. Waiting calls fail. Idempotent.
    public func close() async {
        guard isOpen else { return }
        try? await perform("closing the connection") { (core, continuation: CheckedContinuation<Void, any Error>) in
            core.closeConnection()
            continuation.resume()
        }
    }

    /// Runs `body` on the connection thread without waiting for it; dropped
    /// if the connection has ended.
    func submit(_ body: @escaping @Sendable (AMQPConnectionCore) -> Void) {
        _ = jobs.push { core in
            if core.terminalError == nil { body(core) }
        }
    }

    /// Runs `body` on the connection thread; it must resume the continuation
    /// exactly once. If the connection has ended, fails with the reason.
    func perform<T: Sendable>(
        _ operation: String,
        _ body: @escaping @Sendable (AMQPConnectionCore, CheckedContinuation<T, any Error>) -> Void
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = jobs.push { core in
                if let error = core.terminalError {
                    continuation.resume(throwing: error.during(operation))
                } else {
                    body(core, continuation)
                }
            }
            if !accepted {
                let reason = closedBecause ?? AMQPError(code: .connectionClosed, operation: operation)
                continuation.resume(throwing: reason.during(operation))
            }
        }
    }
}

/// Why a connection or channel ended: recorded once, on its thread; read
/// from anywhere. A connection's also tells those watching for its loss.
final class EndReason: Sendable {
    private struct State {
        var error: AMQPError?
        var lost = false
        var lossWatchers: [@Sendable (AMQPError) -> Void] = []
    }

    private let value = Mutex(State())

    /// Records why it ended (the first reason wins). `lost`: the server or
    /// the network ended it, not this program; the loss watchers run now.
    func record(_ error: AMQPError, lost: Bool = false) {
        let watchers: [@Sendable (AMQPError) -> Void] = value.withLock { state in
            guard state.error == nil else { return [] }
            state.error = error
            state.lost = lost
            defer { state.lossWatchers = [] }
            return lost ? state.lossWatchers : []
        }
        for watcher in watchers { watcher(error) }
    }

    /// Runs `watcher` once if it is lost — at once if it has been.
    func whenLost(_ watcher: @escaping @Sendable (AMQPError) -> Void) {
        let lostAlready: AMQPError? = value.withLock { state in
            guard let error = state.error else {
                state.lossWatchers.append(watcher)
                return nil
            }
            return state.lost ? error : nil
        }
        if let lostAlready { watcher(lostAlready) }
    }

    var current: AMQPError? { value.withLock { $0.error } }
}
