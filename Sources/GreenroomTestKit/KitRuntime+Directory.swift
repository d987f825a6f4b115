import Foundation
import Workers

/// What a turn's `context.children()`, `find` and `exists` ask, and what
/// tests read: answered from the actor table.
extension KitRuntime: ActorDirectory {
    func children(of address: ActorAddress) async throws -> [ActorAddress] { liveChildren(of: address) }
    func actors(ofType type: String) async throws -> [ActorAddress] { live(ofType: type) }
    func exists(_ address: ActorAddress) async throws -> Bool { isLive(address) }

    func liveChildren(of address: ActorAddress) -> [ActorAddress] {
        world.withLock { world in
            (world.actors[address]?.children ?? []).filter { world.actors[$0]?.active == true }.sorted { $0.description < $1.description }
        }
    }

    func live(ofType type: String) -> [ActorAddress] {
        world.withLock { world in
            world.actors.filter { $0.key.type == type && $0.value.active }.keys.sorted { $0.description < $1.description }
        }
    }

    func isLive(_ address: ActorAddress) -> Bool {
        world.withLock { $0.actors[address]?.active == true }
    }

    /// The committed state of a live actor (as its behaviour's value when
    /// `S` is its state type), nil for an actor that is not running.
    func state<S: Decodable>(of address: ActorAddress, as type: S.Type) -> S? {
        let found = world.withLock { world -> (bytes: [UInt8], decoded: (any Sendable)?)? in
            guard let actor = world.actors[address], actor.active else { return nil }
            return (actor.state, actor.decoded)
        }
        guard let found else { return nil }
        if let value = found.decoded as? S { return value }
        return try? JSONDecoder().decode(S.self, from: Data(found.bytes))
    }

    /// The committed state of an actor, live or stopped, as JSON.
    func stateJSON(of address: ActorAddress, includingStopped: Bool = false) -> String? {
        world.withLock { world in
            guard let actor = world.actors[address], actor.active || includingStopped else { return nil }
            return String(decoding: actor.state, as: UTF8.self)
        }
    }
}
