import Broker
import CommandLineAdvice
import Foundation
import Hummingbird
import Workers

/// The dashboard's JSON endpoints, under `/api/`. Every read and change goes
/// through `GreenroomClient`; a failure is a JSON `{"error": …}` with the
/// same one line (and advice) the command line would print, never a crash.
///
///     GET  /api/status?type=a,b                 workers, partitions (of those types), dead-letter count, turn rates, readAt
///     GET  /api/actor?address=TYPE/ID           state (as stored) and children
///     GET  /api/dead?type=&reason=&id=&limit=   dead letters, oldest first (they stay queued)
///     GET  /api/dead/stats                      counts by type and reason class
///     POST /api/dead/replay  {"type","reason","id","limit"}
///     POST /api/dead/purge   {"type","reason","id"} — or {"all": true} for every letter
///
/// The POSTs take only `Content-Type: application/json` and, when the browser
/// names an `Origin`, only this server's: another web site open in the same
/// browser cannot replay or purge through it.
struct DashboardAPI: Sendable {
    let clients: DashboardClients
    let turnRates: DashboardTurnRates

    /// `/api/status`'s answer.
    struct StatusReply: Encodable {
        var status: FleetStatus
        var rates: [DashboardTurnRates.TypeRate]
        /// When it was read, in Unix milliseconds (the dashboard's clock, as
        /// `enqueue status` uses its own): how long ago a worker was last seen
        /// is measured from here, not from the browser's clock.
        var readAt: Int64
    }

    /// `/api/actor`'s answer.
    struct ActorReply: Encodable {
        var address: String
        /// The state as stored (JSON text).
        var state: String
        var children: [String]
    }

    /// A replay's or purge's filter, from the request body.
    struct DeadLetterRequest: Decodable {
        var type: String?
        var reason: String?
        var id: String?
        var limit: Int?
        /// A purge without a filter must say so.
        var all: Bool?

        var filter: DeadLetterFilter {
            DeadLetterFilter(type: type.nonEmpty, reason: reason.nonEmpty, id: id.nonEmpty)
        }
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/api/status") { request, _ in
            await respond {
                // ?type=a,b: only those types' partitions (each partition costs a
                // Redis and a RabbitMQ round trip); the workers are all listed.
                let types = request.uri.queryParameters["type"].map { Set($0.split(separator: ",").map(String.init)) }
                let status = try await clients.with { try await $0.status(types: types?.isEmpty == false ? types : nil) }
                return StatusReply(status: status, rates: await turnRates.update(status.workers.map(\.info)),
                                   readAt: Int64(Date().timeIntervalSince1970 * 1_000))
            }
        }
        router.get("/api/actor") { request, _ in
            await respond {
                let text = request.uri.queryParameters["address"].map(String.init) ?? ""
                guard !text.isEmpty else { throw BadRequest("name an actor: /api/actor?address=TYPE/ID") }
                let address = try ActorAddress(parsing: text)
                return try await clients.with { client in
                    ActorReply(address: address.description,
                               state: String(decoding: try await client.state(of: address), as: UTF8.self),
                               children: try await client.children(of: address).map(\.description).sorted())
                }
            }
        }
        router.get("/api/dead") { request, _ in
            await respond {
                let query = request.uri.queryParameters
                let filter = DeadLetterFilter(type: query["type"].map(String.init).nonEmpty,
                                              reason: query["reason"].map(String.init).nonEmpty,
                                              id: query["id"].map(String.init).nonEmpty)
                let limit = try Self.limit(query["limit"].map(String.init), default: 50)
                return ["letters": try await clients.with { try await $0.deadLetters(matching: filter, limit: limit) }]
            }
        }
        router.get("/api/dead/stats") { _, _ in
            await respond { try await clients.with { try await $0.deadLetterStats() } }
        }
        router.post("/api/dead/replay") { request, context in
            await respond {
                let body = try await Self.change(request, context)
                let limit = try Self.limit(body.limit.map(String.init), default: 100)
                return ["replayed": try await clients.with { try await $0.replayDeadLetters(matching: body.filter, limit: limit) }]
            }
        }
        router.post("/api/dead/purge") { request, context in
            await respond {
                let body = try await Self.change(request, context)
                guard !body.filter.isEmpty || body.all == true else {
                    throw BadRequest("a purge without a filter deletes every dead letter: send {\"all\": true} to mean it")
                }
                return ["purged": try await clients.with { try await $0.purgeDeadLetters(matching: body.filter) }]
            }
        }
    }

    /// A change's body, after checking it came from this dashboard's page.
    private static func change(_ request: Request, _ context: BasicRequestContext) async throws -> DeadLetterRequest {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
            throw BadRequest("send the filter as JSON (Content-Type: application/json)")
        }
        if let origin = request.headers[.origin], origin != "http://\(request.head.authority ?? "")" {
            throw BadRequest("refused a change from another site (\(origin))", status: .forbidden)
        }
        do {
            return try await request.decode(as: DeadLetterRequest.self, context: context)
        } catch {
            throw BadRequest("the body is not a filter: {\"type\", \"reason\", \"id\", \"limit\"}, each optional")
        }
    }

    private static func limit(_ text: String?, default value: Int) throws -> Int {
        guard let text, !text.isEmpty else { return value }
        guard let limit = Int(text), (1...100_000).contains(limit) else { throw BadRequest("limit must be from 1 to 100000") }
        return limit
    }
}

/// A request the dashboard cannot answer as asked (4xx).
struct BadRequest: Error, CustomStringConvertible {
    let description: String
    let status: HTTPResponse.Status

    init(_ description: String, status: HTTPResponse.Status = .badRequest) {
        self.description = description
        self.status = status
    }
}

/// Runs `body` and answers with its value as JSON, or with `{"error": …}`
/// and a status that says whose fault it was: 4xx the request's, 502 a
/// server's (RabbitMQ or Redis), 500 anything else.
private func respond<T: Encodable>(_ body: () async throws -> T) async -> Response {
    do {
        return jsonResponse(try await body())
    } catch {
        let status: HTTPResponse.Status = switch error {
        case let error as BadRequest: error.status
        case is AddressError: .badRequest
        case is ActorNotFound, is UnknownActorType: .notFound
        case is AMQPError, is RedisError: .badGateway
        default: .internalServerError
        }
        return jsonResponse(["error": Advice.line(for: error)], status: status)
    }
}

private let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
}()

private func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    let data = (try? encoder.encode(value)) ?? Data(#"{"error":"the answer could not be encoded as JSON"}"#.utf8)
    return Response(status: status,
                    headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

extension Optional<String> {
    /// nil for an empty string too (an empty form field means "any").
    fileprivate var nonEmpty: String? { self.flatMap { $0.isEmpty ? nil : $0 } }
}
