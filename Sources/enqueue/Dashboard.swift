import ArgumentParser
import Foundation
import Hummingbird
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `enqueue dashboard`: the fleet in a browser. One page (DashboardPage) that
/// polls JSON endpoints (DashboardAPI) reading the same servers as the rest
/// of `enqueue`, through `GreenroomClient`; nothing is stored anywhere else.
struct Dashboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a web page with the live fleet, turn rates, dead letters and an actor lookup.",
        discussion: """
            Open the printed address in a browser. Add ?actor=TYPE/ID to look an actor up at once, ?dead-type=T (dead-reason, dead-id) to filter the dead letters, \
            ?type=A,B to show only those types' partitions (faster with many types). \
            The page works offline (no CDN). Bound to 127.0.0.1 by default: it can replay and purge \
            dead letters, so expose it on other interfaces only behind something that authenticates.
            """)

    @OptionGroup var servers: ServerOptions
    @Option(help: "The port to serve on (0: any free port, printed at start).") var port: Int = 8080
    @Option(help: "The address to bind.") var host: String = "127.0.0.1"

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535 (0: any free port)") }
    }

    func run() async throws {
        let logger = servers.logger(label: "greenroom.dashboard")
        try DashboardPortCheck.ensureFree(host: host, port: port)
        let clients = DashboardClients(servers: servers, logger: logger)
        let router = Router()
        router.add(middleware: DashboardHostCheck(boundTo: host))
        DashboardAPI(clients: clients, turnRates: DashboardTurnRates()).register(on: router)
        DashboardPage.register(on: router)
        let host = host
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "greenroom-dashboard"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? 0
                // Written at once (not buffered): scripts and tests wait for this line.
                FileHandle.standardOutput.write(Data("dashboard: http://\(host.contains(":") ? "[\(host)]" : host):\(bound)/\n".utf8))
            },
            logger: logger)
        do {
            try await app.runService()
        } catch {
            await clients.close()
            throw DashboardError(code: .serverFailed, host: host, port: port, detail: "\(error)")
        }
        await clients.close()
    }
}

/// Why `enqueue dashboard` could not serve, and what to do.
struct DashboardError: Error, CustomStringConvertible {
    enum Code: Sendable { case portInUse, cannotBind, serverFailed }
    let code: Code
    let host: String
    let port: Int
    let detail: String

    var description: String {
        switch code {
        case .portInUse:
            "cannot serve the dashboard on \(host):\(port): the port is in use — stop what uses it, or pick another with --port"
        case .cannotBind:
            "cannot serve the dashboard on \(host):\(port): \(detail) — check --host (an address of this machine, e.g. 127.0.0.1)"
        case .serverFailed:
            "the dashboard's server on \(host):\(port) stopped: \(detail)"
        }
    }
}

/// Binds the dashboard's address once before the server does, so that a port
/// in use is one clear line at start-up rather than SwiftNIO's error text.
enum DashboardPortCheck {
    static func ensureFree(host: String, port: Int) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var found: UnsafeMutablePointer<addrinfo>?
        let lookup = getaddrinfo(host, String(port), &hints, &found)
        guard lookup == 0, let address = found else {
            throw DashboardError(code: .cannotBind, host: host, port: port, detail: String(cString: gai_strerror(lookup)))
        }
        defer { freeaddrinfo(found) }
        let socket = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
        guard socket >= 0 else {
            throw DashboardError(code: .cannotBind, host: host, port: port, detail: String(cString: strerror(errno)))
        }
        defer { close(socket) }
        // The same option the server sets, so a port only in TIME_WAIT counts as free.
        var on: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        guard bind(socket, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            let code = errno
            throw DashboardError(code: code == EADDRINUSE ? .portInUse : .cannotBind, host: host, port: port,
                                 detail: String(cString: strerror(code)))
        }
    }
}
