import Broker
import Foundation
import Synchronization
import Workers

/// A real `test-worker` process (the `worker` command plus `probe` and fault
/// injection) hosting the built-ins under a test's type suffix.
enum WorkerProcess {
    static let binary: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/test-worker").path
    }()

    static func start(suffix: String, partitions: Int = 4, fault: String? = nil, leaseSeconds: Double? = nil, logPath: String,
                      environment extra: [String: String] = [:]) throws -> ChildProcess {
        var environment = [
            "GREENROOM_AMQP_URL": TestServers.amqpURL, "GREENROOM_REDIS_URL": TestServers.redisURL,
            "GREENROOM_TYPE_SUFFIX": suffix, "GREENROOM_PARTITIONS": "\(partitions)", "GREENROOM_LOG_LEVEL": "info",
        ]
        if let fault { environment["GREENROOM_FAULT"] = fault }
        if let leaseSeconds {
            environment["GREENROOM_LEASE_TTL"] = "\(leaseSeconds)"
            environment["GREENROOM_HEARTBEAT"] = "\(leaseSeconds / 6)"
        }
        environment.merge(extra) { _, new in new }
        return try ChildProcess(binary, [], environment: environment, logPath: logPath)
    }

    /// Waits until a worker answers for `type` (by spawning an actor there).
    static func waitUntilServing(_ client: GreenroomClient, type: String, seconds: Double = 60) async throws {
        let attempts = Mutex(0)
        try await eventually(seconds, "a worker serving \(type)") {
            // A fresh id each attempt: a spawn that timed out under load may
            // still be created, and spawning the same id again would be
            // refused as "already exists" — a dead letter that tests
            // asserting "nothing dead-lettered" would count.
            let attempt = attempts.withLock { $0 += 1; return $0 }
            do {
                try await client.spawn(type: type, id: "ready-probe-\(attempt)", timeout: .seconds(2))
                return true
            } catch is UnknownActorType {
                return false
            } catch let error as AMQPError where error.code == .unroutable {
                return false
            } catch is AskTimedOut {
                return false
            } catch is AskFailed {
                return true  // refused ("already exists") means a worker answered
            }
        }
    }
}
