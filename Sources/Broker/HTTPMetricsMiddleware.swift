import Dispatch
import Hummingbird
import HTTPTypes
import Metrics
import Synchronization

/// HTTP request counts and durations through swift-metrics, under the names Hummingbird's own
/// `MetricsMiddleware` uses, so dashboards built on those keep working.
///
/// Hummingbird's middleware wraps every response body in a closure to time it to its last byte.
/// That turns off the framework's path that sends a whole body with its head in one write, and
/// on a proxied request that extra write and wake-up was a large part of what vramd added. Here
/// a response whose length is known is recorded when the handler returns (its body goes out
/// right after), and only a streamed one is wrapped and timed to its end.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let cache: HTTPMetricsCache

    /// - Parameter cache: shared with the direct path (``DirectProxy``), which records its
    ///   requests in the same series.
    init(cache: HTTPMetricsCache = HTTPMetricsCache()) {
        self.cache = cache
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let active = cache.active(request.method)
        active.increment()
        do {
            var response = try await next(request, context)
            let series = cache.series(route: context.endpointPath ?? "Unknown", method: request.method, status: response.status)
            guard response.body.contentLength == nil else {
                series.record(since: start, active: active)
                return response
            }
            let body = response.body
            response.body = ResponseBody { writer in
                defer { series.record(since: start, active: active) }
                try await body.write(writer)
            }
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            let series = cache.series(route: context.endpointPath ?? "NotFound", method: request.method, status: status)
            series.errors.increment()
            series.record(since: start, active: active)
            throw error
        }
    }
}

/// The metric objects, made once per method and per route, method and status.
final class HTTPMetricsCache: Sendable {
    struct Series: Sendable {
        let requests: Counter
        let errors: Counter
        let duration: Metrics.Timer

        func record(since start: UInt64, active: Meter) {
            requests.increment()
            duration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
            active.decrement()
        }
    }

    private struct Key: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: Int
    }

    private let meters = Mutex<[HTTPRequest.Method: Meter]>([:])
    private let series = Mutex<[Key: Series]>([:])

    func active(_ method: HTTPRequest.Method) -> Meter {
        meters.withLock { meters in
            if let meter = meters[method] { return meter }
            let meter = Meter(label: "http.server.active_requests", dimensions: [("http.request.method", method.rawValue)])
            meters[method] = meter
            return meter
        }
    }

    func series(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status) -> Series {
        series.withLock { series in
            let key = Key(route: route, method: method, status: status.code)
            if let found = series[key] { return found }
            let dimensions = [("http.route", route), ("http.request.method", method.rawValue), ("http.response.status_code", "\(status.code)")]
            let made = Series(requests: Counter(label: "hb.requests", dimensions: dimensions),
                              errors: Counter(label: "hb.request.errors", dimensions: dimensions),
                              duration: Metrics.Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds))
            series[key] = made
            return made
        }
    }
}

/// The series one connection's direct requests last recorded to, and its meter of requests in
/// progress. A connection nearly always asks for the same route and status again, and finding
/// the series in the shared cache (a lock and a hash of the route) was about 1 % of a proxied
/// request's instructions. Used on the connection's event loop only.
final class RecentSeries {
    private var last: (route: String, status: Int, series: HTTPMetricsCache.Series)?
    private var posts: Meter?

    /// The meter of `POST`s in progress, found in the shared cache once (a lock and a hash of
    /// the method, about 400 instructions a request).
    func postsActive(in cache: HTTPMetricsCache) -> Meter {
        if let posts { return posts }
        let meter = cache.active(.post)
        posts = meter
        return meter
    }

    /// The series of a `POST` to `route` answered with `status`.
    func series(route: String, status: Int, in cache: HTTPMetricsCache) -> HTTPMetricsCache.Series {
        if let last, last.status == status, last.route == route { return last.series }
        let series = cache.series(route: route, method: .post, status: HTTPResponse.Status(code: status))
        last = (route, status, series)
        return series
    }
}
