import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A throwaway RabbitMQ node of the test's own, for tests that stop, restart
/// or reconfigure the broker (TLS listeners, restarts under load) — never the
/// shared node from scripts/services, which other suites use at the same time.
///
/// It runs Debian's scripts from /usr/lib/rabbitmq/bin as the current user,
/// like scripts/services does, with its own node name, ports and data
/// directory under /tmp; `remove()` stops it and deletes the directory.
/// Starting takes 10–40 s.
///
/// ```swift
/// let rabbit = try await ScratchRabbit.start()
/// defer { rabbit.remove() }
/// try await rabbit.ctl(["stop_app"]); try await rabbit.ctl(["start_app"])
/// ```
final class ScratchRabbit: @unchecked Sendable {
    static let directory = "/usr/lib/rabbitmq/bin"

    /// The AMQP (plain TCP) port.
    let amqpPort: Int
    /// A further free port, for a listener the configuration adds (TLS).
    let extraPort: Int
    let distributionPort: Int
    /// `greenroom-scratch-PID-N@localhost`.
    let node: String
    /// Holds mnesia/, log/, rabbitmq.conf and anything the test puts there.
    let base: String
    private var process: ChildProcess?

    /// `amqp://guest:guest@127.0.0.1:PORT/%2F`.
    var url: String { "amqp://guest:guest@127.0.0.1:\(amqpPort)/%2F" }

    private init(amqpPort: Int, extraPort: Int, distributionPort: Int, node: String, base: String) {
        self.amqpPort = amqpPort
        self.extraPort = extraPort
        self.distributionPort = distributionPort
        self.node = node
        self.base = base
    }

    /// Starts a node and waits until it accepts AMQP connections.
    /// `configuration` is appended to its rabbitmq.conf; it may name
    /// `extraPort` (pick it with `configuration:` as a closure over the node).
    static func start(configuration: (ScratchRabbit) throws -> String = { _ in "" }) async throws -> ScratchRabbit {
        var template = Array("/tmp/greenroom-rabbit-XXXXXX".utf8CString)
        let base = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        let serial = Self.serial.add(1)
        let rabbit = ScratchRabbit(
            amqpPort: FreePort.pick(), extraPort: FreePort.pick(), distributionPort: FreePort.pick(),
            node: "greenroom-scratch-\(getpid())-\(serial)@localhost", base: base)
        for folder in ["mnesia", "log"] {
            try FileManager.default.createDirectory(atPath: "\(base)/\(folder)", withIntermediateDirectories: true)
        }
        try "[].".write(toFile: "\(base)/enabled_plugins", atomically: true, encoding: .utf8)
        let conf = """
            # Written by a Greenroom test (ScratchRabbit).
            loopback_users.guest = true
            disk_free_limit.absolute = 50MB
            vm_memory_high_watermark.relative = 0.2
            \(try configuration(rabbit))

            """
        try conf.write(toFile: "\(base)/rabbitmq.conf", atomically: true, encoding: .utf8)
        try await rabbit.launch()
        return rabbit
    }

    private static let serial = AtomicCounter()

    /// The environment Debian's scripts need to run this node as the current user.
    var environment: [String: String] {
        var environment = [
            "RABBITMQ_NODENAME": node, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": "\(amqpPort)",
            "RABBITMQ_DIST_PORT": "\(distributionPort)", "RABBITMQ_MNESIA_BASE": "\(base)/mnesia",
            "RABBITMQ_LOG_BASE": "\(base)/log", "RABBITMQ_PID_FILE": "\(base)/rabbitmq.pid",
            "RABBITMQ_ENABLED_PLUGINS_FILE": "\(base)/enabled_plugins", "RABBITMQ_CONFIG_FILE": "\(base)/rabbitmq",
            "RABBITMQ_ADVANCED_CONFIG_FILE": "\(base)/advanced.config",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "+sbwt none +sbwtdcpu none +sbwtdio none",
        ]
        if getenv("HOME") == nil { environment["HOME"] = "/root" }
        return environment
    }

    /// Starts the node's process (again, after `kill()`) and waits until it
    /// has finished booting and accepts AMQP connections.
    /// Nodes boot one at a time: an Erlang VM booting takes a core for
    /// seconds, and several at once on a 2-core machine starve every other
    /// test (logins to the shared broker then time out).
    func launch() async throws {
        try await Self.booting.run {
            unlink("\(self.base)/rabbitmq.pid")
            self.process = try ChildProcess("\(Self.directory)/rabbitmq-server", [], environment: self.environment,
                                            logPath: "\(self.base)/log/console.log", ownGroup: true)
            try await self.awaitStartup()
        }
    }

    private static let booting = AsyncGate()

    /// Waits until the node (after `launch()` or `ctl(["start_app"])`) accepts
    /// AMQP connections and says it has booted. (`await_startup` alone fails
    /// while the VM has not yet registered its name, so the port comes first.)
    func awaitStartup() async throws {
        let port = amqpPort
        let process = process
        let log = "\(base)/log/console.log"
        try await within(150, "scratch RabbitMQ \(node) on port \(port)") {
            while !FreePort.isOpen(port) {
                if let status = process?.poll() {
                    let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.suffix(2_000) ?? ""
                    throw RabbitControlFailed(arguments: ["rabbitmq-server"], status: status, output: String(tail))
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        try await ctl(["await_startup", "--timeout", "60"], seconds: 90)
    }

    /// Runs `rabbitmqctl -n NODE ARGS` against this node; returns its output,
    /// or throws with it when it exits non-zero.
    @discardableResult
    func ctl(_ arguments: [String], seconds: Double = 120) async throws -> String {
        let output = "\(base)/rabbitmqctl-\(UUID().uuidString).out"
        defer { unlink(output) }
        let process = try ChildProcess("\(Self.directory)/rabbitmqctl", ["-n", node, "-q"] + arguments,
                                       environment: environment, logPath: output)
        let status = try await within(seconds, "rabbitmqctl \(arguments.joined(separator: " ")) on \(node)") { await process.exited() }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw RabbitControlFailed(arguments: arguments, status: status, output: text) }
        return text
    }

    /// SIGKILLs the node and everything it started (its Erlang VM); `launch()` brings it back.
    func kill() {
        process?.send(SIGKILL, toGroup: true)
        _ = process?.waitForExit(within: 30)
        process = nil
        // The group's leader is reaped first; the VM may take a moment longer to let go of its port.
        for _ in 0..<200 where FreePort.isOpen(amqpPort) { usleep(50_000) }
    }

    /// Stops the node and deletes its directory.
    func remove() {
        kill()
        try? FileManager.default.removeItem(atPath: base)
    }

    deinit { remove() }
}

/// Runs one body at a time, in arrival order; waiting holds no thread.
final class AsyncGate: Sendable {
    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func run<T>(_ body: () async throws -> T) async throws -> T {
        await withCheckedContinuation { continuation in
            let enter = state.withLock { state in
                if state.busy { state.waiters.append(continuation); return false }
                state.busy = true
                return true
            }
            if enter { continuation.resume() }
        }
        defer {
            let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if state.waiters.isEmpty { state.busy = false; return nil } else { return state.waiters.removeFirst() }
            }
            next?.resume()
        }
        return try await body()
    }
}

/// A counter shared by tasks, for unique names.
final class AtomicCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()

    func add(_ amount: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += amount
        return value
    }
}
