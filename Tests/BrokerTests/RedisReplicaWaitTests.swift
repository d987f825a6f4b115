@testable import Broker
import Logging
import Testing

@Suite("Waiting for a cluster replica after a batch of writes", .timeLimit(.minutes(1)))
struct RedisReplicaWaitTests {
    private func command(_ words: String...) -> [[UInt8]] { words.map { Array($0.utf8) } }

    @Test("a batch waits when it holds a write and the node has a replica; WAIT is written with the timeout")
    func needed() {
        let wait = RedisReplicaWait(timeoutMilliseconds: 750)
        #expect(wait.command == command("WAIT", "1", "750"))
        #expect(!wait.isNeeded(after: [command("SET", "k", "v")]), "no replica known yet")
        wait.replicas = 1
        #expect(wait.isNeeded(after: [command("GET", "k"), command("SET", "k", "v")]))
        #expect(wait.isNeeded(after: [command("EVALSHA", "sha", "1", "k")]), "a script may write")
        #expect(!wait.isNeeded(after: [command("GET", "k"), command("HGETALL", "h"), command("CLUSTER", "SLOTS")]))
    }

    @Test("a WAIT no replica answered in time switches waiting off until the map shows a replica again")
    func timedOut() {
        let wait = RedisReplicaWait(timeoutMilliseconds: 10)
        wait.replicas = 1
        let logger = Logger(label: "test")
        wait.record(.success(.integer(1)), endpoint: "n:1", logger: logger)
        #expect(wait.replicas == 1)
        wait.record(.success(.integer(0)), endpoint: "n:1", logger: logger)
        #expect(wait.replicas == 0)
        #expect(!wait.isNeeded(after: [command("SET", "k", "v")]))
    }
}
