import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A running `enqueue dashboard --port 0` (a free port, which it prints) and
/// plain HTTP requests to it.
struct DashboardProcess: Sendable {
    let process: ChildProcess
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    let base: String
    let logPath: String

    /// Starts the dashboard with the test servers' URLs (plus `environment`)
    /// and waits until it prints the address it serves on.
    static func start(_ arguments: [String] = [], environment: [String: String] = [:]) async throws -> DashboardProcess {
        let logPath = "/tmp/greenroom-test-dashboard-\(getpid())-\(UUID().uuidString.prefix(8)).log"
        let process = try ChildProcess(
            CommandRun.binary("enqueue"), ["dashboard", "--port", "0"] + arguments,
            environment: ["GREENROOM_AMQP_URL": TestServers.amqpURL, "GREENROOM_REDIS_URL": TestServers.redisURL].merging(environment) { $1 },
            logPath: logPath)
        let prefix = "dashboard: "
        let base = try await within(60, "the dashboard printing its address") {
            while true {
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                if let line = log.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                    return String(line.dropFirst(prefix.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
                }
                if let status = process.poll() { throw DashboardExited(status: status, log: log) }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        return DashboardProcess(process: process, base: base, logPath: logPath)
    }

    /// Stops it (SIGTERM) and removes its log.
    func stop() async {
        await process.terminate(SIGTERM, within: 10)
        unlink(logPath)
    }

    struct Reply: Sendable {
        let status: Int
        let body: Data
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// GET `path` (with its query), with extra `headers`.
    func get(_ path: String, headers: [String: String] = [:]) async throws -> Reply {
        try await request(path, headers: headers)
    }

    /// POST `body` as JSON to `path`, with `headers` instead of the JSON content type when given.
    func post(_ path: String, _ body: [String: Any], headers: [String: String] = ["Content-Type": "application/json"]) async throws -> Reply {
        try await request(path, method: "POST", body: try JSONSerialization.data(withJSONObject: body), headers: headers)
    }

    /// One session for every request of the tests, never invalidated. A full
    /// run once crashed on a dispatch thread ("unowned reference ... already
    /// destroyed", the frames not shown) while these tests made and
    /// invalidated a session per request, a path of swift-corelibs-foundation's
    /// URLSession best avoided; whether it was the cause is not known.
    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.connectionProxyDictionary = [:]
        return URLSession(configuration: configuration)
    }()

    private func request(_ path: String, method: String = "GET", body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        // Generous: `/api/status` inspects every partition on the shared servers,
        // which hold thousands from earlier runs, slow under a full test run's load.
        var request = URLRequest(url: URL(string: base + path)!, timeoutInterval: 150)
        request.httpMethod = method
        request.httpBody = body
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await Self.session.data(for: request)
        } catch {
            throw DashboardRequestFailed(request: "\(method) \(path)", error: error)
        }
        return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }
}

struct DashboardExited: Error, CustomStringConvertible {
    let status: Int32
    let log: String
    var description: String { "enqueue dashboard exited with status \(status) before serving:\n\(log)" }
}

struct DashboardRequestFailed: Error, CustomStringConvertible {
    let request: String
    let error: any Error
    var description: String { "\(request) to the dashboard failed: \(error)" }
}
