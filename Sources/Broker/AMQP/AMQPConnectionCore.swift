import CAMQP
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The half of an AMQP connection that lives on its own thread.
///
/// Threading model: rabbitmq-c is blocking and a connection must never be used
/// from two threads. So each `AMQPConnection` starts one dedicated OS thread
/// that owns the `amqp_connection_state_t` and this object, and nothing else
/// touches either. Async callers hand it jobs through a `JobQueue` (a closure
/// plus a continuation); the thread runs them, then reads whatever frames the
/// broker sent — replies, deliveries, confirms, returns, cancels — and resumes
/// the continuations those frames complete. Between rounds it sleeps in
/// `poll(2)` on the socket and the queue's eventfd, so a new job or a new frame
/// wakes it at once, and it wakes at least every quarter heartbeat so
/// rabbitmq-c can send and check heartbeats. No blocking C call ever runs on
/// Swift's cooperative thread pool.
final class AMQPConnectionCore {
    typealias Job = @Sendable (AMQPConnectionCore) -> Void

    let configuration: AMQPConfiguration
    let logger: Logger
    let state: amqp_connection_state_t
    var channels: [UInt16: AMQPChannelState] = [:]
    /// Consumers holding deliveries read in this round of the loop.
    var consumersToFlush: [AMQPChannelState.Consumer] = []
    private var nextChannelNumber: UInt16 = 1
    private var channelMax: UInt16 = 2047
    /// Set once the connection is unusable; every later job fails with it.
    private(set) var terminalError: AMQPError?
    /// Told once, when the connection ends: why, and whether this program
    /// closed it (`cleanly`) rather than lost it.
    private let onTerminate: @Sendable (_ error: AMQPError, _ cleanly: Bool) -> Void

    private init(configuration: AMQPConfiguration, logger: Logger, state: amqp_connection_state_t, onTerminate: @escaping @Sendable (AMQPError, Bool) -> Void) {
        self.configuration = configuration
        self.logger = logger
        self.state = state
        self.onTerminate = onTerminate
    }

    deinit {
        amqp_destroy_connection(state)
    }

    // MARK: - Connecting

    /// Opens the socket and logs in. Runs on the connection thread.
    static func open(configuration: AMQPConfiguration, logger: Logger, onTerminate: @escaping @Sendable (AMQPError, Bool) -> Void) -> Result<AMQPConnectionCore, AMQPError> {
        guard let state = amqp_new_connection() else {
            return .failure(AMQPError(code: .library, operation: "creating a RabbitMQ connection", detail: "out of memory"))
        }
        let core = AMQPConnectionCore(configuration: configuration, logger: logger, state: state, onTerminate: onTerminate)
        let endpoint = configuration.endpoint
        let target = "RabbitMQ at \(endpoint)"

        let socket: OpaquePointer?
        if let tls = configuration.tls {
            socket = amqp_ssl_socket_new(state)
            if let socket {
                amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
                amqp_ssl_socket_set_verify_hostname(socket, tls.verifyPeer ? 1 : 0)
                if let ca = tls.caCertificatePath, amqp_ssl_socket_set_cacert(socket, ca) != AMQP_STATUS_OK.rawValue {
                    return .failure(AMQPError(code: .connectFailed, operation: "cannot connect to \(target)", endpoint: endpoint,
                                              detail: "cannot read CA certificate \(ca)"))
                }
                if let cert = tls.certificatePath, let key = tls.keyPath,
                   amqp_ssl_socket_set_key(socket, cert, key) != AMQP_STATUS_OK.rawValue {
                    return .failure(AMQPError(code: .connectFailed, operation: "cannot connect to \(target)", endpoint: endpoint,
                                              detail: "cannot read client certificate \(cert) or key \(key)"))
                }
            }
        } else {
            socket = amqp_tcp_socket_new(state)
        }
        guard let socket else {
            return .failure(AMQPError(code: .library, operation: "creating a socket for \(target)", endpoint: endpoint))
        }

        var timeout = timeval(milliseconds: configuration.connectTimeoutMilliseconds)
        if configuration.tls == nil {
            switch TCPConnect.open(host: configuration.host, port: configuration.port, timeoutMilliseconds: configuration.connectTimeoutMilliseconds) {
            case .success(let descriptor):
                amqp_tcp_socket_set_sockfd(socket, descriptor)
            case .failure(let problem):
                return .failure(AMQPError(code: .connectFailed, operation: "cannot connect to \(target)", endpoint: endpoint,
                                          osError: problem.osError, detail: problem.reason))
            }
        } else {
            let opened = amqp_socket_open_noblock(socket, configuration.host, Int32(configuration.port), &timeout)
            if opened != AMQP_STATUS_OK.rawValue {
                return .failure(AMQPError(code: Self.isTLSFailure(opened) ? .tlsFailed : .connectFailed,
                                          operation: "cannot connect to \(target) over TLS", endpoint: endpoint,
                                          detail: String(cString: amqp_error_string2(opened))))
            }
        }
        amqp_set_handshake_timeout(state, &timeout)
        amqp_set_rpc_timeout(state, &timeout)

        let login: amqp_rpc_reply_t = {
            let arena = CArena()
            var properties = arena.table([
                "product": "Greenroom",
                "connection_name": .string(configuration.connectionName),
                "capabilities": .table([
                    "consumer_cancel_notify": true,
                    "publisher_confirms": true,
                    "basic.nack": true,
                    "connection.blocked": true,
                ]),
            ])
            return camqp_login_plain(state, configuration.virtualHost, Int32(AMQP_DEFAULT_MAX_CHANNELS), Int32(AMQP_DEFAULT_FRAME_SIZE),
                                     Int32(configuration.heartbeatSeconds), &properties, configuration.user, configuration.password)
        }()
        if let error = core.error(from: login, operation: "cannot log in to \(target) as '\(configuration.user)' on vhost '\(configuration.virtualHost)'") {
            var error = error
            error.endpoint = endpoint
            if configuration.tls != nil, login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION, Self.isTLSFailure(login.library_error) {
                // With TLS 1.3 the broker checks our certificate after the
                // handshake has completed on our side: its refusal ends the login.
                error.code = .tlsFailed
                error.detail = "the broker ended the TLS session (\(error.detail ?? "a TLS error")); did it want a client certificate it trusts?"
            } else if error.replyCode == 403 || error.replyCode == 530 {
                error.code = .accessRefused
            } else if login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION, login.library_error == AMQP_STATUS_CONNECTION_CLOSED.rawValue {
                // RabbitMQ drops the socket, without a reason, on bad credentials.
                error.code = .accessRefused
                error.detail = "the broker closed the connection during login"
            }
            return .failure(error)
        }
        // Our own loop replaces rabbitmq-c's blocking RPC waits from here on.
        amqp_set_rpc_timeout(state, nil)
        let negotiated = amqp_get_channel_max(state)
        if negotiated > 0 { core.channelMax = UInt16(clamping: negotiated) }
        return .success(core)
    }

    /// rabbitmq-c's TLS statuses: handshake, peer or host name verification.
    private static func isTLSFailure(_ status: Int32) -> Bool {
        (AMQP_STATUS_SSL_SET_ENGINE_FAILED.rawValue...AMQP_STATUS_SSL_ERROR.rawValue).contains(status)
    }

    // MARK: - The loop

    /// The connection's socket, for `poll(2)`.
    var socketDescriptor: Int32 { amqp_get_sockfd(state) }

    /// Runs jobs and frames until the connection ends. Returns when it has.
    func run(jobs: JobQueue<Job>) {
        let descriptor = socketDescriptor
        let heartbeat = Int32(amqp_get_heartbeat(state))
        let idleWakeMilliseconds: Int32 = heartbeat > 0 ? max(250, heartbeat * 250) : 5_000
        var zero = timeval(tv_sec: 0, tv_usec: 0)

        while terminalError == nil {
            for job in jobs.drain() {
                job(self)
            }
            if terminalError != nil { break }

            var budget = 1_024
            while budget > 0, terminalError == nil {
                var frame = amqp_frame_t()
                let status = amqp_simple_wait_frame_noblock(state, &frame, &zero)
                if status == AMQP_STATUS_TIMEOUT.rawValue { break }
                guard status == AMQP_STATUS_OK.rawValue else {
                    terminate(AMQPError(code: .connectionClosed, operation: "reading from RabbitMQ at \(configuration.endpoint)",
                                        endpoint: configuration.endpoint, detail: String(cString: amqp_error_string2(status))))
                    break
                }
                handle(frame)
                budget -= 1
            }
            flushDeliveries()
            amqp_maybe_release_buffers(state)
            if terminalError != nil { break }
            if budget == 0 || amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 { continue }
            jobs.wait(alsoOn: descriptor, timeoutMilliseconds: idleWakeMilliseconds)
        }

        // Anyone who queued work after the end gets the reason, not silence.
        for job in jobs.close() {
            job(self)
        }
    }

    /// Hands each consumer the deliveries read this round, as one batch.
    func flushDeliveries() {
        guard !consumersToFlush.isEmpty else { return }
        for consumer in consumersToFlush { consumer.flush() }
        consumersToFlush.removeAll(keepingCapacity: true)
    }

    // MARK: - Ending

    /// Ends the connection: everything waiting on it fails with `error`.
    func terminate(_ error: AMQPError, cleanly: Bool = false) {
        guard terminalError == nil else { return }
        terminalError = error
        if !cleanly {
            logger.warning("AMQP connection lost", metadata: ["endpoint": "\(configuration.endpoint)", "error": "\(error)"])
        }
        for (_, channel) in channels.sorted(by: { $0.key < $1.key }) {
            channel.shutDown(because: cleanly ? nil : error)
        }
        channels.removeAll()
        onTerminate(error, cleanly)
    }

    /// Sends connection.close and waits (briefly) for close-ok, then ends.
    func closeConnection() {
        guard terminalError == nil else { return }
        var timeout = timeval(milliseconds: 2_000)
        amqp_set_rpc_timeout(state, &timeout)
        _ = amqp_connection_close(state, AMQP_REPLY_SUCCESS)
        terminate(AMQPError(code: .connectionClosed, operation: "using the RabbitMQ connection", endpoint: configuration.endpoint,
                            detail: "the connection was closed by this program"), cleanly: true)
    }

    // MARK: - Channels

    /// Allocates a free channel number, or nil when every number is in use.
    func allocateChannel() -> AMQPChannelState? {
        for _ in 0..<Int(channelMax) {
            let number = nextChannelNumber
            nextChannelNumber = nextChannelNumber >= channelMax ? 1 : nextChannelNumber + 1
            if channels[number] == nil {
                let channel = AMQPChannelState(number: number)
                channels[number] = channel
                return channel
            }
        }
        return nil
    }

    /// The open channel behind a handle, or the reason it can't be used.
    func channel(_ number: UInt16, _ handle: EndReason, for operation: String) -> Result<AMQPChannelState, AMQPError> {
        if let terminalError { return .failure(terminalError.during(operation)) }
        if let closed = handle.current { return .failure(closed.during(operation)) }
        guard let channel = channels[number], channel.ended === handle else {
            return .failure(AMQPError(code: .channelClosed, operation: operation, detail: "channel \(number) is closed"))
        }
        if let closed = channel.closedBecause { return .failure(closed.during(operation)) }
        return .success(channel)
    }

    /// Closes the channel behind a handle; `completion` runs once the broker
    /// has confirmed (at once if it is closed already). From this moment the
    /// channel refuses every further call: a frame sent after channel.close
    /// reaches a broker that has already closed the channel, and RabbitMQ
    /// answers that with 504 CHANNEL_ERROR, closing the whole connection —
    /// an ack that crossed a partition's hand-over would take every other
    /// channel down with it. Calls queued before it still go out first.
    func closeChannel(_ number: UInt16, _ handle: EndReason, completion: @escaping (Result<Void, AMQPError>) -> Void) {
        let operation = "closing channel \(number)"
        guard let channel = channels[number], channel.ended === handle, channel.closedBecause == nil else {
            completion(.success(()))
            return
        }
        channel.ended.record(AMQPError(code: .channelClosed, operation: "using channel \(number)", detail: "the channel was closed"))
        enqueueRPC(.init(.channelClose, operation: operation) { [unowned self] result in
            if channels[number] === channel { channels[number] = nil }
            channel.shutDown(because: nil)
            completion(result.map { _ in () })
        }, on: channel)
    }

    /// Queues a synchronous method on `channel`; sends it now if the channel
    /// has no other RPC outstanding.
    func enqueueRPC(_ rpc: AMQPChannelState.PendingRPC, on channel: AMQPChannelState) {
        channel.rpcs.append(rpc)
        if channel.rpcs.count == 1 { sendHeadRPC(of: channel) }
    }

    /// Sends the RPC at the head of `channel`'s queue.
    func sendHeadRPC(of channel: AMQPChannelState) {
        guard let rpc = channel.rpcs.first else { return }
        send(rpc.method, on: channel.number, operation: rpc.operation)
    }

    /// Writes `method` (see `AMQPMethod`); a failed write ends the connection.
    /// Returns whether it was written.
    @discardableResult
    func send(_ method: AMQPMethod, on channel: UInt16, operation: String? = nil) -> Bool {
        let status = method.send(on: channel, through: state)
        guard status == AMQP_STATUS_OK.rawValue else {
            failWrite(status, operation: operation ?? method.operation)
            return false
        }
        return true
    }

    /// A write failed: the socket is gone, so is the connection.
    func failWrite(_ status: Int32, operation: String) {
        terminate(AMQPError(code: .connectionClosed, operation: operation, endpoint: configuration.endpoint,
                            detail: String(cString: amqp_error_string2(status))))
    }

    // MARK: - Errors from rabbitmq-c replies

    /// Converts a failed rabbitmq-c RPC reply into an error; nil when it succeeded.
    func error(from reply: amqp_rpc_reply_t, operation: String) -> AMQPError? {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return nil
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == AMQPMethodID.connectionClose, let decoded = reply.reply.decoded {
                let close = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return AMQPError(code: .connectionClosed, operation: operation, replyCode: close.reply_code, replyText: CDecode.string(close.reply_text))
            }
            if reply.reply.id == AMQPMethodID.channelClose, let decoded = reply.reply.decoded {
                let close = decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return AMQPError(code: .channelClosed, operation: operation, replyCode: close.reply_code, replyText: CDecode.string(close.reply_text))
            }
            return AMQPError(code: .library, operation: operation, detail: "unexpected broker reply \(reply.reply.id)")
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            return AMQPError(code: .library, operation: operation, detail: String(cString: amqp_error_string2(reply.library_error)))
        default:
            return AMQPError(code: .connectionClosed, operation: operation, detail: "the broker closed the connection")
        }
    }
}

extension timeval {
    init(milliseconds: Int) {
        self.init(tv_sec: milliseconds / 1_000, tv_usec: (milliseconds % 1_000) * 1_000)
    }
}
