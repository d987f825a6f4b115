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

/// An error quotes the URL masked, and its problem never shows the password
/// unless it also appears outside the credentials. Checked for passwords
/// holding a non-ASCII character, so that the fixed English of a problem
/// ("redis://host") cannot match by chance. (The whole description is not
/// searched: its quote marks around the masked URL can complete a password
/// such as `\u{FFFD}'`, which the fuzzer found.)
private func check(_ error: URLFormatError, about text: String) {
    precondition(error.url == Redaction.url(text), "the error for \(text.debugDescription) quotes \(error.url.debugDescription)")
    guard let span = Redaction.passwordSpan(in: text) else { return }
    let password = String(text[span])
    guard password.unicodeScalars.contains(where: { !$0.isASCII }) else { return }
    let outside = String(text[..<span.lowerBound]) + "\u{0}" + String(text[span.upperBound...])
    precondition(outside.contains(password) || !error.problem.contains(password),
                 "the error for \(text.debugDescription) shows its password: \(error)")
}

runFuzzer { start, count in fuzzURL(start, count) }
