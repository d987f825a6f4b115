@testable import Broker
import Testing

@Suite("Passwords are masked wherever a URL is shown", .timeLimit(.minutes(1)))
struct RedactionTests {
    @Test("the password becomes *** and the user name stays", arguments: [
        ("amqp://guest:s3cret@127.0.0.1:5672/%2F", "amqp://guest:***@127.0.0.1:5672/%2F"),
        ("redis://:s3cret@cache:6380/3", "redis://:***@cache:6380/3"),
        ("amqp://u:p@ss:w@rd@host/", "amqp://u:***@host/"),
        ("amqp://u:se/cr?et@host/?heartbeat=5", "amqp://u:***@host/?heartbeat=5"),
        ("guest:s3cret@host:5672", "guest:***@host:5672"),
        ("amqp://guest@host/", "amqp://guest@host/"),
        ("amqp://host:5672/", "amqp://host:5672/"),
    ])
    func url(_ given: String, _ shown: String) {
        #expect(Redaction.url(given) == shown)
    }

    @Test("a parse error quotes no piece of a password the parser split", arguments: [
        "amqp://guest:Aaa111/Bbb222@host/", "amqp://guest:Aaa111?Bbb222@host/", "amqp://guest:Aaa111%zzBbb222@host/",
        "redis://:Aaa111/Bbb222@host", "redis://app:Aaa111?Bbb222@host",
        "redis://:Aaa111Bbb222@host/%E0%80",
    ])
    func splitPassword(_ url: String) {
        let errors: [any Error] = [
            #expect(throws: URLFormatError.self) { _ = try AMQPConfiguration(url: url.replacingScheme(with: "amqp")) },
            #expect(throws: URLFormatError.self) { _ = try RedisConfiguration(url: url.replacingScheme(with: "redis")) },
        ].compactMap { $0 }
        for error in errors {
            #expect(!"\(error)".contains("Aaa111") && !"\(error)".contains("Bbb222"), "\(error)")
        }
    }

    @Test("fragments after the credentials are still quoted, so the error stays useful")
    func usefulProblems() {
        #expect(throws: URLFormatError.self) { try AMQPConfiguration(url: "amqp://u:pw@host:notaport/") }
        do {
            _ = try AMQPConfiguration(url: "amqp://u:pw@host:notaport/")
        } catch {
            #expect(error.problem.contains("'notaport'"))
            #expect(error.url == "amqp://u:***@host:notaport/")
        }
        do {
            _ = try RedisConfiguration(url: "mysql://u:pw@host")
        } catch {
            #expect(error.problem.contains("'mysql'"))
        }
    }
}

private extension String {
    /// The same URL under another scheme (the tests feed each URL to both parsers).
    func replacingScheme(with scheme: String) -> String {
        guard let separator = rangeOfSchemeSeparator() else { return self }
        return scheme + self[separator.lowerBound...]
    }
}

@Suite("Configurations print without their passwords", .timeLimit(.minutes(1)))
struct ConfigurationPrintingTests {
    @Test("description, debugDescription and dump mask the password")
    func printing() throws {
        let amqp = try AMQPConfiguration(url: "amqps://app:Qz9secret@rabbit:5671/prod?cacertfile=/ca.pem")
        let redis = try RedisConfiguration(url: "redis://app:Qz9secret@cache:6380/2")
        for value in [amqp, redis] as [Any] {
            var dumped = ""
            dump(value, to: &dumped)
            for text in ["\(value)", String(reflecting: value), dumped] {
                #expect(!text.contains("Qz9secret"), "\(text)")
                #expect(text.contains("***"), "\(text)")
            }
        }
        #expect("\(amqp)" == "amqps://app:***@rabbit:5671/prod")
        #expect("\(redis)" == "redis://app:***@cache:6380/2")
    }
}
