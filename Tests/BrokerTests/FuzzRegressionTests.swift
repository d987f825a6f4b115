@testable import Broker
import Foundation
import Testing

/// Inputs scripts/fuzz found (Fuzz/Corpus/*/regression-*), each fed to what
/// it broke, so the bug stays fixed without running the fuzzer.
@Suite("Fuzzer findings stay fixed", .timeLimit(.minutes(1)))
struct FuzzRegressionTests {
    /// FuzzURL: quotes inside a password holding an unescaped '/' put the
    /// problem's quoted fragments out of step, and the old fragment masking
    /// printed a piece of the password (Fuzz/Corpus/url/regression-quotes-in-password).
    @Test("a password with quotes and an unescaped '/' is not shown by the URL error")
    func quotesInPassword() throws {
        let bytes = try #require(Data(base64Encoded: "cmVkaXM6Ly9hcHBAJycn/ycnJycnJycnLzAwmJgnJ/////8nJycn/ycAAAAAAAAAAABjb25uZWN0aW9uX3RpbWVvdXQuLzpwJj0zLzouLzpwJj0zLzAwmC5zJXUyMDAwJycnJzouLzpwQC86cCY9My8wMA=="))
        let text = String(decoding: bytes, as: UTF8.self)
        let password = String(text[try #require(Redaction.passwordSpan(in: text))])
        for parse in [{ _ = try AMQPConfiguration(url: text) }, { _ = try RedisConfiguration(url: text) }] as [() throws -> Void] {
            let error = try #require(throws: URLFormatError.self) { try parse() }
            #expect(!error.description.contains(password), "\(error)")
        }
    }
}
