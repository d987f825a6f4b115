import CommandLineAdvice
import Foundation
import Logging
import Testing
import Workers

/// `--log-format json` (docs/OPERATIONS.md, "Logs"): one JSON object per
/// line, the metadata as fields; a bad value is refused with the choices.
@Suite("Log format: text or json, one object per line", .timeLimit(.minutes(3)))
struct LogFormatTests {
    private static func object(_ line: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }

    @Test("a line: the fixed fields, metadata as fields (nested too), escapes, and a metadata key that names a fixed field kept apart")
    func line() throws {
        var handler = JSONLogHandler(label: "greenroom.test", level: .debug, metadataProvider: nil)
        handler[metadataKey: "worker"] = "w-1"
        let event = LogEvent(level: .warning, message: "quote \" backslash \\ newline \n tab \t bell \u{7} ünï",
                             metadata: ["actor": "counter/1", "message": "m-1", "attempts": .stringConvertible(3),
                                        "types": .array(["a", "b"]), "nested": .dictionary(["k": "v"])],
                             source: "Workers", file: #fileID, function: #function, line: #line)
        let text = handler.line(event, at: Date(timeIntervalSince1970: 1_795_000_000.5))
        #expect(text.hasSuffix("}\n") && text.filter { $0 == "\n" }.count == 1)
        let object = try #require(Self.object(text), "\(text)")
        #expect(object["time"] as? String == "2026-11-18T11:06:40.500Z")
        #expect(object["level"] as? String == "warning")
        #expect(object["label"] as? String == "greenroom.test")
        #expect(object["message"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{7} ünï")
        #expect(object["source"] as? String == "Workers")
        #expect(object["worker"] as? String == "w-1")
        #expect(object["actor"] as? String == "counter/1")
        #expect(object["metadata.message"] as? String == "m-1")
        #expect(object["attempts"] as? String == "3")
        #expect(object["types"] as? [String] == ["a", "b"])
        #expect((object["nested"] as? [String: String]) == ["k": "v"])
        #expect(text.hasPrefix(#"{"time":"#))
    }

    @Test("a worker process with --log-format json writes only JSON objects, with the fields")
    func workerJSON() async throws {
        try await withFleet { fleet in
            let worker = try await fleet.startWorker("json", environment: ["GREENROOM_LOG_FORMAT": "json"])
            let status = try await fleet.finish(stopping: worker)
            #expect(status == 0)
            let log = try String(contentsOfFile: fleet.logPath("json"), encoding: .utf8)
            let lines = log.split(separator: "\n").map(String.init)
            #expect(lines.count >= 3, "\(log)")
            for line in lines {
                let object = try #require(Self.object(line), "not a JSON object: \(line)")
                for field in ["time", "level", "label", "message", "source"] {
                    #expect(object[field] is String, "\(field) missing in \(line)")
                }
            }
            #expect(lines.contains { Self.object($0)?["partitions"] != nil || Self.object($0)?["worker"] != nil }, "no metadata field in\n\(log)")
        }
    }

    @Test("a bad --log-format or GREENROOM_LOG_FORMAT is refused, naming text and json")
    func badValue() async throws {
        let runs = [
            try await CommandRun.run(WorkerProcess.binary, ["--log-format", "xml"]),
            try await CommandRun.run(WorkerProcess.binary, [], environment: ["GREENROOM_LOG_FORMAT": "yaml"]),
            try await CommandRun.run("enqueue", ["status", "--log-format", "xml"]),
            try await CommandRun.run("enqueue", ["status"], environment: ["GREENROOM_LOG_FORMAT": "yaml"]),
        ]
        for run in runs {
            #expect(run.status == CommandRun.usageError, "\(run)")
            #expect(run.errorLines.contains { $0.contains("must be text or json") }, "\(run)")
        }
    }
}
