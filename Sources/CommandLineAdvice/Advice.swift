import Broker
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// What a person running `enqueue` or `worker` can do about an error.
///
/// The Broker library's errors say what went wrong, with a code and context
/// (endpoint, OS error, server reply), and nothing more: only these programs
/// know their flags, their environment variables and the repository's
/// scripts. So the advice is added here, from the code and context:
///
///     cannot connect to RabbitMQ at 127.0.0.1:5672: connection refused — is it running? try scripts/services up
public enum Advice {
    /// The error's one-line description, followed by advice when there is some.
    public static func line(for error: any Error) -> String {
        let text = "\(error)"
        guard let advice = advice(for: error) else { return text }
        return "\(text) — \(advice)"
    }

    /// The advice alone, or nil when there is nothing useful to add.
    public static func advice(for error: any Error) -> String? {
        switch error {
        case let error as AMQPError: advice(for: error)
        case let error as RedisError: advice(for: error)
        case let error as WorkerConfigurationError: advice(for: error)
        case let error as AskTimedOut: "is a worker hosting '\(error.address.type)' running? try enqueue status"
        default: nil
        }
    }

    static func advice(for error: AMQPError) -> String? {
        switch error.code {
        case .connectFailed where error.endpoint?.contains(",") == true:
            // Every node of a cluster failed (AMQPConnection.connect).
            error.osError == ECONNREFUSED ? "are the nodes running? try scripts/services up --cluster"
                : "check the hosts and ports in \(amqpURL), and that the nodes are running (scripts/services up --cluster)"
        case .connectFailed: afterConnectFailure(osError: error.osError, url: amqpURL)
        case .accessRefused: "check the user, password and vhost in \(amqpURL)"
        case .tlsFailed: "check cacertfile (the CA that signed the broker's certificate, which must name the host you connect to), and certfile/keyfile if the broker wants a client certificate, in \(amqpURL)"
        default: nil
        }
    }

    static func advice(for error: RedisError) -> String? {
        switch error.code {
        case .connectFailed: afterConnectFailure(osError: error.osError, url: redisURL)
        case .authenticationFailed: "check the user, password and database in \(redisURL)"
        case .connectionLost: "is it still running? try scripts/services up"
        case .timedOut: "is Redis frozen or overloaded? if its commands are slow by design, raise command_timeout in \(redisURL)"
        default: nil
        }
    }

    static func advice(for error: WorkerConfigurationError) -> String? {
        switch error.code {
        case .partitionCountMismatch(_, let stored, _): "start the worker with --partitions \(stored) (or GREENROOM_PARTITIONS=\(stored))"
        case .partitionCountOutOfRange: "set --partitions (or GREENROOM_PARTITIONS) from 1 to 4096"
        case .leaseTooShort: "set --lease-ttl to at least twice --heartbeat"
        case .noTypes: "name the types to host with --types (or GREENROOM_TYPES)"
        case .actorChangingElsewhere: "is another worker, with another partition count, writing it? compare `enqueue status` with this worker's --partitions"
        case .faultyBehavior: "give each message kind one handler (docs/ACTORS.md); the worker hosts nothing until then"
        case .queueTypeMismatch(_, let existing, let asked):
            "give --queue-type \(existing) (or GREENROOM_QUEUE_TYPE=\(existing)) to use the queues as they are; to make them \(asked), "
                + "stop the fleet once they are empty and delete them (rabbitmqctl delete_queue NAME), docs/SCALING.md \"RabbitMQ cluster\""
        case .redisNotDurable: "run Redis with appendonly yes and appendfsync everysec (redis-cli CONFIG SET appendonly yes, and in redis.conf; scripts/services does), or drop --require-durable-redis"
        }
    }

    private static let amqpURL = "--amqp-url (or GREENROOM_AMQP_URL)"
    private static let redisURL = "--redis-url (or GREENROOM_REDIS_URL)"

    private static func afterConnectFailure(osError: Int32?, url: String) -> String {
        switch osError {
        case ECONNREFUSED: "is it running? try scripts/services up"
        case ETIMEDOUT, EHOSTUNREACH, ENETUNREACH: "is the host reachable? check the host and port in \(url)"
        default: "check the host and port in \(url), and that it is running (scripts/services up)"
        }
    }
}
