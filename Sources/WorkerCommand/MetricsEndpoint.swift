import Foundation
import Hummingbird
import Logging
import CoreMetrics
import Prometheus
import ServiceLifecycle
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The worker's `GET /metrics` (`--metrics-port`): swift-prometheus' registry
/// is the swift-metrics backend, and a Hummingbird server in the worker's
/// `ServiceGroup` serves it as Prometheus text (format 0.0.4).
enum MetricsEndpoint {
    /// Bootstraps `MetricsSystem` with a Prometheus registry (so call it
    /// before creating the `WorkerRuntime`, whose handles it then backs) and
    /// returns the server of its text on `host:port`. Fails at once, with
    /// advice, if that address cannot be listened on.
    static func start(host: String, port: Int, logger: Logger) throws -> any Service {
        try checkListenable(host: host, port: port)
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        for name in [GreenroomMetrics.Name.turnDuration, GreenroomMetrics.Name.deliveryToCommit] {
            factory.durationHistogramBuckets[name] = GreenroomMetrics.durationBuckets
        }
        MetricsSystem.bootstrap(factory)
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        logger.info("serving metrics", metadata: ["url": "http://\(host):\(port)/metrics"])
        var serverLogger = logger
        serverLogger.logLevel = max(logger.logLevel, .warning)  // not a line per scrape
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: nil), logger: serverLogger)
    }

    /// Binds `host:port` once and lets go, so a port in use is a clear error
    /// before the worker starts rather than a failure of a running group.
    static func checkListenable(host: String, port: Int) throws {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &found)
        guard resolved == 0, let address = found else {
            throw MetricsEndpointError(.unknownHost, host: host, port: port, detail: String(cString: gai_strerror(resolved)))
        }
        defer { freeaddrinfo(found) }
        let socket = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
        guard socket >= 0 else { throw MetricsEndpointError(.cannotListen, host: host, port: port, detail: String(cString: strerror(errno))) }
        defer { close(socket) }
        var yes: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        guard bind(socket, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            let failure = errno
            let code: MetricsEndpointError.Code = switch failure {
            case EADDRINUSE: .portInUse
            case EADDRNOTAVAIL: .notThisHost
            default: .cannotListen
            }
            throw MetricsEndpointError(code, host: host, port: port, detail: String(cString: strerror(failure)))
        }
    }
}

/// The metrics endpoint cannot listen where it was told to.
struct MetricsEndpointError: Error, CustomStringConvertible {
    enum Code: Sendable {
        case portInUse, notThisHost, unknownHost, cannotListen
    }

    let code: Code
    let description: String

    init(_ code: Code, host: String, port: Int, detail: String) {
        self.code = code
        let what = "cannot serve metrics on \(host):\(port): \(detail)"
        description = switch code {
        case .portInUse: "\(what) — another program listens there; pick a free --metrics-port (GREENROOM_METRICS_PORT) or stop that program"
        case .notThisHost, .unknownHost: "\(what) — --metrics-host (GREENROOM_METRICS_HOST) must be an address of this machine: 127.0.0.1, or 0.0.0.0 for every interface (containers)"
        case .cannotListen: "\(what) — pick another --metrics-port (GREENROOM_METRICS_PORT); ports below 1024 need privileges"
        }
    }
}
