import ArgumentParser
import Foundation
import Workers

/// `enqueue send`: one message, or many from a JSON-lines file or stdin.
struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a message to an actor (or many, from JSON lines).",
        discussion: """
            One message:   enqueue send counter/42 add '{"by": 1}'
            Many messages: enqueue send --file messages.jsonl   (or --file - for stdin)
            Each line: {"to": "counter/42", "kind": "add", "payload": {"by": 1}, "id": "optional-dedup-id"}
            Later:         enqueue send counter/42 add '{"by": 1}' --delay 5s   (250ms, 2m, 1h, 1d, 1h30m; at most 365 days)
                           enqueue send counter/42 add --at 2026-12-01T10:00:00Z
            --delay and --at apply to every message of a --file, all due at the same time.
            Returns once RabbitMQ has confirmed every message (a delayed one is then stored, and handled when due).
            """)

    @OptionGroup var servers: ServerOptions

    @Argument(help: "Target address, TYPE/ID.") var address: String?
    @Argument(help: "Message kind, e.g. add.") var kind: String?
    @Argument(help: "JSON payload (default {}).") var payload: String = "{}"

    @Option(help: "Read JSON lines from this file ('-' for stdin) instead of arguments.") var file: String?
    @Option(help: "Message id (the dedup key); a fresh one when omitted.") var id: String?
    @Flag(help: "Create the actor on first message if it was never spawned.") var spawn = false
    // Unconditional, so `--delay -5s` reaches the check that says a delay cannot be negative.
    @Option(parsing: .unconditional, help: .init("Handle the message(s) this long from now: 250ms, 5s, 2m, 1h, 1d, 1h30m (at most 365 days).", valueName: "duration"))
    var delay: String?
    @Option(help: .init("Handle the message(s) at this time, ISO 8601 with a zone: 2026-12-01T10:00:00Z.", valueName: "time"))
    var at: String?
    @Flag(help: "Print a JSON summary.") var json = false
    @OptionGroup var tracing: TraceOptions

    func validate() throws {
        if file == nil {
            guard let address, kind != nil else { throw ValidationError("give ADDRESS and KIND, or --file") }
            _ = try parseAddress(address)
            guard (try? JSONSerialization.jsonObject(with: Data(payload.utf8), options: [.fragmentsAllowed])) != nil else {
                throw ValidationError("the payload is not valid JSON: \(payload)")
            }
        } else if address != nil {
            throw ValidationError("give either ADDRESS KIND [JSON] or --file, not both")
        }
        _ = try SendTime(delay: delay, at: at).notBefore()
    }

    func run() async throws {
        let notBefore = try SendTime(delay: delay, at: at).notBefore()
        let trace = try tracing.headers()
        let sent: Int = try await withClient(servers) { client in
            if let file {
                return try await sendLines(from: file, notBefore: notBefore, trace: trace, client: client)
            }
            try await client.send([.init(to: try parseAddress(address!), kind: kind!, payload: Array(payload.utf8), id: id, spawnIfMissing: spawn,
                                         notBefore: notBefore, trace: trace)])
            return 1
        }
        let due = notBefore.map(DelayText.iso8601)
        if json {
            print(#"{"sent":\#(sent)"# + (due.map { #","due":"\#($0)""# } ?? "") + "}")
        } else {
            print("sent \(sent) message\(sent == 1 ? "" : "s")" + (due.map { ", due at \($0)" } ?? ""))
        }
    }

    private func sendLines(from path: String, notBefore: Date?, trace: TraceHeaders?, client: GreenroomClient) async throws -> Int {
        // A file is checked whole before anything is sent, so a bad line late
        // in it leaves nothing half-sent. Standard input cannot be read twice:
        // its lines go out as they are read, and an error says how many did.
        if path != "-" {
            let checker = try LineReader(path: path)
            var lineNumber = 0
            while let line = checker.next() {
                lineNumber += 1
                if line.allSatisfy(\.isWhitespace) { continue }
                _ = try Self.parseLine(line, number: lineNumber, spawn: spawn, notBefore: notBefore)
            }
        }
        let reader = try LineReader(path: path)
        let progress = Progress(total: path == "-" ? nil : reader.byteCount)
        var batch: [GreenroomClient.Outgoing] = []
        var sent = 0
        var lineNumber = 0
        while let line = reader.next() {
            lineNumber += 1
            if line.allSatisfy(\.isWhitespace) { continue }
            do {
                var message = try Self.parseLine(line, number: lineNumber, spawn: spawn, notBefore: notBefore)
                message.trace = trace
                batch.append(message)
            } catch {
                throw BadInputLine(reason: "\(error)", sentBefore: sent)
            }
            if batch.count == 500 {
                try await client.send(batch)
                sent += batch.count
                batch.removeAll(keepingCapacity: true)
                progress.update(sent: sent, bytes: reader.bytesRead)
            }
        }
        if !batch.isEmpty {
            try await client.send(batch)
            sent += batch.count
        }
        progress.finish(sent: sent)
        return sent
    }

    static func parseLine(_ line: String, number: Int, spawn: Bool, notBefore: Date?) throws -> GreenroomClient.Outgoing {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw BadLine("line \(number) is not a JSON object: \(line.prefix(80))")
        }
        guard let to = object["to"] as? String, let kind = object["kind"] as? String else {
            throw BadLine("line \(number) needs string fields \"to\" and \"kind\"")
        }
        let address: ActorAddress
        do { address = try ActorAddress(parsing: to) } catch { throw BadLine("line \(number): \(error)") }
        let payload = try JSONSerialization.data(withJSONObject: object["payload"] ?? [String: Any](), options: [.fragmentsAllowed])
        return .init(to: address, kind: kind, payload: Array(payload), id: object["id"] as? String,
                     spawnIfMissing: spawn || (object["spawn"] as? Bool ?? false), notBefore: notBefore, trace: nil)
    }
}

/// A line of a `--file` that is not a message; nothing of the file was sent.
struct BadLine: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A bad line on standard input, after `sentBefore` messages had gone out.
struct BadInputLine: Error, CustomStringConvertible {
    let reason: String
    let sentBefore: Int
    var description: String {
        sentBefore == 0 ? "\(reason); nothing was sent" : "\(reason); the \(sentBefore) messages before it were sent (standard input is sent as it is read)"
    }
}
