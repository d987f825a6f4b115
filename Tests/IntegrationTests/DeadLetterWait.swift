import Foundation
import Workers

/// Takes this test's dead letters (target or body naming `suffix`) until
/// `done` holds for everything taken so far; returns them all.
///
/// The dead-letter queue is shared by every test running at once, and a
/// browse only sees what is ready: letters another test is browsing at that
/// moment are unacked, hidden. So a count taken from one snapshot can miss a
/// letter that is there; this waits for the letters it expects by identity.
func takeDeadLetters(_ client: GreenroomClient, suffix: String, seconds: Double = 60,
                     until done: @escaping @Sendable ([DeadLetter]) -> Bool) async throws -> [DeadLetter] {
    let collected = Collected()
    try await eventually(seconds, "the expected dead letters") {
        let batch = try await client.takeDeadLetters(limit: deadLetterLookLimit, timeout: .milliseconds(300)) { letter in
            letter.target?.contains("-\(suffix)/") == true || letter.body.contains(suffix)
        }
        _ = await collected.add(batch)
        return done(await collected.all)
    }
    return await collected.all
}

/// How many dead letters a test looks through to find its own. The queue is
/// shared, and the letters a take leaves go back to its head: with more than
/// this many of other runs' letters in front, a test would never see its own
/// (seen: 1,257 left by other runs, with the client's default of 1,000).
let deadLetterLookLimit = 20_000

/// Until every message id in `ids` has a dead letter.
func takeDeadLetters(_ client: GreenroomClient, suffix: String, ids: Set<String>, seconds: Double = 60) async throws -> [DeadLetter] {
    try await takeDeadLetters(client, suffix: suffix, seconds: seconds) { letters in
        ids.isSubset(of: Set(letters.compactMap(\.messageID)))
    }
}
