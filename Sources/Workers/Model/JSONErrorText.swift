import Foundation

/// Short, readable descriptions of Foundation's JSON decoding errors, naming
/// the field and what was expected: `'by' is not Int`, `missing field 'to'`,
/// `'to' is invalid: invalid actor address …`.
enum JSONErrorText {
    /// Why `document` did not decode, as `error` says.
    static func describe(_ error: any Error, in document: [UInt8]) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context): "missing field '\(key.stringValue)'\(within(context))"
        case DecodingError.typeMismatch(let type, let context): "\(path(context)) is not \(name(type))"
        case DecodingError.valueNotFound(let type, let context): "\(path(context)) is null, expected \(name(type))"
        case DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty:
            JSONValidator.isValid(document) ? misfit(in: document) : "not valid JSON"
        case DecodingError.dataCorrupted(let context): "\(path(context)) is invalid: \(context.debugDescription)"
        default: "\(error)"
        }
    }

    /// Foundation reports a number that its field cannot hold (1.5 or 1e30
    /// for an `Int`) as invalid JSON, without a path. Name the numbers that
    /// no integer can hold, where the document has any.
    private static func misfit(in document: [UInt8]) -> String {
        guard let value = try? JSONDecoder().decode(AnyJSON.self, from: Data(document)) else { return "not valid JSON" }
        let suspects = fractions(in: value, at: [])
        let named = suspects.prefix(3).map { "\($0.path) is \($0.number)" }.joined(separator: ", ")
        return "a number does not fit its field (a fraction or a number out of range for an integer)" + (named.isEmpty ? "" : ": \(named)")
    }

    private static func fractions(in value: AnyJSON, at path: [String]) -> [(path: String, number: Double)] {
        switch value {
        case .number(let number): [(path.isEmpty ? "the value" : "'\(path.joined(separator: "."))'", number)]
        case .array(let values): values.enumerated().flatMap { fractions(in: $1, at: path + [String($0)]) }
        case .object(let fields): fields.sorted { $0.key < $1.key }.flatMap { fractions(in: $1, at: path + [$0]) }
        default: []
        }
    }

    /// A type as a sender thinks of it: JSON's words for containers.
    private static func name(_ type: Any.Type) -> String {
        let name = String(describing: type)
        if name.hasPrefix("Dictionary<") { return "an object" }
        if name.hasPrefix("Array<") { return "an array" }
        return name
    }

    /// Where a missing field was missing, when not at the top.
    private static func within(_ context: DecodingError.Context) -> String {
        context.codingPath.isEmpty ? "" : " in \(path(context))"
    }

    private static func path(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        return path.isEmpty ? "the value" : "'\(path)'"
    }
}
