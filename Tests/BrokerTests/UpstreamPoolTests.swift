import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
@testable import Broker

/// The direct path's keep-alive connections to backends: reused while they are in use, closed
/// once they have been idle for the pool's timeout.
@Suite(.timeLimit(.minutes(1)))
struct UpstreamPoolTests {
    enum ConnectionEvent: Equatable {
        case opened
        case closed
    }

    /// A backend that answers every request with `ok` and reports its connections as they open
    /// and close. With `held`, it answers none until that many requests have come, on all its
    /// connections together, so that many connections are in use at once.
    final class Backend: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        /// The requests not yet answered, across the server's connections (all on one loop).
        final class Held: @unchecked Sendable {
            var waiting: [() -> Void] = []
            var until: Int
            init(until: Int) { self.until = until }
        }

        let events: AsyncStream<ConnectionEvent>.Continuation
        let held: Held?

        init(events: AsyncStream<ConnectionEvent>.Continuation, held: Held? = nil) {
            self.events = events
            self.held = held
        }

        func channelActive(context: ChannelHandlerContext) {
            events.yield(.opened)
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            events.yield(.closed)
            context.fireChannelInactive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            guard let held else { return answer(context) }
            held.waiting.append { self.answer(context) }
            guard held.waiting.count >= held.until else { return }
            held.until = 0
            for answer in held.waiting { answer() }
            held.waiting = []
        }

        private func answer(_ context: ChannelHandlerContext) {
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "2"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    /// A ``Backend`` on a loop of its own; its connections' events come through `events`.
    static func withBackend(held: Backend.Held? = nil,
                            _ body: (UpstreamTarget, AsyncStream<ConnectionEvent>) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (events, continuation) = AsyncStream.makeStream(of: ConnectionEvent.self)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Backend(events: continuation, held: held))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        do {
            let port = try #require(server.localAddress?.port)
            try await body(try #require(UpstreamTarget(endpoint: "http://127.0.0.1:\(port)")), events)
        } catch {
            try await server.close()
            try await group.shutdownGracefully()
            throw error
        }
        try await server.close()
        try await group.shutdownGracefully()
    }

    /// Hears one answer and completes with its body.
    final class Collector: UpstreamReceiver {
        let answer: EventLoopPromise<String>
        var body = ""

        init(_ answer: EventLoopPromise<String>) {
            self.answer = answer
        }

        func upstreamHead(_ head: UpstreamResponseHead) {}
        func upstreamBody(_ body: ByteBuffer) { self.body += String(buffer: body) }
        func upstreamReadComplete() {}
        func upstreamEnd() { answer.succeed(body) }
        func upstreamFailed(_ error: any Error) { answer.fail(error) }
    }

    /// One `GET /` through `pools` on `loop`.
    static func exchange(_ pools: UpstreamPools, on loop: any EventLoop, to target: UpstreamTarget) async throws -> String {
        let answer = loop.makePromise(of: String.self)
        loop.execute {
            pools.pool(for: loop).withConnection(to: target) { result in
                switch result {
                case .success(let connection):
                    let head = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: \(target.authority)\r\n\r\n")
                    connection.send(head, body: nil, to: Collector(answer))
                case .failure(let error):
                    answer.fail(error)
                }
            }
        }
        return try await answer.futureResult.get()
    }

    @Test func aConnectionIsReusedThenClosedOnceIdleForTheTimeout() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        try await Self.withBackend { target, events async throws in
            let timeout = TimeAmount.milliseconds(300)
            let pools = UpstreamPools(idleTimeout: timeout)
            let loop = group.next()
            var seen = events.makeAsyncIterator()

            #expect(try await Self.exchange(pools, on: loop, to: target) == "ok")
            #expect(await seen.next() == .opened)
            // Taken before the connection goes back to the pool the second time, so the time to its
            // close is at most what it spent idle.
            let idleFrom = ContinuousClock.now
            #expect(try await Self.exchange(pools, on: loop, to: target) == "ok", "over the same connection")
            #expect(await seen.next() == .closed, "the connection is closed, and no other was opened")
            let idle = ContinuousClock.now - idleFrom
            #expect(idle >= .nanoseconds(timeout.nanoseconds), "closed after \(idle), before the timeout")

            // The next exchange opens a new one.
            #expect(try await Self.exchange(pools, on: loop, to: target) == "ok")
            #expect(await seen.next() == .opened)
        }
        try await group.shutdownGracefully()
    }

    /// One more exchange at once than the pool keeps: when they are done, one connection is
    /// closed and the rest serve the next ones, without a new connection.
    @Test func atMostMaxIdleConnectionsAreKeptPerBackend() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let count = UpstreamPool.maxIdle + 1
        try await Self.withBackend(held: Backend.Held(until: count)) { target, events async throws in
            let pools = UpstreamPools(idleTimeout: .seconds(60))
            let loop = group.next()
            var seen = events.makeAsyncIterator()
            try await withThrowingTaskGroup(of: String.self) { exchanges in
                for _ in 0..<count { exchanges.addTask { try await Self.exchange(pools, on: loop, to: target) } }
                for try await answer in exchanges { #expect(answer == "ok") }
            }
            var opened = 0
            while opened < count, await seen.next() == .opened { opened += 1 }
            #expect(opened == count, "every exchange needed a connection of its own")
            #expect(await seen.next() == .closed, "the one beyond the pool's limit")
            // The kept ones serve as many exchanges at once again; a new connection would show
            // as an event before the closings below.
            try await withThrowingTaskGroup(of: String.self) { exchanges in
                for _ in 0..<UpstreamPool.maxIdle { exchanges.addTask { try await Self.exchange(pools, on: loop, to: target) } }
                for try await answer in exchanges { #expect(answer == "ok") }
            }
            try await group.shutdownGracefully()
            #expect(await seen.next() == .closed, "the pool's connections close with their loop, and none was opened")
        }
    }

    @Test func aTargetIsTheOneItsEndpointNamesWhicheverWasAskedForBefore() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let pools = UpstreamPools(idleTimeout: .seconds(60))
        let endpoints = ["http://127.0.0.1:9000", "http://127.0.0.1:9000/api", "http://localhost:9000", "https://127.0.0.1:9000"]
        // Asked for in turns and in runs, as requests for two models come, and an endpoint
        // made anew (another string, the same text) is still the same target.
        let order = [0, 0, 1, 0, 2, 2, 3, 3, 0, 1, 1, 3, 2]
        let found = try await loop.submit {
            let pool = pools.pool(for: loop)
            return order.map { pool.target(String(decoding: Array(endpoints[$0].utf8), as: UTF8.self)) }
        }.get()
        for (asked, target) in zip(order, found) {
            #expect(target == UpstreamTarget(endpoint: endpoints[asked]), "\(endpoints[asked])")
        }
        #expect(found[6] == nil && found[2]?.prefix == "/api" && found[4]?.authority == "localhost:9000")
        try await group.shutdownGracefully()
    }
}
