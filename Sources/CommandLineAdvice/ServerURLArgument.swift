import ArgumentParser
import Broker

/// A server URL from a flag or the environment (`--amqp-url`, `--redis-url`).
///
/// It is shown — as the default in `--help`, in `--experimental-dump-help`,
/// anywhere it is printed — with its password masked (`Redaction.url`): the
/// default often comes from `GREENROOM_AMQP_URL`, which holds the real one.
public struct ServerURLArgument: ExpressibleByArgument, CustomStringConvertible, Sendable {
    /// The URL as given, password included: for connecting, never for printing.
    public let text: String

    public init(_ text: String) { self.text = text }

    public init?(argument: String) { text = argument }

    public var description: String { Redaction.url(text) }

    public var defaultValueDescription: String { Redaction.url(text) }
}
