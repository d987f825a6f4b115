import Broker
import Testing

@Suite("A scratch RabbitMQ node of the test's own", .timeLimit(.minutes(5)))
struct ScratchRabbitTests {
    @Test("starts on its own ports, survives stop_app/start_app, and is gone after remove()")
    func startRestartRemove() async throws {
        let rabbit = try await ScratchRabbit.start()
        let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: rabbit.url))
        await connection.close()
        try await rabbit.ctl(["stop_app"])
        #expect(!FreePort.isOpen(rabbit.amqpPort))
        try await rabbit.ctl(["start_app"])
        try await rabbit.awaitStartup()
        let again = try await AMQPConnection.connect(try AMQPConfiguration(url: rabbit.url))
        await again.close()
        rabbit.remove()
        #expect(!FreePort.isOpen(rabbit.amqpPort))
    }
}
