/// The parts of a server URL of the form
/// `scheme://[user[:password]@]host[:port][,host[:port]…][/path][?name=value&…]`.
///
/// User, password and path are percent-decoded. This is deliberately small:
/// AMQP and Redis URLs are all Greenroom parses, and each has its own rules on
/// top (see `AMQPConfiguration` and `RedisConfiguration`).
struct ServerURL: Equatable {
    var scheme: String
    var user: String?
    var password: String?
    /// The first host and its port (nil when the URL gives none).
    var host: String
    var port: Int?
    /// Every host, in the URL's order: `host:port,host:port,…` names the
    /// nodes of a cluster. The first is `host` and `port`.
    var hosts: [Endpoint]
    /// The path without its leading slash, percent-decoded; nil when absent.
    var path: String?
    var query: [String: String]

    /// One `host[:port]` of the URL.
    struct Endpoint: Equatable {
        var host: String
        var port: Int?
    }

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

        // One host or several, separated by commas (a cluster's nodes).
        guard !rest.isEmpty else {
            throw URLFormatError(url: text, problem: "missing host")
        }
        let pieces = rest.split(separator: ",", omittingEmptySubsequences: false)
        if pieces.count > 1, let empty = pieces.firstIndex(where: \.isEmpty) {
            throw URLFormatError(url: text, problem: "empty host in the host list '\(rest)' (host \(empty + 1) of \(pieces.count)): "
                                 + "separate hosts with single commas, nothing before the first or after the last")
        }
        hosts = try pieces.map { piece throws(URLFormatError) in try Self.endpoint(piece, in: text, among: pieces.count) }
        host = hosts[0].host
        port = hosts[0].port
    }

    /// Parses `host[:port]` (a bracketed IPv6 literal for the host); an error
    /// names the host when it is one of several.
    private static func endpoint(_ piece: Substring, in text: String, among count: Int) throws(URLFormatError) -> Endpoint {
        let which = count > 1 ? " in '\(piece)'" : ""
        var hostPart = piece
        var portPart: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else {
                throw URLFormatError(url: text, problem: "unclosed '[' in IPv6 host\(which)")
            }
            let after = hostPart[hostPart.index(after: close)...]
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
            if after.hasPrefix(":") { portPart = after.dropFirst() } else if !after.isEmpty {
                throw URLFormatError(url: text, problem: "unexpected '\(after)' after IPv6 host\(which)")
            }
        } else if let colon = hostPart.lastIndex(of: ":") {
            portPart = hostPart[hostPart.index(after: colon)...]
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else {
            throw URLFormatError(url: text, problem: "missing host\(which)")
        }
        var port: Int?
        if let portPart {
            guard let number = Int(portPart), (1...65535).contains(number) else {
                throw URLFormatError(url: text, problem: "port '\(portPart)'\(which) is not a number from 1 to 65535")
            }
            port = number
        }
        return Endpoint(host: String(hostPart), port: port)
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
