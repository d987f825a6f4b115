import CAMQP

/// The paths every `AMQPChannel` call takes to the connection thread: one for
/// synchronous methods (send, wait for the reply), one for methods written
/// without a reply. What goes on the wire is `AMQPMethod`'s business.
extension AMQPChannel {
    /// Runs `body` on the connection thread with this channel's state; `body`
    /// must resume the continuation once. Fails with the reason instead when
    /// the channel or the connection can no longer be used.
    func onChannel<T: Sendable>(
        _ operation: String,
        _ body: @escaping @Sendable (AMQPConnectionCore, AMQPChannelState, CheckedContinuation<T, any Error>) -> Void
    ) async throws -> T {
        let (number, ended) = (number, ended)
        return try await connection.perform(operation) { core, continuation in
            switch core.channel(number, ended, for: operation) {
            case .failure(let error): continuation.resume(throwing: error)
            case .success(let channel): body(core, channel, continuation)
            }
        }
    }

    /// Sends a synchronous method and waits for its reply (one RPC is on the
    /// wire per channel; later ones queue behind it).
    ///
    /// `prepare` runs first on the connection thread and returns the method
    /// to send, or throws to send nothing. `complete` runs there with the
    /// reply, while its memory is valid, or with the error that ended the
    /// wait; what it returns or throws is the call's result.
    func rpc<T: Sendable>(
        _ operation: String,
        prepare: @escaping @Sendable (AMQPChannelState) throws(AMQPError) -> AMQPMethod,
        complete: @escaping @Sendable (AMQPChannelState, Result<amqp_method_t, AMQPError>) throws(AMQPError) -> T
    ) async throws -> T {
        try await onChannel(operation) { core, channel, continuation in
            let method: AMQPMethod
            do {
                method = try prepare(channel)
            } catch {
                continuation.resume(throwing: error)
                return
            }
            core.enqueueRPC(.init(method, operation: operation) { reply in
                continuation.resume(with: Result { () throws(AMQPError) in try complete(channel, reply) })
            }, on: channel)
        }
    }

    /// Sends `method` and returns what `read` takes from its reply.
    func rpc<T: Sendable>(_ method: AMQPMethod, reading read: @escaping @Sendable (amqp_method_t) -> T) async throws -> T {
        try await rpc(method.operation, prepare: { _ in method }, complete: { _, reply throws(AMQPError) in try read(reply.get()) })
    }

    /// Sends `method` and waits for its reply; `then` updates the channel's
    /// state when it arrives.
    func rpc(_ method: AMQPMethod, then update: @escaping @Sendable (AMQPChannelState) -> Void = { _ in }) async throws {
        try await rpc(method.operation, prepare: { _ in method }, complete: { channel, reply throws(AMQPError) in
            _ = try reply.get()
            update(channel)
        })
    }

    /// Writes a method that has no reply; returns once it is written.
    func send(_ method: AMQPMethod) async throws {
        let number = number
        try await onChannel(method.operation) { (core, _, continuation: CheckedContinuation<Void, any Error>) in
            if core.send(method, on: number) {
                continuation.resume()
            } else {
                continuation.resume(throwing: core.terminalError ?? AMQPError(code: .connectionClosed, operation: method.operation))
            }
        }
    }
}
