/// The parts of a server URL of the form
/// `scheme://[user[:password]@]host[:port][/path][?name=value&…]`.
///
/// User, password and path are percent-decoded. This is deliberately small:
/// AMQP and Redis URLs are all Greenroom parses, and each has its own rules on
/// top (see `AMQPConfiguration` and `RedisConfiguration`).
struct ServerURL: Equatable {
    var scheme: String
    var user: String?
    var password: String?
    var host: String
    var port: Int?
    /// The path without its leading slash, percent-decoded; nil when absent.
    var path: String?
    var query: [String: String]

    /// Parses `text`, throwing a `URLError` that quotes what was wrong.
    init(_ text: String) throws(URLFormatError) {
        guard let schemeEnd = text.rangeOfSchemeSeparator() else {
            throw URLFormatError(url: text, problem: "missing scheme (expected something like amqp://host or redis://host)")
        }
        scheme = String(text[..<schemeEnd.lowerBound]).lowercased()
        guard !scheme.isEmpty else {
            throw URLFormatError(url: text, problem: "empty scheme")
        }
        var rest = Substring(text[schemeEnd.upperBound...])

        query = [:]
        if let mark = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: mark)...].split(separator: "&") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = try Self.decode(parts[0], in: text)
                query[name] = parts.count > 1 ? try Self.decode(parts[1], in: text) : ""
            }
            rest = rest[..<mark]
        }

        path = nil
        if let slash = rest.firstIndex(of: "/") {
            path = try Self.decode(rest[rest.index(after: slash)...], in: text)
            rest = rest[..<slash]
        }

        user = nil
        password = nil
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            if let colon = credentials.firstIndex(of: ":") {
                user = try Self.decode(credentials[..<colon], in: text, naming: "the user name")
                password = try Self.decode(credentials[credentials.index(after: colon)...], in: text, naming: "the password")
            } else {
                user = try Self.decode(credentials, in: text, naming: "the user name")
            }
            rest = rest[rest.index(after: at)...]
        }

        // Host, possibly a bracketed IPv6 literal, then an optional port.
        var hostPart = rest
        var portPart: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else {
                throw URLFormatError(url: text, problem: "unclosed '[' in IPv6 host")
            }
            let after = hostPart[hostPart.index(after: close)...]
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
            if after.hasPrefix(":") { portPart = after.dropFirst() } else if !after.isEmpty {
                throw URLFormatError(url: text, problem: "unexpected '\(after)' after IPv6 host")
            }
        } else if let colon = hostPart.lastIndex(of: ":") {
            portPart = hostPart[hostPart.index(after: colon)...]
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else {
            throw URLFormatError(url: text, problem: "missing host")
        }
        host = String(hostPart)
        if let portPart {
            guard let number = Int(portPart), (1...65535).contains(number) else {
                throw URLFormatError(url: text, problem: "port '\(portPart)' is not a number from 1 to 65535")
            }
            port = number
        }
    }

    /// Percent-decodes `text`; an error names it as `naming` (so that a
    /// password is never quoted), or quotes it when `naming` is nil.
    private static func decode(_ text: Substring, in url: String, naming: String? = nil) throws(URLFormatError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = utf8.popFirst().flatMap(hexValue), let low = utf8.popFirst().flatMap(hexValue) else {
                throw URLFormatError(url: url, problem: "bad percent-escape in \(naming ?? "'\(text)'")")
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw URLFormatError(url: url, problem: "percent-escapes in \(naming ?? "'\(text)'") are not UTF-8")
        }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A server URL that could not be understood. The password, if any, is
/// masked, in the URL and in the problem (see `Redaction`).
public struct URLFormatError: Error, CustomStringConvertible, Equatable {
    /// The URL as given, with any password replaced by `***`.
    public let url: String
    /// What was wrong with it.
    public let problem: String

    init(url: String, problem: String) {
        self.url = Redaction.url(url)
        self.problem = Redaction.problem(problem, about: url)
    }

    public var description: String { "malformed URL '\(url)': \(problem)" }
}

extension String {
    /// The range of the first `://`, without Foundation's `range(of:)`.
    func rangeOfSchemeSeparator() -> Range<String.Index>? {
        var index = startIndex
        while index < endIndex {
            if self[index...].hasPrefix("://") { return index..<self.index(index, offsetBy: 3) }
            index = self.index(after: index)
        }
        return nil
    }
}
