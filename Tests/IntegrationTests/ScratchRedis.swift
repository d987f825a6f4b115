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

    /// A free port below Linux's ephemeral range (32768 and up), for a server
    /// a test stops and starts again on the same port: while it is down, no
    /// outgoing connection can be given that port — nor can a client
    /// reconnecting to it connect to itself (a TCP self-connect), which would
    /// hold the port and keep the server from coming back.
    static func pickOutsideEphemeralRange() -> Int {
        var generator = SystemRandomNumberGenerator()
        while true {
            let port = Int.random(in: 20_000..<32_000, using: &generator)
            if canBind(port) { return port }
        }
    }

    /// True when 127.0.0.1:`port` can be bound now.
    static func canBind(_ port: Int) -> Bool {
        onLoopback(port) { descriptor, address, length in bind(descriptor, address, length) } == 0
    }

    /// True when something accepts TCP connections on 127.0.0.1:`port`.
    static func isOpen(_ port: Int) -> Bool {
        onLoopback(port) { descriptor, address, length in connect(descriptor, address, length) } == 0
    }

    /// Calls `call` (bind, connect) with a new TCP socket and the address
    /// 127.0.0.1:`port`, then closes the socket.
    private static func onLoopback(_ port: Int, _ call: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(descriptor >= 0, "no socket: \(errno)")
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}

/// A throwaway redis-server of the test's own, for tests that stop, restart or
/// password-protect a server (never the shared one from scripts/services).
final class ScratchRedis: @unchecked Sendable {
    let port: Int
    private let password: String?
    /// With a directory, the server keeps an append-only file there, so its
    /// data survives a restart.
    private let durableDirectory: String?
    /// How often the append-only file is flushed: `always` (every write) or
    /// `everysec`, as scripts/services runs Redis.
    private let appendFsync: String
    private var process: ChildProcess?

    private init(port: Int, password: String?, durableDirectory: String?, appendFsync: String) {
        self.port = port
        self.password = password
        self.durableDirectory = durableDirectory
        self.appendFsync = appendFsync
    }

    /// Starts a server on `port`, or on a free one: if another process takes
    /// that port before the server binds it, it tries another (three in all).
    static func start(port: Int? = nil, password: String? = nil, durableDirectory: String? = nil,
                      appendFsync: String = "always") async throws -> ScratchRedis {
        var attempt = 1
        while true {
            let server = ScratchRedis(port: port ?? FreePort.pickOutsideEphemeralRange(), password: password,
                                      durableDirectory: durableDirectory, appendFsync: appendFsync)
            do {
                try await server.launch()
                return server
            } catch let error as ScratchServerExited where port == nil && attempt < 3 && error.lastLines.contains("Address already in use") {
                attempt += 1
            }
        }
    }

    /// Starts (or restarts) the server on the same port and waits until it answers.
    func launch() async throws {
        var arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", ""]
        if let durableDirectory {
            arguments += ["--appendonly", "yes", "--appendfsync", appendFsync, "--dir", durableDirectory]
        } else {
            arguments += ["--appendonly", "no", "--dir", "/tmp"]
        }
        if let password { arguments += ["--requirepass", password] }
        let process = try ChildProcess("/usr/bin/redis-server", arguments, logPath: logPath)
        self.process = process
        let port = port
        try await within(20, "scratch redis-server on port \(port) (its log: \(logPath))") {
            while !FreePort.isOpen(port) {
                if let status = process.poll() {
                    let log = (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? ""
                    throw ScratchServerExited(what: "scratch redis-server on port \(port)", status: status,
                                              lastLines: log.split(separator: "\n").suffix(5).joined(separator: "\n"))
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Where the server's output goes (appended across restarts).
    var logPath: String { "/tmp/greenroom-scratch-redis-\(port).log" }

    /// SIGSTOPs the server: it keeps its connections open and answers
    /// nothing, like a host whose packets are dropped. `thaw()` resumes it.
    func freeze() { process?.send(SIGSTOP) }

    /// SIGCONTs a frozen server.
    func thaw() { process?.send(SIGCONT) }

    /// The server's URL, with `credentials` (`user:password`, `:password`)
    /// and `options` (`command_timeout=500`) when given.
    func url(credentials: String? = nil, options: String? = nil) -> String {
        "redis://\(credentials.map { $0 + "@" } ?? "")127.0.0.1:\(port)/0\(options.map { "?" + $0 } ?? "")"
    }

    /// Stops the server and waits until it has exited.
    func stop() {
        process?.stop()
        process = nil
    }

    /// Kills the server with SIGKILL, as a crash would: no shutdown, no
    /// final flush; what survives is what was in the append-only file.
    func kill() {
        process?.send(SIGKILL)
        _ = process?.waitForExit(within: 10)
        process = nil
    }

    deinit {
        stop()
        unlink(logPath)
    }
}

/// A scratch server ended while the test waited for it to answer.
struct ScratchServerExited: Error, CustomStringConvertible {
    let what: String
    let status: Int32
    let lastLines: String
    var description: String { "\(what) exited with status \(status) before answering; its last lines:\n\(lastLines)" }
}
