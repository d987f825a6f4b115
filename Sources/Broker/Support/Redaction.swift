/// Keeps passwords out of everything Greenroom prints: help texts, error
/// lines, logs. A password in a server URL becomes `***`; the user name stays,
/// so a person can still tell which account a URL uses.
public enum Redaction {
    /// `amqp://guest:s3cret@host/` → `amqp://guest:***@host/`.
    ///
    /// The password is everything between the first `:` after the scheme and
    /// the *last* `@`, so a password holding unescaped `@`, `/`, `?` or `:`
    /// is still hidden whole (more may be hidden in such a URL, never less).
    /// Text without an `@` has no credentials and is returned unchanged.
    public static func url(_ text: String) -> String {
        guard let span = passwordSpan(in: text) else { return text }
        return String(text[..<span.lowerBound]) + "***" + String(text[span.upperBound...])
    }

    /// The range of the password in `text`, nil when it has none.
    static func passwordSpan(in text: String) -> Range<String.Index>? {
        let start = text.rangeOfSchemeSeparator()?.upperBound ?? text.startIndex
        guard let at = text[start...].lastIndex(of: "@"),
              let colon = text[start..<at].firstIndex(of: ":") else { return nil }
        return text.index(after: colon)..<at
    }

    /// `problem`, a message about `url`, with every quoted fragment
    /// (`'…'`) that could hold part of the password replaced by `***`: a
    /// fragment stays only if it is the scheme or appears after the
    /// credentials. (A password with an unescaped `/` or `?` is split by the
    /// parser, and the pieces would otherwise be quoted as a port, a path
    /// or an option.)
    static func problem(_ problem: String, about url: String) -> String {
        guard let span = passwordSpan(in: url) else { return problem }
        let visible = url[span.upperBound...]
        let scheme = url.rangeOfSchemeSeparator().map { url[..<$0.lowerBound].lowercased() }
        var result = ""
        var rest = Substring(problem)
        while let open = rest.firstIndex(of: "'"),
              let close = rest[rest.index(after: open)...].firstIndex(of: "'") {
            let fragment = rest[rest.index(after: open)..<close]
            result += rest[...open]
            result += fragment == scheme?[...] || visible.contains(fragment) ? String(fragment) : "***"
            result += "'"
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }
}
