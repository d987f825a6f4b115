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

    /// `problem`, a message about `url`, unless it could quote part of the
    /// password. The parser splits a URL at the first `?` and `/` and takes
    /// the credentials up to the last `@` before them; `url(_:)` masks up to
    /// the last `@` of all. They agree unless a `/` or `?` comes before that
    /// `@` — an unescaped one in the user name or password — and then the
    /// parser's pieces (quoted as a port, a path, an option) may hold part
    /// of the password, so the problem is replaced by what is wrong.
    static func problem(_ problem: String, about url: String) -> String {
        guard let span = passwordSpan(in: url) else { return problem }
        let start = url.rangeOfSchemeSeparator()?.upperBound ?? url.startIndex
        guard url[start..<span.upperBound].contains(where: { $0 == "/" || $0 == "?" }) else { return problem }
        return "a '/' or '?' before the last '@': percent-encode '/', '?' and '@' in a user name or password (%2F, %3F, %40)"
    }
}
