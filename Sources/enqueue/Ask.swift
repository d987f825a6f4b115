import ArgumentParser
import Foundation
import Workers

/// `enqueue ask`: send a message and print the actor's reply.
struct Ask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a message and print the reply.",
        discussion: "enqueue ask counter/42 get   →   {\"count\":3}")

    @OptionGroup var servers: ServerOptions
    @Argument(help: "Target address, TYPE/ID.") var address: String
    @Argument(help: "Message kind.") var kind: String
    @Argument(help: "JSON payload (default {}).") var payload: String = "{}"
    @Option(help: "Seconds to wait for the reply.") var timeout: Double = 10
    @Flag(help: #"Print {"kind": the reply's kind, "reply": its payload}."#) var json = false
    @OptionGroup var tracing: TraceOptions

    func validate() throws {
        _ = try parseAddress(address)
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        let trace = try tracing.headers()
        let reply = try await withClient(servers) { client in
            try await client.ask(try parseAddress(address), kind: kind, payload: Array(payload.utf8), timeout: seconds(timeout), trace: trace)
        }
        print(json ? try replyJSON(reply) : reply.text)
    }

    /// The reply's payload goes in as it is when it is JSON, else as a string.
    private func replyJSON(_ reply: GreenroomClient.Reply) throws -> String {
        let payload = (try? JSONSerialization.jsonObject(with: Data(reply.payload), options: [.fragmentsAllowed])) ?? reply.text
        let object: [String: Any] = ["kind": reply.kind, "reply": payload]
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}

/// `enqueue spawn`: create an actor.
struct Spawn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create an actor (with an initial state, or its type's).",
        discussion: "enqueue spawn counter 42 --state '{\"count\": 10}'   →   counter/42")

    @OptionGroup var servers: ServerOptions
    @Argument(help: "Actor type.") var type: String
    @Argument(help: "Actor ID (a fresh unique one when omitted).") var id: String?
    @Option(help: "Initial state as JSON.") var state: String?
    @Option(help: "Seconds to wait for the worker to confirm.") var timeout: Double = 10
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var tracing: TraceOptions

    func validate() throws {
        _ = try ActorAddress(type: type, id: id ?? "x")
    }

    func run() async throws {
        let trace = try tracing.headers()
        let address = try await withClient(servers) { client in
            try await client.spawn(type: type, id: id, state: state.map { Array($0.utf8) }, timeout: seconds(timeout), trace: trace)
        }
        print(json ? #"{"spawned":"\#(address)"}"# : address.description)
    }
}

/// `enqueue stop`: stop an actor and its children.
struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop an actor and, recursively, its children.")

    @OptionGroup var servers: ServerOptions
    @Argument(help: "Address, TYPE/ID.") var address: String
    @Option(help: "Seconds to wait for the worker to confirm.") var timeout: Double = 10
    @Flag(help: #"Print {"stopped": address, "children": how many live children it passed the stop on to}."#) var json = false

    func validate() throws { _ = try parseAddress(address) }

    func run() async throws {
        let target = try parseAddress(address)
        let children = try await withClient(servers) { client in
            let children = try await client.children(of: target)
            try await client.stop(target, timeout: seconds(timeout))
            return children.count
        }
        if json {
            print(#"{"children":\#(children),"stopped":"\#(target)"}"#)
        } else {
            print("stopped \(target)" + (children == 0 ? "" : "; its \(children) live child\(children == 1 ? "" : "ren") stop in turn"))
        }
    }
}

/// `enqueue state`: print an actor's committed state.
struct State: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print an actor's committed state.")

    @OptionGroup var servers: ServerOptions
    @Argument(help: "Address, TYPE/ID.") var address: String
    @Flag(help: "Print exactly the state object (pretty-printed otherwise).") var json = false

    func validate() throws { _ = try parseAddress(address) }

    func run() async throws {
        let target = try parseAddress(address)
        let bytes = try await withClient(servers) { client in try await client.state(of: target) }
        if json {
            print(String(decoding: bytes, as: UTF8.self))
        } else {
            let object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed])
            print("\(target):\n" + String(decoding: pretty, as: UTF8.self))
        }
    }
}

/// `enqueue find`: actors by type, children, or existence.
struct Find: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find live actors: by type, an actor's children, or whether one exists.")

    @OptionGroup var servers: ServerOptions
    @Option(help: "Every live actor of this type.") var type: String?
    @Option(help: "The live children of this actor.") var children: String?
    @Option(help: "Whether this actor is live (exit 1 if not).") var exists: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard [type, children, exists].compactMap({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --type, --children, --exists")
        }
        if let type { try ActorAddress.validate(type: type) }
        if let children { _ = try parseAddress(children) }
        if let exists { _ = try parseAddress(exists) }
    }

    func run() async throws {
        let found: [ActorAddress] = try await withClient(servers) { client in
            if let type { return try await client.find(type: type) }
            if let children { return try await client.children(of: try parseAddress(children)) }
            let address = try parseAddress(exists!)
            return try await client.exists(address) ? [address] : []
        }
        if json {
            print("[" + found.map { "\"\($0)\"" }.joined(separator: ",") + "]")
        } else {
            for address in found { print(address) }
        }
        if exists != nil, found.isEmpty { throw ExitCode(1) }
    }
}
