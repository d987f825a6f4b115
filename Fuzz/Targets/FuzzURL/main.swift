import FuzzDriver
@testable import Broker

/// The libFuzzer target: the URL parsers (ServerURL, AMQPConfiguration,
/// RedisConfiguration) and the password masking must never crash; what they
/// accept is usable (a host, a port in range), and an error never shows the
/// password span of the text it quotes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzURL(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: start, count: start == nil ? 0 : count), as: UTF8.self)
    let masked = Redaction.url(text)
    if let span = Redaction.passwordSpan(in: text), span.isEmpty == false {
        precondition(masked.contains("***"), "\(text.debugDescription) masked as \(masked.debugDescription)")
    }
    do {
        let amqp = try AMQPConfiguration(url: text)
        precondition(!amqp.host.isEmpty && (1...65535).contains(amqp.port), "\(text.debugDescription) → \(amqp)")
    } catch {
        check(error, about: text)
    }
    do {
        let redis = try RedisConfiguration(url: text)
        precondition(!redis.host.isEmpty && (1...65535).contains(redis.port) && redis.database >= 0, "\(text.debugDescription) → \(redis)")
    } catch {
        check(error, about: text)
    }
    return 0
}

/// An error quotes the URL masked, and its problem shows no piece of the
/// password. A piece is any three characters of it in a row that hold a
/// non-ASCII character (not U+FFFD, which invalid bytes become anywhere)
/// and no quote mark, and that appear nowhere outside the credentials: the
/// fixed English of a problem cannot hold such a piece by chance, and a
/// quote mark next to a quoted name could complete one (the fuzzer found
/// `'\u{FFFD}'` that way, twice). Outside is compared up to case.
private func check(_ error: URLFormatError, about text: String) {
    precondition(error.url == Redaction.url(text), "the error for \(text.debugDescription) quotes \(error.url.debugDescription)")
    guard let span = Redaction.passwordSpan(in: text) else { return }
    let password = Array(text[span])
    guard password.count >= 3 else { return }
    let outside = String(text[..<span.lowerBound]) + "\u{0}" + String(text[span.upperBound...])
    for start in 0...(password.count - 3) {
        let piece = password[start..<start + 3]
        guard !piece.contains("'"), piece.contains(where: { $0 != "\u{FFFD}" && $0.unicodeScalars.contains { !$0.isASCII } }) else { continue }
        let fragment = String(piece)
        // Up to case: a problem quotes the scheme lowercased, and the scheme
        // may hold the same characters as the password (the fuzzer found one).
        precondition(outside.lowercased().contains(fragment.lowercased()) || !error.problem.contains(fragment),
                     "the error for \(text.debugDescription) shows a piece of its password (\(fragment.debugDescription)): \(error)")
    }
}

runFuzzer { start, count in fuzzURL(start, count) }
