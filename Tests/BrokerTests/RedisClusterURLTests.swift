@testable import Broker
import Testing

@Suite("Redis Cluster URLs", .timeLimit(.minutes(1)))
struct RedisClusterURLTests {
    @Test("redis+cluster:// names seeds; host and port are the first; replica_wait defaults on")
    func seeds() throws {
        let configuration = try RedisConfiguration(url: "redis+cluster://127.0.0.1:7001,127.0.0.1:7002,cache:7003")
        #expect(configuration.isCluster)
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 7001)
        #expect(configuration.seeds == [RedisEndpoint(host: "127.0.0.1", port: 7001), RedisEndpoint(host: "127.0.0.1", port: 7002),
                                        RedisEndpoint(host: "cache", port: 7003)])
        #expect(configuration.database == 0)
        #expect(configuration.replicaWaitMilliseconds == RedisConfiguration.defaultReplicaWaitMilliseconds)
        #expect("\(configuration)" == "redis+cluster://127.0.0.1:7001,127.0.0.1:7002,cache:7003/0")
    }

    @Test("credentials, a port left out, IPv6, /0 and options are read as for redis://")
    func options() throws {
        let configuration = try RedisConfiguration(
            url: "redis+cluster://app:s%23cret@node-a,[::1]:7002/0?command_timeout=700&replica_wait=0&connect_timeout=300")
        #expect(configuration.user == "app")
        #expect(configuration.password == "s#cret")
        #expect(configuration.seeds == [RedisEndpoint(host: "node-a", port: 6379), RedisEndpoint(host: "::1", port: 7002)])
        #expect(configuration.commandTimeoutMilliseconds == 700)
        #expect(configuration.connectTimeoutMilliseconds == 300)
        #expect(configuration.replicaWaitMilliseconds == 0)
        #expect("\(configuration)" == "redis+cluster://app:***@node-a:6379,[::1]:7002/0")
        #expect(!"\(configuration)".contains("s#cret"))
    }

    @Test("a plain redis:// URL is not a cluster and refuses replica_wait")
    func single() throws {
        let configuration = try RedisConfiguration(url: "redis://127.0.0.1:6379/2")
        #expect(!configuration.isCluster)
        #expect(configuration.seeds == [RedisEndpoint(host: "127.0.0.1", port: 6379)])
        #expect(configuration.replicaWaitMilliseconds == 0)
        let error = try #require(throws: URLFormatError.self) { try RedisConfiguration(url: "redis://h/0?replica_wait=5") }
        #expect(error.problem.contains("redis+cluster"))
        // Several hosts in a redis:// URL: refused, not the first used alone.
        let several = try #require(throws: URLFormatError.self) { try RedisConfiguration(url: "redis://a:7001,b/0") }
        #expect(several.problem.contains("redis+cluster://a:7001,b:6379"), "\(several.problem)")
    }

    @Test("errors say what is wrong, quote the URL as given and never the password")
    func errors() {
        let cases: [(String, String)] = [
            ("redis+cluster://:hunter2@h:7001,h:7002/3", "only database 0"),
            ("redis+cluster://:hunter2@h:7001,,h:7002", "empty seed"),
            ("redis+cluster://:hunter2@h:7001,h:notaport", "seed 'h:notaport'"),
            ("redis+cluster://:hunter2@/0", "no seeds"),
            ("redis+cluster://:hunter2@h:7001?replica_wait=soon", "replica_wait must be"),
            ("redis+cluster://:hunter2@h:7001?bogus=1", "unknown option 'bogus'"),
            ("redis+cluster://:hunter2@h:7001?command_timeout=500", "replica_wait (1000 ms) must be below command_timeout (500 ms)"),
            ("redis+cluster://:hunter2@h:7001?replica_wait=2000", "must be below command_timeout (2000 ms)"),
        ]
        for (url, problem) in cases {
            do {
                let configuration = try RedisConfiguration(url: url)
                Issue.record("accepted \(url): \(configuration)")
            } catch {
                #expect(error.problem.contains(problem), "\(url): \(error)")
                #expect(error.url.hasPrefix("redis+cluster://:***@"), "\(url): \(error)")
                #expect(!error.description.contains("hunter2"))
            }
        }
    }
}
