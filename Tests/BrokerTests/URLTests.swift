@testable import Broker
import Testing

@Suite("Server URLs", .timeLimit(.minutes(1)))
struct URLTests {
    @Test("the default AMQP URL means guest on 127.0.0.1:5672, vhost /")
    func amqpDefaults() throws {
        let configuration = try AMQPConfiguration(url: AMQPConfiguration.defaultURL)
        #expect(configuration == AMQPConfiguration())
        #expect(configuration.virtualHost == "/")
        #expect(configuration.tls == nil)
    }

    @Test("AMQP user, password and vhost are percent-decoded; options are read")
    func amqpFull() throws {
        let configuration = try AMQPConfiguration(url: "amqp://al%40ice:p%3Ass%2Fw@rabbit.example:5673/prod%2Feu?heartbeat=10&connection_timeout=750&connection_name=me")
        #expect(configuration.user == "al@ice")
        #expect(configuration.password == "p:ss/w")
        #expect(configuration.host == "rabbit.example")
        #expect(configuration.port == 5673)
        #expect(configuration.virtualHost == "prod/eu")
        #expect(configuration.heartbeatSeconds == 10)
        #expect(configuration.connectTimeoutMilliseconds == 750)
        #expect(configuration.connectionName == "me")
    }

    @Test("amqps defaults to 5671 and reads TLS options")
    func amqps() throws {
        let configuration = try AMQPConfiguration(url: "amqps://u:p@[::1]/?cacertfile=/etc/ca.pem&verify=verify_none")
        #expect(configuration.port == 5671)
        #expect(configuration.host == "::1")
        #expect(configuration.endpoint == "[::1]:5671")
        #expect(configuration.tls == AMQPConfiguration.TLS(caCertificatePath: "/etc/ca.pem", verifyPeer: false))
        #expect(throws: URLFormatError.self) { try AMQPConfiguration(url: "amqp://h/?cacertfile=/x") }
        #expect(throws: URLFormatError.self) { try AMQPConfiguration(url: "amqps://h/?certfile=/x") }
        #expect(throws: URLFormatError.self) { try AMQPConfiguration(url: "amqp://h/?bogus=1") }
    }

    @Test("Redis URLs: password, user, database, defaults")
    func redis() throws {
        #expect(try RedisConfiguration(url: RedisConfiguration.defaultURL) == RedisConfiguration())
        let withPassword = try RedisConfiguration(url: "redis://:s%23cret@cache:6380/3")
        #expect(withPassword.password == "s#cret")
        #expect(withPassword.user == nil)
        #expect(withPassword.host == "cache")
        #expect(withPassword.port == 6380)
        #expect(withPassword.database == 3)
        let withUser = try RedisConfiguration(url: "redis://app:pw@cache?connect_timeout=200")
        #expect(withUser.user == "app")
        #expect(withUser.password == "pw")
        #expect(withUser.port == 6379)
        #expect(withUser.connectTimeoutMilliseconds == 200)
    }

    @Test("errors never show the password")
    func masking() {
        do {
            _ = try AMQPConfiguration(url: "amqp://user:hunter2@host:notaport/")
            Issue.record("accepted")
        } catch {
            #expect(!error.description.contains("hunter2"))
            #expect(error.description.contains("user:***@host"))
        }
    }
}
