#if canImport(Glibc)
import Glibc
#endif

/// Starts an operating-system thread for work that blocks for as long as a child lives.
///
/// Waiting for a child (`waitpid`) and reading its output block indefinitely; on the cooperative
/// pool that would take one of two cores away from every task, and a Dispatch worker would be
/// held for the child's whole life. A thread of our own costs a small stack and nothing else.
enum DetachedThread {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `body` on a new detached thread; `name` says what for, in errors.
    static func start(name: String, _ body: @escaping @Sendable () -> Void) throws(ChildProcessError) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 256 * 1024)
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw ChildProcessError("cannot start a thread for \(name)", errno: result)
        }
    }
}
