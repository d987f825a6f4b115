/// An actor's address, `TYPE/ID`: the only way to reach an actor.
///
/// - TYPE matches `[a-z][a-z0-9_-]{0,63}` (a registered behaviour name);
/// - ID matches `[A-Za-z0-9._:@-]{1,200}`.
///
/// Anything else is rejected with an `AddressError` that says what is wrong.
public struct ActorAddress: Hashable, Sendable, CustomStringConvertible, Codable {
    public let type: String
    public let id: String

    /// Validates and builds an address from its parts.
    public init(type: String, id: String) throws(AddressError) {
        do {
            try Self.validate(type: type)
        } catch {
            throw AddressError(input: "\(type)/\(id)", problem: error.problem)
        }
        try Self.validate(id: id, address: "\(type)/\(id)")
        self.type = type
        self.id = id
    }

    /// Parses `TYPE/ID`.
    public init(parsing text: String) throws(AddressError) {
        guard let slash = text.firstIndex(of: "/") else {
            throw AddressError(input: text, problem: "an address is TYPE/ID, e.g. counter/42; there is no '/'")
        }
        try self.init(type: String(text[..<slash]), id: String(text[text.index(after: slash)...]))
    }

    public var description: String { "\(type)/\(id)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            // A decoding error, so the message that carried it names the field.
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Checks an actor type name.
    public static func validate(type: String) throws(AddressError) {
        let bytes = Array(type.utf8)
        guard let first = bytes.first else {
            throw AddressError(input: type, problem: "the actor type is empty")
        }
        guard bytes.count <= 64 else {
            throw AddressError(input: type, problem: "the actor type is \(bytes.count) characters long; at most 64 are allowed")
        }
        guard isLowerLetter(first) else {
            throw AddressError(input: type, problem: "the actor type must start with a lowercase letter a-z")
        }
        if let bad = bytes.first(where: { !(isLowerLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")) }) {
            throw AddressError(input: type, problem: "the actor type may hold only a-z, 0-9, '_' and '-', not \(describe(bad, in: type))")
        }
    }

    private static func validate(id: String, address: String) throws(AddressError) {
        let bytes = Array(id.utf8)
        guard !bytes.isEmpty else {
            throw AddressError(input: address, problem: "the actor ID is empty")
        }
        guard bytes.count <= 200 else {
            throw AddressError(input: address, problem: "the actor ID is \(bytes.count) bytes long; at most 200 are allowed")
        }
        let allowed: Set<UInt8> = [UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "-")]
        if let bad = bytes.first(where: { !(isLowerLetter($0) || isUpperLetter($0) || isDigit($0) || allowed.contains($0)) }) {
            throw AddressError(input: address, problem: "the actor ID may hold only A-Z, a-z, 0-9 and . _ : @ -, not \(describe(bad, in: id))")
        }
    }

    private static func isLowerLetter(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) }
    private static func isUpperLetter(_ byte: UInt8) -> Bool { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) }
    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private static func describe(_ byte: UInt8, in text: String) -> String {
        if byte >= 0x21, byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        if byte == 0x20 { return "a space" }
        return byte >= 0x80 ? "non-ASCII characters" : "control character 0x\(String(byte, radix: 16))"
    }
}

/// An address, actor type or actor ID that breaks the naming rules.
public struct AddressError: Error, CustomStringConvertible, Equatable {
    public let input: String
    public let problem: String

    public var description: String { "invalid actor address '\(input)': \(problem)" }
}
