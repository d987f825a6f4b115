/// An AMQP field table: message headers and queue/exchange arguments.
public typealias AMQPTable = [String: AMQPFieldValue]

/// One value in an AMQP field table.
public indirect enum AMQPFieldValue: Sendable, Equatable, Hashable {
    case bool(Bool)
    case int8(Int8)
    case int16(Int16)
    case int32(Int32)
    case int64(Int64)
    case uint8(UInt8)
    case uint16(UInt16)
    case uint32(UInt32)
    case float(Float)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    /// Seconds since the Unix epoch.
    case timestamp(UInt64)
    case array([AMQPFieldValue])
    case table(AMQPTable)
    case void

    /// The value as a string, when it holds text (strings, or UTF-8 bytes).
    public var stringValue: String? {
        switch self {
        case .string(let text): text
        case .bytes(let bytes): String(validating: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// The value as an integer, when it holds any integer kind.
    public var intValue: Int64? {
        switch self {
        case .int8(let v): Int64(v)
        case .int16(let v): Int64(v)
        case .int32(let v): Int64(v)
        case .int64(let v): v
        case .uint8(let v): Int64(v)
        case .uint16(let v): Int64(v)
        case .uint32(let v): Int64(v)
        case .timestamp(let v): Int64(exactly: v)
        default: nil
        }
    }
}

extension AMQPFieldValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// Integer literals become `long` (int32) when they fit, RabbitMQ's usual
    /// type for arguments such as `x-max-length`, and int64 otherwise.
    public init(integerLiteral value: Int64) {
        self = Int32(exactly: value).map { .int32($0) } ?? .int64(value)
    }
}
