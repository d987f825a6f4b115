import Foundation

/// The container engine that runs the compose fleet, as the tests container
/// sees it: the engine's API socket (Docker's, or `podman system service`'s
/// under `scripts/compose`) mounted at `/var/run/docker.sock`, `curl` to call
/// it, and `docker-compose` with the project's compose files (`COMPOSE_FILE`,
/// `COMPOSE_PROJECT_NAME`) to scale. Only the tests container has these; the
/// compose suite runs only there (`GREENROOM_COMPOSE_TESTS=1`).
enum ComposeEngine {
    static let socket = "/var/run/docker.sock"
    static let curl = "/usr/bin/curl"
    static let dockerCompose = "/usr/bin/docker-compose"

    /// Whether this process runs in the compose tests container.
    static var isPresent: Bool { ProcessInfo.processInfo.environment["GREENROOM_COMPOSE_TESTS"] == "1" }

    static var project: String { ProcessInfo.processInfo.environment["COMPOSE_PROJECT_NAME"] ?? "greenroom" }

    /// One container of the compose project, as the engine reports it.
    struct Container: Sendable, CustomStringConvertible {
        let id: String
        let name: String
        let hostname: String
        let running: Bool
        let exitCode: Int

        var description: String { "\(name) (\(hostname), \(running ? "running" : "exited \(exitCode)"))" }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Every container of `service` in the project, running or not, by name.
    static func containers(of service: String) async throws -> [Container] {
        let filters = #"{"label":["com.docker.compose.project=\#(project)","com.docker.compose.service=\#(service)"]}"#
        let query = filters.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? filters
        let list = try await request("GET", "/containers/json?all=true&filters=\(query)")
        guard let entries = try JSONSerialization.jsonObject(with: Data(list.utf8)) as? [[String: Any]] else {
            throw Failure(description: "the engine's container list is not a JSON array: \(list.prefix(300))")
        }
        var found: [Container] = []
        for id in entries.compactMap({ $0["Id"] as? String }) {
            found.append(try await inspect(id))
        }
        return found.sorted { $0.name < $1.name }
    }

    static func inspect(_ id: String) async throws -> Container {
        let text = try await request("GET", "/containers/\(id)/json")
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let config = object["Config"] as? [String: Any], let state = object["State"] as? [String: Any] else {
            throw Failure(description: "the engine's description of container \(id) lacks Config or State: \(text.prefix(300))")
        }
        let name = ((object["Name"] as? String) ?? id).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return Container(id: id, name: name, hostname: config["Hostname"] as? String ?? "",
                         running: state["Running"] as? Bool ?? false, exitCode: state["ExitCode"] as? Int ?? -1)
    }

    /// SIGKILL: the container's worker gets no chance to drain.
    static func kill(_ container: Container) async throws {
        _ = try await request("POST", "/containers/\(container.id)/kill?signal=KILL")
    }

    /// SIGTERM, then SIGKILL after `seconds`: what `docker stop` does.
    static func stop(_ container: Container, seconds: Int) async throws {
        _ = try await request("POST", "/containers/\(container.id)/stop?t=\(seconds)", timeout: Double(seconds + 30))
    }

    /// `docker-compose up --scale service=count`: starts the missing containers,
    /// leaves the running ones as they are.
    static func scale(_ service: String, to count: Int) async throws {
        let run = try await CommandRun.run(dockerCompose, ["up", "-d", "--no-deps", "--no-recreate", "--no-build",
                                                           "--scale", "\(service)=\(count)", service], seconds: 120)
        guard run.status == 0 else { throw Failure(description: "scaling \(service) to \(count) failed: \(run)") }
    }

    /// One call of the engine's API; its body, or an error with the engine's answer.
    private static func request(_ method: String, _ path: String, timeout: Double = 30) async throws -> String {
        let run = try await CommandRun.run(curl, ["-sS", "--fail-with-body", "--max-time", "\(Int(timeout))",
                                                  "--unix-socket", socket, "-X", method, "http://engine\(path)"],
                                           seconds: timeout + 5)
        guard run.status == 0 else { throw Failure(description: "engine API \(method) \(path) failed: \(run)") }
        return run.stdout
    }
}
