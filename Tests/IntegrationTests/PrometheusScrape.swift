import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A scrape of a worker's `/metrics`: the samples of Prometheus' text
/// format, by series name and labels.
struct PrometheusScrape: Sendable {
    struct Sample: Sendable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    let samples: [Sample]

    /// GETs `http://host:port/metrics`.
    static func fetch(port: Int, host: String = "127.0.0.1") async throws -> PrometheusScrape {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://\(host):\(port)/metrics")!)
        guard let http = response as? HTTPURLResponse, http.statusCode == 200 else {
            throw ScrapeFailed(description: "GET /metrics answered \(response)")
        }
        return PrometheusScrape(text: String(decoding: data, as: UTF8.self))
    }

    init(text: String) {
        samples = text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
            let series = line[..<space]
            guard let open = series.firstIndex(of: "{") else { return Sample(name: String(series), labels: [:], value: value) }
            var labels: [String: String] = [:]
            for pair in series[series.index(after: open)..<series.index(before: series.endIndex)].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
            }
            return Sample(name: String(series[..<open]), labels: labels, value: value)
        }
    }

    /// The value of the series `name` whose labels include `labels`; nil if none.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }?.value
    }

    struct ScrapeFailed: Error, CustomStringConvertible {
        let description: String
    }
}

/// A TCP port nobody listens on now (the kernel's pick, let go at once).
func freeTCPPort() throws -> Int {
    let listener = try ListeningSocket()
    return listener.port
}

/// A socket listening on 127.0.0.1 at a port the kernel picked, until closed.
final class ListeningSocket: @unchecked Sendable {
    let descriptor: Int32
    let port: Int

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length) == 0 && listen(descriptor, 8) == 0 && getsockname(descriptor, generic, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw PrometheusScrape.ScrapeFailed(description: "cannot listen on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}
