import Foundation
import Synchronization
import Testing
import Workers

/// The dashboard in a real browser: Debian's headless `chromium` (scripts/test
/// installs it) loads the page against a running worker process and the test
/// reads what the page shows from the DOM the page's scripts built. It keeps
/// a screenshot in test-artifacts/dashboard.png.
@Suite("enqueue dashboard in headless Chromium", .timeLimit(.minutes(8)))
struct DashboardBrowserTests {
    @Test("the page shows the live workers, a known actor's state and children, and markup in dead letters as text")
    func pageInChromium() async throws {
        try await withFleet(partitions: 2) { fleet in
            _ = try await fleet.startWorker("w1")
            let scenario = try await DashboardScenario.make(fleet)
            let ours = try #require(try await fleet.client.status().workers.first { $0.info.types.contains(scenario.counterType) }?.info.id)
            try await eventually(60, "the dead letters queued") {
                try await fleet.client.deadLetters(matching: .init(type: scenario.counterType), limit: 10).count == 2
            }
            try await withDashboard { dashboard in
                // The dead letters filtered to the test's type. Other tests browse the
                // shared dead-letter queue too, which hides letters for a moment: load
                // the page again until they are listed.
                let escaped = #"&lt;b id="pwned-\#(fleet.suffix)"&gt;x&lt;/b&gt;"#
                // ?type=: only our types' partitions (the shared servers hold thousands).
                let types = "type=\(scenario.counterType),\(fleet.type("probe"))"
                let page = dashboard.base + "/?actor=\(scenario.counter)&dead-type=\(scenario.counterType)&\(types)"
                let loaded = Mutex("")
                try await eventually(120, "the page listing the test's dead letters") {
                    let dom = try await Chromium.dumpDOM(page)
                    loaded.withLock { $0 = dom }
                    return dom.contains(escaped) || dom.contains(scenario.markup)
                }
                let dom = loaded.withLock { $0 }

                // The worker count is the number of rows in the workers table
                // (other tests' workers share the servers), and ours is one of them.
                let count = try #require(Self.text(of: "worker-count", in: dom).flatMap { Int($0) }, "no worker count in:\n\(dom)")
                let workers = try #require(Self.section(#"<table id="workers">"#, in: dom))
                #expect(count >= 1)
                #expect(workers.components(separatedBy: "<tr>").count - 2 == count, "one row per live worker (plus the header)")
                #expect(workers.contains("<td>\(ours)</td>"), "our worker \(ours) listed")

                // Only the types asked for.
                let partitions = try #require(Self.section(#"<div id="partitions">"#, in: dom))
                #expect(partitions.contains("<strong>\(scenario.counterType)</strong>  2 partitions, "), "\(partitions)")
                #expect(partitions.components(separatedBy: "<details").count - 1 == 2, "two types")

                // The known actor, looked up from ?actor=: its state, pretty-printed, and no children.
                let state = try #require(Self.section(#"<pre id="actor-state">"#, in: dom), "no actor state in:\n\(dom)")
                #expect(state.contains(#""count": 42"#), "\(state)")
                #expect(dom.contains("<h3>\(scenario.counter)</h3>"))

                // The dead letters' reasons quote their kind, markup: shown as text, never as elements.
                #expect(dom.contains(escaped), "the reason shown as text")
                #expect(!dom.contains(scenario.markup), "markup from a dead letter must not become an element")

                // The parent's children are links to their own lookup.
                let parentDOM = try await Chromium.dumpDOM(dashboard.base + "/?actor=\(scenario.parent)&\(types)")
                let children = try #require(Self.section(#"<ul id="actor-children">"#, in: parentDOM), "no children in:\n\(parentDOM)")
                #expect(children.contains(#"href="?actor=\#(scenario.child.description.replacingOccurrences(of: "/", with: "%2F"))""#), "\(children)")

                // An address with markup: the error quotes it, as text.
                let badDOM = try await Chromium.dumpDOM(dashboard.base + "/?actor=\(scenario.counterType)/%3Ci%20id%3Dbad%3E&\(types)")
                let error = try #require(Self.section(#"<div class="error" id="actor-error">"#, in: badDOM), "no lookup error in:\n\(badDOM)")
                #expect(error.contains("invalid actor address"))
                #expect(error.contains("&lt;i id=bad&gt;"), "\(error)")

                let screenshot = try await Chromium.screenshot(dashboard.base + "/?actor=\(scenario.parent)&\(types)",
                                                               to: "test-artifacts/dashboard.png")
                #expect(screenshot.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "a PNG file")
                #expect(screenshot.count > 10_000, "a rendered page, not an empty image: \(screenshot.count) bytes")
            }
        }
    }

    /// The text of the element with `id` (no markup inside it).
    static func text(of id: String, in dom: String) -> String? {
        guard let start = dom.range(of: #"id="\#(id)">"#), let end = dom[start.upperBound...].range(of: "<") else { return nil }
        return String(dom[start.upperBound..<end.lowerBound])
    }

    /// The DOM from `opening` to the end of that element's kind of tag (non-nested).
    static func section(_ opening: String, in dom: String) -> String? {
        guard let start = dom.range(of: opening) else { return nil }
        let tag = opening.dropFirst().prefix { $0 != " " && $0 != ">" }
        guard let end = dom[start.upperBound...].range(of: "</\(tag)>") else { return nil }
        return String(dom[start.lowerBound..<end.upperBound])
    }
}

/// Debian's `chromium`, headless, in a private profile removed afterwards.
enum Chromium {
    static let binary = "/usr/bin/chromium"

    /// The DOM after the page's scripts ran: virtual time stands still while
    /// a fetch is under way, so 4 s of it is the first poll and its follow-ups
    /// (the dead letters, the actor) answered, and the second poll too.
    static func dumpDOM(_ url: String) async throws -> String {
        let run = try await run(["--dump-dom", url])
        guard run.status == 0, run.stdout.contains("</html>") else { throw ChromiumFailed(run: run) }
        return run.stdout
    }

    /// Saves a screenshot of `url` at 1280×900 to `path` (relative to the
    /// package) and returns its bytes.
    static func screenshot(_ url: String, to path: String) async throws -> Data {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: file)
        let run = try await run(["--screenshot=\(file.path)", "--window-size=1280,900", "--hide-scrollbars", url])
        guard run.status == 0, let data = FileManager.default.contents(atPath: file.path) else { throw ChromiumFailed(run: run) }
        return data
    }

    private static func run(_ arguments: [String]) async throws -> CommandRun {
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw ChromiumMissing() }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("greenroom-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        // As root Chromium needs --no-sandbox; the rest keeps a container quiet.
        return try await CommandRun.run(binary, [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--user-data-dir=\(profile.path)", "--virtual-time-budget=4000", "--run-all-compositor-stages-before-draw",
        ] + arguments, seconds: 90)
    }
}

struct ChromiumMissing: Error, CustomStringConvertible {
    var description: String { "\(Chromium.binary) is not installed: scripts/test installs it (apt-get install chromium)" }
}

struct ChromiumFailed: Error, CustomStringConvertible {
    let run: CommandRun
    var description: String { "chromium failed: \(run)" }
}
