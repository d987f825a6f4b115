import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A certificate authority and certificates made with the `openssl` command
/// line for one test, in a temporary directory: `ca.pem`, a server
/// certificate for 127.0.0.1 and localhost (`server.pem`, `server.key`), a
/// client certificate (`client.pem`, `client.key`), and a second, unrelated
/// CA (`other-ca.pem`) that must not be trusted.
struct TestCertificates: Sendable {
    let directory: String

    var caCertificate: String { "\(directory)/ca.pem" }
    var otherCACertificate: String { "\(directory)/other-ca.pem" }
    var serverCertificate: String { "\(directory)/server.pem" }
    var serverKey: String { "\(directory)/server.key" }
    var clientCertificate: String { "\(directory)/client.pem" }
    var clientKey: String { "\(directory)/client.key" }

    static let openssl = "/usr/bin/openssl"

    /// Generates everything (EC P-256 keys: quick). Throws when `openssl` is
    /// missing (install it: apt-get install openssl) or fails.
    static func make() async throws -> TestCertificates {
        guard FileManager.default.isExecutableFile(atPath: openssl) else {
            throw OpenSSLFailed(arguments: [], output: "\(openssl) is missing: apt-get install openssl")
        }
        var template = Array("/tmp/greenroom-certs-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        let certificates = TestCertificates(directory: directory)
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for name in ["ca", "other-ca"] {
            try await run(["req", "-x509"] + key + ["-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).pem",
                                                    "-days", "2", "-subj", "/CN=greenroom test \(name)"])
        }
        // rabbitmq-c 0.11 checks the host name against DNS names and the CN
        // only, so 127.0.0.1 is there as a DNS name as well as an IP address.
        let uses = ["server": "serverAuth", "client": "clientAuth"]
        for (name, use) in uses {
            try """
                subjectAltName = IP:127.0.0.1, DNS:127.0.0.1, DNS:localhost
                basicConstraints = CA:FALSE
                keyUsage = digitalSignature, keyEncipherment
                extendedKeyUsage = \(use)

                """.write(toFile: "\(directory)/\(name).ext", atomically: true, encoding: .utf8)
            try await run(["req"] + key + ["-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).csr", "-subj", "/CN=127.0.0.1"])
            try await run(["x509", "-req", "-in", "\(directory)/\(name).csr", "-CA", "\(directory)/ca.pem", "-CAkey", "\(directory)/ca.key",
                           "-CAcreateserial", "-days", "2", "-out", "\(directory)/\(name).pem", "-extfile", "\(directory)/\(name).ext"])
        }
        return certificates
    }

    private static func run(_ arguments: [String]) async throws {
        let output = "/tmp/greenroom-openssl-\(getpid())-\(UUID().uuidString.prefix(8)).out"
        defer { unlink(output) }
        let process = try ChildProcess(openssl, arguments, logPath: output)
        let status = await process.exited(within: 60)
        guard status == 0 else {
            throw OpenSSLFailed(arguments: arguments, output: (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
        }
    }

    /// Deletes the directory.
    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct OpenSSLFailed: Error, CustomStringConvertible {
    let arguments: [String]
    let output: String
    var description: String { "openssl \(arguments.joined(separator: " ")) failed:\n\(output)" }
}
