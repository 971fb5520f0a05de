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
    /// and close.
    final class Backend: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let events: AsyncStream<ConnectionEvent>.Continuation

        init(events: AsyncStream<ConnectionEvent>.Continuation) {
            self.events = events
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
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "2"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
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
        let (events, continuation) = AsyncStream.makeStream(of: ConnectionEvent.self)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Backend(events: continuation))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        let target = try #require(UpstreamTarget(endpoint: "http://127.0.0.1:\(port)"))
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

        try await server.close()
        try await group.shutdownGracefully()
    }
}
