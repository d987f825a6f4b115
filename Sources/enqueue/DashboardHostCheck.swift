import Hummingbird

/// Answers only requests addressed to this machine by a loopback name when
/// the dashboard is bound to a loopback address. A web page the browser
/// loaded from elsewhere can point its own host name at 127.0.0.1 (DNS
/// rebinding) and so read the dashboard as "same origin"; such a request
/// still names that host in `Host`, and is refused here. Bound to another
/// address, the operator chose who reaches it, and every host name is taken.
struct DashboardHostCheck: RouterMiddleware {
    typealias Context = BasicRequestContext

    /// The host names taken; nil takes any.
    let allowed: Set<String>?

    init(boundTo host: String) {
        let loopback = host == "localhost" || host == "::1" || host.hasPrefix("127.")
        allowed = loopback ? ["localhost", "127.0.0.1", "[::1]", host.contains(":") ? "[\(host)]" : host] : nil
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let allowed, !allowed.contains(Self.hostName(request.head.authority ?? "")) {
            return Response(status: .forbidden, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: "the dashboard answers only requests to 127.0.0.1 or localhost\n")))
        }
        return try await next(request, context)
    }

    /// `authority` without its port, lowercased (`[::1]` keeps its brackets).
    static func hostName(_ authority: String) -> String {
        let text = authority.lowercased()
        if text.hasPrefix("["), let end = text.firstIndex(of: "]") { return String(text[...end]) }
        return String(text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }
}
