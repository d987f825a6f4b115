#if canImport(Glibc)
import Glibc
#endif

/// Opens a TCP connection with a deadline and a precise reason on failure
/// ("connection refused", "timed out after 5000 ms", "cannot resolve host …").
/// rabbitmq-c's own connect reports only "a socket error occurred", so the
/// AMQP connection opens its socket here and hands it to rabbitmq-c.
/// The socket is returned in non-blocking mode, with TCP_NODELAY and keepalive.
/// Redis uses it too (hiredis reports the OS error only as text), and makes
/// the socket blocking for hiredis.
enum TCPConnect {
    static func open(host: String, port: Int, timeoutMilliseconds: Int) -> Result<Int32, ConnectProblem> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let first = list else {
            return .failure(ConnectProblem(reason: "cannot resolve host '\(host)': \(String(cString: gai_strerror(resolved)))", osError: nil))
        }
        defer { freeaddrinfo(list) }

        var lastProblem = ConnectProblem(reason: "no address to connect to", osError: nil)
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let descriptor = socket(address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), address.pointee.ai_protocol)
            guard descriptor >= 0 else {
                lastProblem = ConnectProblem(errno)
                continue
            }
            let flags = fcntl(descriptor, F_GETFL)
            _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
            var problem: ConnectProblem?
            if connect(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) != 0 {
                if errno == EINPROGRESS {
                    var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                    let ready = poll(&poller, 1, Int32(clamping: timeoutMilliseconds))
                    if ready == 0 {
                        problem = ConnectProblem(reason: "timed out after \(timeoutMilliseconds) ms", osError: ETIMEDOUT)
                    } else if ready < 0 {
                        problem = ConnectProblem(errno)
                    } else {
                        var code: Int32 = 0
                        var length = socklen_t(MemoryLayout<Int32>.size)
                        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &code, &length)
                        if code != 0 { problem = ConnectProblem(code) }
                    }
                } else {
                    problem = ConnectProblem(errno)
                }
            }
            if let problem {
                lastProblem = problem
                close(descriptor)
                continue
            }
            // Left non-blocking: rabbitmq-c expects that of its sockets (it
            // polls with deadlines itself and would block forever otherwise).
            var one: Int32 = 1
            setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(descriptor, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
            return .success(descriptor)
        }
        return .failure(lastProblem)
    }
}

/// Why a TCP connection could not be opened: in words, and the operating
/// system's error number when a system call failed (`ETIMEDOUT` for our own
/// deadline; nil when the host name did not resolve).
struct ConnectProblem: Error {
    let reason: String
    let osError: Int32?

    init(reason: String, osError: Int32?) {
        self.reason = reason
        self.osError = osError
    }

    init(_ osError: Int32) {
        self.init(reason: String(cString: strerror(osError)).lowercased(), osError: osError)
    }
}
