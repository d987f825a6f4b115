@testable import Broker
import Testing

@Suite("AMQP URLs naming a cluster's nodes", .timeLimit(.minutes(1)))
struct AMQPHostListTests {
    @Test("several hosts: all kept in order, a missing port is 5672, host and port are the first")
    func severalHosts() throws {
        let configuration = try AMQPConfiguration(url: "amqp://app:s3cret@rabbit-a:5701,rabbit-b,[::1]:5703/prod?heartbeat=5")
        #expect(configuration.hosts == [.init(host: "rabbit-a", port: 5701), .init(host: "rabbit-b", port: 5672), .init(host: "::1", port: 5703)])
        #expect(configuration.host == "rabbit-a")
        #expect(configuration.port == 5701)
        #expect(configuration.endpoint == "rabbit-a:5701")
        #expect(configuration.endpoints == "rabbit-a:5701,rabbit-b:5672,[::1]:5703")
        #expect(configuration.namesSeveralHosts)
        #expect(configuration.user == "app")
        #expect(configuration.password == "s3cret")
        #expect(configuration.virtualHost == "prod")
        #expect(configuration.heartbeatSeconds == 5)
    }

    @Test("amqps: every host without a port gets 5671")
    func secureDefaults() throws {
        let configuration = try AMQPConfiguration(url: "amqps://a,b:6000/")
        #expect(configuration.hosts == [.init(host: "a", port: 5671), .init(host: "b", port: 6000)])
        #expect(configuration.tls != nil)
    }

    @Test("one host is what it always was")
    func oneHost() throws {
        let configuration = try AMQPConfiguration(url: "amqp://guest:guest@127.0.0.1:5672/%2F")
        #expect(configuration.hosts == [.init(host: "127.0.0.1", port: 5672)])
        #expect(!configuration.namesSeveralHosts)
        #expect(configuration == AMQPConfiguration())
    }

    @Test("printed, it shows every host and masks the password")
    func description() throws {
        let configuration = try AMQPConfiguration(url: "amqp://app:s3cret@127.0.0.1:5701,127.0.0.1:5702,127.0.0.1:5703/%2F")
        #expect("\(configuration)" == "amqp://app:***@127.0.0.1:5701,127.0.0.1:5702,127.0.0.1:5703/%2F")
        var dumped = ""
        dump(configuration, to: &dumped)
        #expect(dumped.contains("127.0.0.1:5701,127.0.0.1:5702,127.0.0.1:5703"))
        #expect(!dumped.contains("s3cret"))
    }

    @Test("host and port set by hand change the first host")
    func settingTheFirst() throws {
        var configuration = try AMQPConfiguration(url: "amqp://a:1,b:2/")
        configuration.host = "c"
        configuration.port = 3
        #expect(configuration.hosts == [.init(host: "c", port: 3), .init(host: "b", port: 2)])
        #expect(configuration.only(1).hosts == [.init(host: "b", port: 2)])
    }

    @Test("bad host lists are refused, saying what is wrong", arguments: [
        ("amqp://u:p@a:1,,b:2/", "empty host in the host list 'a:1,,b:2' (host 2 of 3)"),
        ("amqp://u:p@a:1,b:2,/", "empty host in the host list 'a:1,b:2,' (host 3 of 3)"),
        ("amqp://u:p@,a:1/", "empty host in the host list ',a:1' (host 1 of 2)"),
        ("amqp://a:1,:2/", "missing host in ':2'"),
        ("amqp://a:1,b:x/", "port 'x' in 'b:x' is not a number from 1 to 65535"),
        ("amqp://a:1,b:70000/", "port '70000' in 'b:70000' is not a number from 1 to 65535"),
        ("amqp://a,[::1/", "unclosed '[' in IPv6 host in '[::1'"),
        ("amqp://a:5672,b,a/", "host a:5672 is listed twice; name each node of a cluster once"),
    ])
    func badLists(url: String, problem: String) {
        #expect(throws: URLFormatError.self) { try AMQPConfiguration(url: url) }
        do {
            _ = try AMQPConfiguration(url: url)
        } catch {
            #expect(error.problem.hasPrefix(problem), "\(error.problem)")
            #expect(!error.description.contains(":p@"), "the password is masked: \(error)")
        }
    }

    @Test("every node failing makes one error naming each node and why, keeping a shared code and OS error")
    func everyNodeFailed() {
        let refused = { (port: Int) in
            AMQPError(code: .connectFailed, operation: "cannot connect to RabbitMQ at h:\(port)", endpoint: "h:\(port)", osError: 111,
                      detail: "connection refused")
        }
        let all = AMQPError(everyNodeFailed: [refused(1), refused(2)], hosts: "h:1,h:2")
        #expect(all.description == "cannot connect to any of the 2 RabbitMQ nodes: h:1: connection refused; h:2: connection refused")
        #expect(all.code == .connectFailed)
        #expect(all.osError == 111)
        #expect(all.endpoint == "h:1,h:2")

        let login = AMQPError(code: .accessRefused, operation: "cannot log in to RabbitMQ at h:3 as 'u' on vhost '/'", endpoint: "h:3",
                              detail: "the broker closed the connection during login")
        let mixed = AMQPError(everyNodeFailed: [refused(1), login], hosts: "h:1,h:3")
        #expect(mixed.description == "cannot connect to any of the 2 RabbitMQ nodes: h:1: connection refused; "
            + "cannot log in to RabbitMQ at h:3 as 'u' on vhost '/': the broker closed the connection during login")
        #expect(mixed.code == .connectFailed)
        #expect(mixed.osError == nil)
    }
}
