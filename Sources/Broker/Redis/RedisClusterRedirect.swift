/// What a cluster client does about a failed command: the error sorted by
/// whether the command ran, and where it should go instead.
enum RedisClusterRedirect: Equatable {
    /// `MOVED slot host:port`: the slot lives there now; update the map, retry there.
    case moved(slot: Int, to: RedisEndpoint)
    /// `ASK slot host:port`: the slot is being migrated and this key is
    /// already there; retry there once, after `ASKING`, without updating the map.
    case ask(RedisEndpoint)
    /// `TRYAGAIN` (a multi-key command during a migration), `CLUSTERDOWN`
    /// (a failover under way), `MASTERDOWN`, `LOADING`: nothing ran; retry
    /// after a short wait.
    case busy
    /// The node could not be reached: the command was never sent. Find the
    /// slot's master anew (a failover may have replaced it) and retry.
    case unreachable
    /// The connection broke or timed out with the command in flight: it may
    /// have run, so it is not retried; the map is refreshed for the next one.
    case inFlight
    /// Anything else: the command's own answer.
    case none

    init(_ error: RedisError) {
        switch error.code {
        case .connectFailed: self = .unreachable
        case .connectionLost, .timedOut: self = .inFlight
        case .server:
            let words = error.message.split(separator: " ")
            switch words.first {
            case "MOVED"?, "ASK"?:
                guard words.count == 3, let slot = Int(words[1]), (0..<RedisSlot.count).contains(slot),
                      let node = Self.endpoint(words[2]) else { self = .none; return }
                self = words[0] == "MOVED" ? .moved(slot: slot, to: node) : .ask(node)
            case "TRYAGAIN"?, "CLUSTERDOWN"?, "MASTERDOWN"?, "LOADING"?:
                self = .busy
            default:
                self = .none
            }
        default:
            self = .none
        }
    }

    /// `host:port` as Redis writes it in a redirect (an IPv6 host unbracketed).
    static func endpoint(_ text: Substring) -> RedisEndpoint? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return RedisEndpoint(host: String(host), port: port)
    }
}
