// The least a proxy built on NIO can cost: each client connection gets its own connection to
// the backend on the same event loop, and bytes go both ways unread, flushed at the end of each
// read. No HTTP proxy can be this (it must read the request to route it, and frame the answer),
// so `proxy_bench.py` runs it as a floor beside nginx: what vramd costs above it is what its
// HTTP handling and its own work cost, not the event loop, the sockets or the machine.
//
// usage: vramd-relay LISTEN_PORT BACKEND_PORT
import NIOCore
import NIOPosix

/// Passes what one connection reads to its peer.
final class Relay: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var peer: (any Channel)?
    /// What arrived before the peer's connection was made.
    private var early: [ByteBuffer] = []
    private var unflushed = false

    init(peer: (any Channel)? = nil) {
        self.peer = peer
    }

    func connected(to peer: any Channel) {
        self.peer = peer
        for buffer in early { peer.write(buffer, promise: nil) }
        if !early.isEmpty { peer.flush() }
        early = []
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard let peer else { return early.append(buffer) }
        peer.write(buffer, promise: nil)
        unflushed = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard unflushed else { return }
        unflushed = false
        peer?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer?.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let listenPort = Int(arguments[1]), let backendPort = Int(arguments[2]) else {
    print("usage: vramd-relay LISTEN_PORT BACKEND_PORT")
    exit(2)
}
let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
let server = try await ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 256)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { client in
        let loop = client.eventLoop
        let toBackend = NIOLoopBound(Relay(), eventLoop: loop)
        return loop.makeCompletedFuture {
            try client.pipeline.syncOperations.addHandler(toBackend.value)
        }.flatMap {
            ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { backend in
                    backend.eventLoop.makeCompletedFuture {
                        try backend.pipeline.syncOperations.addHandler(Relay(peer: client))
                    }
                }
                .connect(host: "127.0.0.1", port: backendPort)
                .map { backend in toBackend.value.connected(to: backend) }
        }
    }
    .bind(host: "127.0.0.1", port: listenPort)
    .get()
print("vramd-relay: 127.0.0.1:\(listenPort) -> 127.0.0.1:\(backendPort)")
try await server.closeFuture.get()
