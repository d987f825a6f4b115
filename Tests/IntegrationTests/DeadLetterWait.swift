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
        let batch = try await client.takeDeadLetters(limit: scanEveryDeadLetter, timeout: .milliseconds(300)) { letter in
            letter.target?.contains("-\(suffix)/") == true || letter.body.contains(suffix)
        }
        _ = await collected.add(batch)
        return done(await collected.all)
    }
    return await collected.all
}

/// Until every message id in `ids` has a dead letter.
func takeDeadLetters(_ client: GreenroomClient, suffix: String, ids: Set<String>, seconds: Double = 60) async throws -> [DeadLetter] {
    try await takeDeadLetters(client, suffix: suffix, seconds: seconds) { letters in
        ids.isSubset(of: Set(letters.compactMap(\.messageID)))
    }
}

/// How many dead letters a test's scan of greenroom.dead looks at: all of
/// them. The shared queue keeps letters of earlier runs that ended before
/// cleaning up; with the client's default (the first 1,000) a test's own
/// letter, queued behind them, would never be seen.
let scanEveryDeadLetter = 65_535
