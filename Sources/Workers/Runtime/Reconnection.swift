import Broker

/// When a worker reconnects instead of ending: which errors are the
/// servers going away (worth waiting out), and how long to wait between
/// attempts.
enum Reconnection {
    /// Whether `error` means RabbitMQ or Redis went away or is not back yet
    /// — a closed or refused connection, a channel the broker closed, Redis
    /// still loading its data — rather than something reconnecting cannot
    /// fix (a refused login or permission, a configuration mismatch).
    static func isInfrastructureFailure(_ error: any Error) -> Bool {
        switch error {
        case let amqp as AMQPError:
            switch amqp.code {
            case .connectFailed, .connectionClosed, .consumerCancelled:
                return true
            case .channelClosed:
                return amqp.replyCode != 403  // ACCESS_REFUSED: a permission is missing; waiting will not grant it
            default:
                return false
            }
        case let redis as RedisError:
            switch redis.code {
            case .connectFailed, .connectionLost, .closed:
                return true
            case .server:
                // LOADING: restarted, reading its append-only file. The others:
                // a Redis Cluster between a master's failure and its replica's
                // promotion, for longer than the client's own retries.
                return ["LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN"].contains(redis.serverErrorKind ?? "")
            default:
                return false
            }
        default:
            return false
        }
    }

    /// The pause before reconnect attempt `attempt` (0 first): 100 ms
    /// doubling to at most 10 s, each drawn at random from its upper half,
    /// so a fleet that lost its broker at once does not come back at once.
    static func delay<R: RandomNumberGenerator>(beforeAttempt attempt: Int, using random: inout R) -> Duration {
        let ceiling = min(10_000, 100 << min(attempt, 7))
        return .milliseconds(Int.random(in: (ceiling / 2)...ceiling, using: &random))
    }
}
