import ArgumentParser
import Foundation
import Logging

/// How `worker` and `enqueue` write their logs (`--log-format`,
/// `GREENROOM_LOG_FORMAT`; docs/OPERATIONS.md, "Logs"): `text`, one line
/// as swift-log's stream handler writes it, or `json`, one JSON object per
/// line (`JSONLogHandler`). Both go to standard error.
public enum LogFormat: String, CaseIterable, ExpressibleByArgument, Sendable {
    case text, json

    /// The environment variable that sets it when the flag is not given.
    public static let environmentVariable = "GREENROOM_LOG_FORMAT"

    /// Reads a format's name; the error lists the ones there are.
    public init(naming name: String, from source: String) throws {
        guard let format = LogFormat(rawValue: name) else {
            throw ValidationError("\(source) must be text or json, not '\(name)'")
        }
        self = format
    }

    /// A handler writing `label`'s logs at `level` and above to standard error.
    public func handler(label: String, level: Logger.Level) -> any LogHandler {
        switch self {
        case .text:
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        case .json:
            return JSONLogHandler(label: label, level: level)
        }
    }
}

/// One JSON object per line on standard error:
/// `{"time":"2026-11-26T03:40:00.123Z","level":"info","label":..,"message":..,"source":..}`
/// plus each metadata key as a field (a nested array or dictionary as JSON),
/// and `error` when the event carries one. A metadata key that is one of
/// those fields is written as `metadata.KEY`, so it never hides them.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    /// The fields every line has, in this order.
    static let fixedFields: Set<String> = ["time", "level", "label", "message", "source", "error"]

    public init(label: String, level: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        FileHandle.standardError.write(Data(line(event, at: Date()).utf8))
    }

    /// The line for `event` at `time`, newline included.
    package func line(_ event: LogEvent, at time: Date) -> String {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let given = event.metadata { fields.merge(given) { _, new in new } }
        var line = "{\"time\":" + Self.quoted(time.formatted(Self.timeFormat))
        line += ",\"level\":" + Self.quoted(event.level.rawValue)
        line += ",\"label\":" + Self.quoted(label)
        line += ",\"message\":" + Self.quoted(event.message.description)
        line += ",\"source\":" + Self.quoted(event.source)
        if let error = event.error { line += ",\"error\":" + Self.quoted("\(error)") }
        for key in fields.keys.sorted() {
            let name = Self.fixedFields.contains(key) ? "metadata." + key : key
            line += "," + Self.quoted(name) + ":" + Self.json(fields[key]!)
        }
        return line + "}\n"
    }

    private static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    private static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): quoted(text)
        case .stringConvertible(let convertible): quoted(convertible.description)
        case .array(let values): "[" + values.map(json).joined(separator: ",") + "]"
        case .dictionary(let entries):
            "{" + entries.keys.sorted().map { quoted($0) + ":" + json(entries[$0]!) }.joined(separator: ",") + "}"
        }
    }

    /// `text` as a JSON string (RFC 8259: quotes, backslashes and control characters escaped).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
