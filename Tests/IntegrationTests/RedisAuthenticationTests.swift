import Broker
import CommandLineAdvice
import Testing

/// RELIABILITY "Secrets and transport security": a Redis with `requirepass`,
/// or with an ACL user, accepts the right password and refuses a wrong (or
/// missing) one at connect time, with `authenticationFailed` and advice.
@Suite("Redis authentication: requirepass and ACL users", .timeLimit(.minutes(2)))
struct RedisAuthenticationTests {
    static let password = "Pw-" + String(UInt32.random(in: 0...UInt32.max), radix: 36)

    /// Connecting with `url` fails with `authenticationFailed`, an error
    /// that says so, advice, and no password in the line.
    static func expectRefused(_ url: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let configuration = try RedisConfiguration(url: url)
        do {
            let client = try await RedisClient.connect(configuration)
            await client.close()
            Issue.record("connected with \(Redaction.url(url))", sourceLocation: sourceLocation)
        } catch let error as RedisError {
            #expect(error.code == .authenticationFailed, "\(error)", sourceLocation: sourceLocation)
            let line = Advice.line(for: error)
            #expect(line.contains("authenticate") || line.contains("refused"), "\(line)", sourceLocation: sourceLocation)
            #expect(line.contains("check the user, password"), "\(line)", sourceLocation: sourceLocation)
            #expect(!line.contains(password), "\(line)", sourceLocation: sourceLocation)
        }
    }

    @Test("requirepass: the right password works; a wrong one, or none, is refused when connecting")
    func requirePass() async throws {
        let redis = try await ScratchRedis.start(password: Self.password)
        defer { redis.stop() }
        let client = try await RedisClient.connect(try RedisConfiguration(url: redis.url(credentials: ":\(Self.password)")))
        #expect(try await client.send("PING").string == "PONG")
        await client.close()
        try await Self.expectRefused(redis.url(credentials: ":wrong-\(Self.password)"))
        try await Self.expectRefused(redis.url())
    }

    @Test("an ACL user (AUTH user password): the right password works, a wrong one is refused")
    func aclUser() async throws {
        let redis = try await ScratchRedis.start(password: Self.password)
        defer { redis.stop() }
        let admin = try await RedisClient.connect(try RedisConfiguration(url: redis.url(credentials: ":\(Self.password)")))
        try await admin.send("ACL", "SETUSER", "app", "on", ">\(Self.password)-app", "~*", "&*", "+@all")
        await admin.close()

        let app = try await RedisClient.connect(try RedisConfiguration(url: redis.url(credentials: "app:\(Self.password)-app")))
        #expect(try await app.send("ACL", "WHOAMI").string == "app")
        try await app.send("SET", "k", "v")
        await app.close()
        try await Self.expectRefused(redis.url(credentials: "app:\(Self.password)"))
        try await Self.expectRefused(redis.url(credentials: "nobody:\(Self.password)-app"))
    }
}
