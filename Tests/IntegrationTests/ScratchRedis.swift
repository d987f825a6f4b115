import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Picks a local TCP port that nothing listens on right now.
enum FreePort {
    static func pick() -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(descriptor >= 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// True when something accepts TCP connections on 127.0.0.1:`port`.
    static func isOpen(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

/// A child process started with posix_spawn and reaped with waitpid.
/// (Foundation's `Process.waitUntilExit` can hang when called from a task.)
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    private var reaped = false

    /// Starts `path` with `arguments` and extra `environment` variables; its
    /// output goes to `logPath` (or nowhere).
    init(_ path: String, _ arguments: [String], environment: [String: String] = [:], logPath: String = "/dev/null") throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // Threads of the test runner block signals; the child must not inherit
        // that mask, or it would never see the SIGTERM that stops it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var variables: [String] = []
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            if !environment.keys.contains(where: { text.hasPrefix($0 + "=") }) { variables.append(text) }
            index += 1
        }
        variables += environment.map { "\($0.key)=\($0.value)" }
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        var child = pid_t()
        let result = posix_spawn(&child, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SpawnFailed(path: path, code: result) }
        pid = child
    }

    /// Sends `signal` (SIGTERM by default) and waits for the process to exit.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) -> Int32? {
        guard !reaped else { return exitStatus }
        kill(pid, signal)
        return waitForExit()
    }

    private(set) var exitStatus: Int32?

    /// Waits (blocking this thread) until the process exits; returns its exit
    /// code, or 128 + signal when a signal ended it.
    @discardableResult
    func waitForExit() -> Int32? {
        guard !reaped else { return exitStatus }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = true
        let signal = status & 0x7F
        exitStatus = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
        return exitStatus
    }

    /// Sends `signal` and awaits the exit without blocking a thread of the
    /// cooperative pool (a graceful worker stop can take seconds; blocking
    /// there starves every in-process worker of the test run).
    @discardableResult
    func terminate(_ signal: Int32 = SIGTERM) async -> Int32? {
        if !reaped { kill(pid, signal) }
        return await exited()
    }

    /// Waits for the exit in a detached thread, so a task can await it with a timeout.
    func exited() async -> Int32? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: self.waitForExit()) }
        }
    }

    deinit { stop(SIGKILL) }
}

struct SpawnFailed: Error, CustomStringConvertible {
    let path: String
    let code: Int32
    var description: String { "cannot start \(path): \(String(cString: strerror(code)))" }
}

/// A throwaway redis-server of the test's own, for tests that stop, restart or
/// password-protect a server (never the shared one from scripts/services).
final class ScratchRedis: @unchecked Sendable {
    let port: Int
    private let password: String?
    /// With a directory, the server keeps an append-only file there, so its
    /// data survives a restart.
    private let durableDirectory: String?
    private var process: ChildProcess?

    private init(port: Int, password: String?, durableDirectory: String?) {
        self.port = port
        self.password = password
        self.durableDirectory = durableDirectory
    }

    static func start(port: Int = FreePort.pick(), password: String? = nil, durableDirectory: String? = nil) async throws -> ScratchRedis {
        let server = ScratchRedis(port: port, password: password, durableDirectory: durableDirectory)
        try await server.launch()
        return server
    }

    /// Starts (or restarts) the server on the same port and waits until it answers.
    func launch() async throws {
        var arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", ""]
        if let durableDirectory {
            arguments += ["--appendonly", "yes", "--appendfsync", "always", "--dir", durableDirectory]
        } else {
            arguments += ["--appendonly", "no", "--dir", "/tmp"]
        }
        if let password { arguments += ["--requirepass", password] }
        process = try ChildProcess("/usr/bin/redis-server", arguments)
        let port = port
        try await within(20, "scratch redis-server on port \(port)") {
            while !FreePort.isOpen(port) {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Stops the server and waits until it has exited.
    func stop() {
        process?.stop()
        process = nil
    }

    deinit { stop() }
}
