import Foundation
import Testing

/// The README's "Writing an actor" is the example package, line for line, so
/// that a newcomer who copies one has the other; and no document points
/// outside the repository (a clone has nothing there).
@Suite("The README shows examples/custom-worker as it is", .timeLimit(.minutes(1)))
struct CustomWorkerReadmeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let exampleFiles = [
        "examples/custom-worker/Sources/custom-worker/Tally.swift",
        "examples/custom-worker/Sources/custom-worker/main.swift",
        "examples/custom-worker/Tests/CustomWorkerTests/TallyTests.swift",
    ]

    @Test("each of the example's source files is a swift block of the README, whole", arguments: exampleFiles)
    func readmeQuotesTheExample(_ path: String) throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let file = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
        let quoted = readme.contains("```swift\n" + file + "```\n")
        #expect(quoted, "README.md does not show \(path) as it is; copy it into \"Writing an actor\"")
    }

    @Test("no document, source or script links into a shared directory beside the clone")
    func nothingLinksOutside() throws {
        let outside = ".." + "/shared/"  // spelt so that this file does not contain it
        var offenders: [String] = []
        let files = FileManager.default.enumerator(at: Self.root, includingPropertiesForKeys: nil, options: [.skipsHiddenFiles])
        while let url = files?.nextObject() as? URL {
            guard ["md", "swift", "py", "sh", "yaml"].contains(url.pathExtension) || url.deletingLastPathComponent().lastPathComponent == "scripts",
                  let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
            if text.contains(outside) {
                offenders.append(String(url.path.dropFirst(Self.root.path.count + 1)))
            }
        }
        #expect(offenders.isEmpty, "these link outside the repository: \(offenders)")
    }
}
