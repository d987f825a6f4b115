/// A Lua script run by its SHA-1 (EVALSHA). `RedisClient.run` loads it into
/// the server only when the server says it does not know it (NOSCRIPT): after a
/// restart or `SCRIPT FLUSH`, the next run reloads it transparently.
public struct RedisScript: Sendable, Hashable {
    public let source: String
    /// The script's SHA-1 in lowercase hex, as Redis names it.
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = SHA1.hexDigest(source.utf8)
    }
}
