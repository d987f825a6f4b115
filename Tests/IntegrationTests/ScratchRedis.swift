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

    deinit { stop() }
}
