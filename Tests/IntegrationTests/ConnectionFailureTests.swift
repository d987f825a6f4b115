import Broker
import CommandLineAdvice
import Foundation
import Testing

@Suite("Connection failures fail fast and say why", .timeLimit(.minutes(2)))
struct ConnectionFailureTests {
    /// A local port nobody listens on: bind an ephemeral one, then free it.
    static func closedPort() -> Int { FreePort.pick() }

    @Test("RabbitMQ: a wrong password is refused with ACCESS_REFUSED")
    func amqpWrongPassword() async throws {
        var wrong = try AMQPConfiguration(url: TestServers.amqpURL)
        wrong.password = "definitely-not-the-password"
        let configuration = wrong
        let error = try await within(15, "login refusal") {
            await #expect(throws: AMQPError.self) { _ = try await AMQPConnection.connect(configuration) }
        }
        #expect(error?.code == .accessRefused)
        #expect(error?.endpoint == configuration.endpoint)
        #expect(error?.description.contains("ACCESS_REFUSED") == true)
        #expect(error?.description.contains("cannot log in") == true)
        #expect(error.map { Advice.line(for: $0) }?.hasSuffix(" — check the user, password and vhost in --amqp-url (or GREENROOM_AMQP_URL)") == true)
    }

    @Test("RabbitMQ: a closed port is refused at once, with its code and context; the command lines add the hint")
    func amqpClosedPort() async throws {
        let configuration = AMQPConfiguration(port: Self.closedPort())
        let error = try await within(10, "connection refusal") {
            await #expect(throws: AMQPError.self) { _ = try await AMQPConnection.connect(configuration) }
        }
        #expect(error?.code == .connectFailed)
        #expect(error?.endpoint == "127.0.0.1:\(configuration.port)")
        #expect(error?.osError == ECONNREFUSED)
        #expect(error?.description == "cannot connect to RabbitMQ at 127.0.0.1:\(configuration.port): connection refused")
        #expect(error.map { Advice.line(for: $0) }
            == "cannot connect to RabbitMQ at 127.0.0.1:\(configuration.port): connection refused — is it running? try scripts/services up")
    }

    @Test("RabbitMQ: an unknown vhost is refused")
    func amqpUnknownVhost() async throws {
        var wrong = try AMQPConfiguration(url: TestServers.amqpURL)
        wrong.virtualHost = TestServers.unique("no-such-vhost")
        let configuration = wrong
        let error = try await within(15, "vhost refusal") {
            await #expect(throws: AMQPError.self) { _ = try await AMQPConnection.connect(configuration) }
        }
        #expect(error?.code == .accessRefused)
    }

    @Test("malformed URLs are rejected before any connection, naming the problem")
    func malformedURLs() {
        for (url, fragment) in [
            ("127.0.0.1:5672", "missing scheme"),
            ("http://127.0.0.1", "scheme must be amqp"),
            ("amqp://127.0.0.1:99999/", "port '99999'"),
            ("amqp://127.0.0.1:abc/", "port 'abc'"),
            ("amqp://:5672/", "missing host"),
            ("amqp://guest:gu%zzest@127.0.0.1/", "bad percent-escape"),
            ("amqp://127.0.0.1/?heartbeat=soon", "heartbeat"),
        ] {
            #expect(throws: URLFormatError.self, "\(url)") { try AMQPConfiguration(url: url) }
            do { _ = try AMQPConfiguration(url: url) } catch { #expect(error.description.contains(fragment), "\(url): \(error)") }
        }
        for (url, fragment) in [
            ("redis//127.0.0.1", "missing scheme"),
            ("rediss://127.0.0.1", "TLS is not supported"),
            ("redis://127.0.0.1/zero", "database"),
            ("redis://127.0.0.1:0", "port '0'"),
        ] {
            do {
                _ = try RedisConfiguration(url: url)
                Issue.record("\(url) was accepted")
            } catch { #expect(error.description.contains(fragment), "\(url): \(error)") }
        }
    }

    @Test("Redis: a closed port is refused at once, with its code and context; the command lines add the hint")
    func redisClosedPort() async throws {
        let configuration = RedisConfiguration(port: Self.closedPort())
        let error = try await within(10, "connection refusal") {
            await #expect(throws: RedisError.self) { _ = try await RedisClient.connect(configuration) }
        }
        #expect(error?.code == .connectFailed)
        #expect(error?.endpoint == "127.0.0.1:\(configuration.port)")
        #expect(error?.osError == ECONNREFUSED)
        #expect(error?.description == "cannot connect to Redis at 127.0.0.1:\(configuration.port): connection refused")
        #expect(error.map { Advice.line(for: $0) }
            == "cannot connect to Redis at 127.0.0.1:\(configuration.port): connection refused — is it running? try scripts/services up")
    }

    @Test("Redis: a wrong password is refused")
    func redisWrongPassword() async throws {
        let server = try await ScratchRedis.start(password: "sesame")
        defer { server.stop() }
        let error = try await within(10, "AUTH refusal") {
            await #expect(throws: RedisError.self) {
                _ = try await RedisClient.connect(try RedisConfiguration(url: "redis://:wrong@127.0.0.1:\(server.port)/0"))
            }
        }
        #expect(error?.code == .authenticationFailed)
        #expect(error?.command == "AUTH")
        #expect(error?.description.contains("cannot authenticate to Redis at 127.0.0.1:\(server.port)") == true)
        #expect(error.map { Advice.line(for: $0) }?.hasSuffix(" — check the user, password and database in --redis-url (or GREENROOM_REDIS_URL)") == true)

        let good = try await RedisClient.connect(try RedisConfiguration(url: "redis://:sesame@127.0.0.1:\(server.port)/2"))
        #expect(try await good.send("PING").string == "PONG")
        await good.close()
    }

    @Test("enqueue and worker print one line with advice and exit non-zero when RabbitMQ is not there")
    func commandLinesAdvise() async throws {
        let port = Self.closedPort()
        let expected = "Error: cannot connect to RabbitMQ at 127.0.0.1:\(port): connection refused — is it running? try scripts/services up"
        let directory = URL(fileURLWithPath: WorkerProcess.binary).deletingLastPathComponent()
        for (name, arguments) in [("enqueue", ["status"]), ("worker", [])] {
            let output = "/tmp/greenroom-test-advice-\(name)-\(getpid()).log"
            defer { unlink(output) }
            let process = try ChildProcess(directory.appendingPathComponent(name).path, arguments,
                                           environment: ["GREENROOM_AMQP_URL": "amqp://guest:guest@127.0.0.1:\(port)/%2F"], logPath: output)
            let status = try await within(30, "\(name) failing") { await process.exited() }
            let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(status == 1, "\(name): \(printed)")
            #expect(printed == expected + "\n", "\(name)")
        }
    }
}
