import CRedis
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The half of a Redis client that lives on its own thread.
///
/// Threading model: hiredis's blocking context is not thread-safe, so one
/// dedicated OS thread owns it. Tasks hand commands to that thread through a
/// `JobQueue`; the thread takes *every* command waiting, writes them all in one
/// go (`redisAppendCommandArgv` into the output buffer, flushed by the first
/// `redisGetReply`), then reads the replies in order and resumes each caller.
/// Commands that arrive while a batch is in flight form the next batch: that
/// is automatic pipelining — many concurrent tasks share one connection and
/// pay one round trip per batch, not per command.
///
/// If the connection breaks, the commands in flight fail with
/// `.connectionLost` (they may or may not have run) and the next command
/// reconnects, authenticates and selects the database again. If the server
/// sends nothing for `commandTimeoutMilliseconds` (hiredis's socket timeout:
/// a frozen server, dropped packets), they fail with `.timedOut` and the
/// connection is dropped the same way.
final class RedisConnectionCore {
    enum Job: Sendable {
        case command(arguments: [[UInt8]], continuation: CheckedContinuation<RedisValue, any Error>)
        case pipeline(commands: [[[UInt8]]], continuation: CheckedContinuation<[Result<RedisValue, RedisError>], any Error>)
        case close(CheckedContinuation<Void, Never>)
    }

    let configuration: RedisConfiguration
    let logger: Logger
    /// In a cluster, the replica acknowledgement a batch of writes waits for.
    let replicaWait: RedisReplicaWait?
    private var context: UnsafeMutablePointer<redisContext>?
    private var closed = false
    /// The socket timeout set on the connection now, for messages (ms; 0: none).
    private var timeoutInForce = 0
    /// Commands are written in batches of at most this many.
    private let maximumBatch = 4_096

    init(configuration: RedisConfiguration, logger: Logger, replicaWait: RedisReplicaWait? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.replicaWait = replicaWait
    }

    deinit {
        if let context { redisFree(context) }
    }

    /// Connects if not connected; returns the error that stopped it.
    ///
    /// The socket is opened by `TCPConnect` (a deadline, and the OS error
    /// number on failure) and handed to hiredis in blocking mode.
    func connectIfNeeded() -> RedisError? {
        if let context, credis_err(context) == 0 { return nil }
        disconnect()
        let endpoint = configuration.endpoint
        let descriptor: Int32
        switch TCPConnect.open(host: configuration.host, port: configuration.port, timeoutMilliseconds: configuration.connectTimeoutMilliseconds) {
        case .success(let opened): descriptor = opened
        case .failure(let problem):
            return RedisError(code: .connectFailed, command: "connect", message: problem.reason, endpoint: endpoint, osError: problem.osError)
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        guard let fresh = redisConnectFd(descriptor) else {
            close(descriptor)
            return RedisError(code: .connectFailed, command: "connect", message: "out of memory", endpoint: endpoint)
        }
        _ = redisEnableKeepAlive(fresh)
        // A command that gets no answer for the command timeout fails
        // (`timedOut`) instead of waiting forever on a frozen server; the
        // handshake's commands too. Without one (0), the connect timeout
        // bounds the handshake and commands then wait as long as they need.
        let commandTimeout = configuration.commandTimeoutMilliseconds
        timeoutInForce = commandTimeout > 0 ? commandTimeout : configuration.connectTimeoutMilliseconds
        _ = redisSetTimeout(fresh, timeval(milliseconds: timeoutInForce))
        context = fresh

        var handshake: [[[UInt8]]] = []
        if let password = configuration.password {
            handshake.append(["AUTH".redisBytes] + (configuration.user.map { [$0.redisBytes] } ?? []) + [password.redisBytes])
        }
        if configuration.database != 0 {
            handshake.append(["SELECT".redisBytes, configuration.database.redisBytes])
        }
        // Nothing to send: a PING still finds out now, not at the first
        // command, that a server wants a password (NOAUTH).
        let probing = handshake.isEmpty
        if probing { handshake.append(["PING".redisBytes]) }
        for command in handshake {
            switch execute([command])[0] {
            case .success: continue
            case .failure(let error) where probing && error.code == .server && error.serverErrorKind != "NOAUTH":
                // Any other error reply (LOADING, …) is the first command's business.
                continue
            case .failure(var error):
                disconnect()
                if error.code == .server { error.code = .authenticationFailed }
                return error
            }
        }
        if commandTimeout == 0 {
            timeoutInForce = 0
            _ = redisSetTimeout(fresh, timeval(tv_sec: 0, tv_usec: 0))
        }
        return nil
    }

    private func disconnect() {
        if let context { redisFree(context) }
        context = nil
    }

    /// Runs the loop until `close`. Returns when the client is closed.
    func run(jobs: JobQueue<Job>) {
        while !closed {
            let batch = jobs.drain()
            if batch.isEmpty {
                jobs.wait(timeoutMilliseconds: -1)
                continue
            }
            var commands: [(arguments: [[UInt8]], complete: (Result<RedisValue, RedisError>) -> Void)] = []
            for job in batch {
                switch job {
                case .command(let arguments, let continuation):
                    commands.append((arguments, { continuation.resume(with: $0.mapError { $0 as any Error }) }))
                case .pipeline(let pipelined, let continuation):
                    let results = ResultGatherer(count: pipelined.count, continuation: continuation)
                    for (index, arguments) in pipelined.enumerated() {
                        commands.append((arguments, { results.set(index, $0) }))
                    }
                case .close(let continuation):
                    closed = true
                    continuation.resume()
                }
            }
            var start = 0
            while start < commands.count {
                let chunk = commands[start..<min(commands.count, start + maximumBatch)]
                start += chunk.count
                if let error = connectIfNeeded() {
                    for command in chunk { command.complete(.failure(error)) }
                    continue
                }
                let arguments = chunk.map(\.arguments)
                let results: [Result<RedisValue, RedisError>]
                if let replicaWait, replicaWait.isNeeded(after: arguments) {
                    // WAIT written with the batch, so it costs no round trip of
                    // its own; the callers hear back once a replica has it all.
                    var withWait = execute(arguments + [replicaWait.command])
                    replicaWait.record(withWait.removeLast(), endpoint: configuration.endpoint, logger: logger)
                    results = withWait
                } else {
                    results = execute(arguments)
                }
                for (command, result) in zip(chunk, results) {
                    command.complete(result)
                }
            }
        }
        disconnect()
        let closedError = RedisError(code: .closed, command: "command", message: "the Redis client was closed")
        for job in jobs.close() {
            switch job {
            case .command(_, let continuation): continuation.resume(throwing: closedError)
            case .pipeline(_, let continuation): continuation.resume(throwing: closedError)
            case .close(let continuation): continuation.resume()
            }
        }
    }

    /// Writes all `commands`, then reads one reply for each, in order.
    private func execute(_ commands: [[[UInt8]]]) -> [Result<RedisValue, RedisError>] {
        guard let context else {
            return commands.map { .failure(RedisError(code: .connectionLost, command: Self.name(of: $0), message: "not connected", endpoint: configuration.endpoint)) }
        }
        for arguments in commands {
            appendCommand(arguments, to: context)
        }
        var results: [Result<RedisValue, RedisError>] = []
        results.reserveCapacity(commands.count)
        for arguments in commands {
            if credis_err(context) != 0 {
                results.append(.failure(lostError(context, arguments)))
                continue
            }
            var raw: UnsafeMutableRawPointer?
            if redisGetReply(context, &raw) != REDIS_OK || raw == nil {
                results.append(.failure(lostError(context, arguments)))
                continue
            }
            let reply = raw!.assumingMemoryBound(to: redisReply.self)
            defer { freeReplyObject(raw) }
            if reply.pointee.type == REDIS_REPLY_ERROR {
                results.append(.failure(RedisError(code: .server, command: Self.name(of: arguments), message: Self.text(reply.pointee),
                                                   endpoint: configuration.endpoint)))
            } else {
                results.append(.success(Self.decode(reply.pointee)))
            }
        }
        if credis_err(context) != 0 {
            logger.warning("Redis connection lost; the next command reconnects",
                           metadata: ["endpoint": "\(configuration.endpoint)", "error": "\(lostError(context, commands.last ?? []))"])
            disconnect()
        }
        return results
    }

    private func lostError(_ context: UnsafeMutablePointer<redisContext>, _ arguments: [[UInt8]]) -> RedisError {
        let reason = String(cString: credis_errstr(context))
        // A socket timeout (SO_RCVTIMEO/SO_SNDTIMEO) is an I/O error whose text is EAGAIN's.
        if credis_err(context) == REDIS_ERR_IO, reason == Self.timeoutReason {
            return RedisError(code: .timedOut, command: Self.name(of: arguments),
                              message: "within \(timeoutInForce) ms", endpoint: configuration.endpoint, osError: ETIMEDOUT)
        }
        return RedisError(code: .connectionLost, command: Self.name(of: arguments), message: reason, endpoint: configuration.endpoint)
    }

    /// What hiredis says when a socket timeout expires.
    private static let timeoutReason = String(cString: strerror(EAGAIN))

    /// Appends one command to hiredis's output buffer, binary-safe.
    private func appendCommand(_ arguments: [[UInt8]], to context: UnsafeMutablePointer<redisContext>) {
        var flat: [UInt8] = []
        flat.reserveCapacity(arguments.reduce(0) { $0 + $1.count })
        var lengths: [Int] = []
        lengths.reserveCapacity(arguments.count)
        for argument in arguments {
            flat.append(contentsOf: argument)
            lengths.append(argument.count)
        }
        flat.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }
            var pointers: [UnsafePointer<CChar>?] = []
            pointers.reserveCapacity(arguments.count)
            var offset = 0
            for length in lengths {
                // A zero-length argument still needs a valid pointer.
                pointers.append(base.map { $0 + offset } ?? UnsafePointer(bitPattern: 1))
                offset += length
            }
            _ = redisAppendCommandArgv(context, Int32(arguments.count), &pointers, lengths)
        }
    }

    static func name(of arguments: [[UInt8]]) -> String {
        arguments.first.map { String(decoding: $0, as: UTF8.self).uppercased() } ?? "?"
    }

    private static func text(_ reply: redisReply) -> String {
        guard let str = reply.str, reply.len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: str, count: Int(reply.len)), as: UTF8.self)
    }

    private static func decode(_ reply: redisReply) -> RedisValue {
        switch reply.type {
        case REDIS_REPLY_STATUS:
            return .status(text(reply))
        case REDIS_REPLY_STRING:
            guard let str = reply.str, reply.len > 0 else { return .bulk([]) }
            return .bulk(Array(UnsafeRawBufferPointer(start: str, count: Int(reply.len))))
        case REDIS_REPLY_INTEGER:
            return .integer(reply.integer)
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_ERROR:
            return .error(text(reply))
        case REDIS_REPLY_ARRAY:
            guard let elements = reply.element else { return .array([]) }
            return .array((0..<Int(reply.elements)).map { index in
                elements[index].map { decode($0.pointee) } ?? .null
            })
        default:
            return .null
        }
    }
}
