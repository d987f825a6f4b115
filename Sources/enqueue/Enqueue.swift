import ArgumentParser
import Broker
import CommandLineAdvice
import Logging
import Workers

/// `enqueue`: talk to a Greenroom fleet from the command line.
@main
struct Enqueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send messages to Greenroom actors and inspect the fleet.",
        discussion: """
            Servers are read from --amqp-url / --redis-url, else from GREENROOM_AMQP_URL / \
            GREENROOM_REDIS_URL, else the local defaults that scripts/services starts.
            """,
        subcommands: [Send.self, Ask.self, Spawn.self, State.self, Stop.self, Find.self, Status.self, Dashboard.self, Dead.self, Reminders.self, Doctor.self, Bench.self, ResetAfterDataLoss.self]
    )

    /// One line per error, with advice (see `Advice`), and a non-zero exit.
    static func main() async { await mainWithAdvice() }
}

/// Server options shared by every subcommand.
struct ServerOptions: ParsableArguments {
    // The URLs print with their passwords masked (see ServerURLArgument).
    @Option(name: .customLong("amqp-url"), help: .init("RabbitMQ URL (env GREENROOM_AMQP_URL).", valueName: "url"))
    var amqpURLArgument = ServerURLArgument(ProcessEnvironment.value("GREENROOM_AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672/%2F")
    var amqpURL: String { amqpURLArgument.text }

    @Option(name: .customLong("redis-url"), help: .init("Redis URL (env GREENROOM_REDIS_URL).", valueName: "url"))
    var redisURLArgument = ServerURLArgument(ProcessEnvironment.value("GREENROOM_REDIS_URL") ?? "redis://127.0.0.1:6379/0")
    var redisURL: String { redisURLArgument.text }

    @Option(name: .customLong("queue-type"), help: .init(
        "Type of the queues this command creates (greenroom.dead, a bench's): classic or quorum; default quorum when --amqp-url names several nodes, else classic (env GREENROOM_QUEUE_TYPE).",
        valueName: "type"))
    var queueTypeFlag: QueueType?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .warning

    @Option(name: .customLong("log-format"), help: "text, or json: one object per line (env GREENROOM_LOG_FORMAT).")
    var logFormat: String = ProcessEnvironment.value(LogFormat.environmentVariable) ?? "text"

    func validate() throws {
        if queueTypeFlag == nil, let text = ProcessEnvironment.value("GREENROOM_QUEUE_TYPE"), QueueType(rawValue: text) == nil {
            throw ValidationError("GREENROOM_QUEUE_TYPE must be classic or quorum, not '\(text)'")
        }
        _ = try LogFormat(naming: logFormat, from: "--log-format (or \(LogFormat.environmentVariable))")
    }

    /// `--queue-type`, else GREENROOM_QUEUE_TYPE, else the default for `amqp`.
    func queueType(for amqp: AMQPConfiguration) -> QueueType {
        queueTypeFlag ?? ProcessEnvironment.value("GREENROOM_QUEUE_TYPE").flatMap(QueueType.init(rawValue:)) ?? .default(for: amqp)
    }

    /// The logger of a subcommand, at `--log-level`, in `--log-format`.
    func logger(label: String = "greenroom.enqueue") -> Logger {
        let format = LogFormat(rawValue: logFormat) ?? .text
        return Logger(label: label) { label in format.handler(label: label, level: logLevel) }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension QueueType: ExpressibleByArgument {}
