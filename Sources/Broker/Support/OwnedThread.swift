#if canImport(Glibc)
import Glibc
#endif

/// Starts a dedicated OS thread (not one of Swift's cooperative pool) running
/// `body`. Connection threads block in C calls and `poll(2)`; doing that on the
/// cooperative pool would starve every task in the process.
///
/// The thread blocks SIGPIPE. A write to a socket whose peer has gone (Redis
/// killed, a TLS session cut) raises it in the writing thread, and its
/// default action ends the process: a worker would die with its server
/// instead of reconnecting. Blocked, the write fails with EPIPE, which the
/// connection reports as lost. Only these threads are affected: the
/// program's own handling of SIGPIPE elsewhere is left alone.
func startOwnedThread(name: String, body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    defer { pthread_attr_destroy(&attributes) }
    var thread = pthread_t()
    let result = pthread_create(&thread, &attributes, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        var brokenPipe = sigset_t()
        sigemptyset(&brokenPipe)
        sigaddset(&brokenPipe, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &brokenPipe, nil)
        box.body()
        return nil
    }, box)
    precondition(result == 0, "pthread_create failed: \(result)")
}
