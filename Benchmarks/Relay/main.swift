// The least a proxy built on NIO can cost: each client connection gets its own connection to
// the backend on the same event loop, and bytes go both ways unread, flushed at the end of each
// read. No HTTP proxy can be this (it must read the request to route it, and frame the answer),
// so `proxy_bench.py` runs it as a floor beside nginx: what vramd costs above it is what its
// HTTP handling and its own work cost, not the event loop, the sockets or the machine.
//
// With SPIN_NS it also spins that long on every read before passing it on: CPU spent on the
// request's path and nothing else, which `proxy_bench.py` uses to learn what a microsecond of a
// proxy's CPU costs in added latency on the machine it runs on.
//
// usage: vramd-relay LISTEN_PORT BACKEND_PORT [SPIN_NS]
import NIOCore
import NIOPosix

/// Passes what one connection reads to its peer.
final class Relay: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var peer: (any Channel)?
    /// What arrived before the peer's connection was made.
    private var early: [ByteBuffer] = []
    private var unflushed = false
    private let spin: UInt64

    init(peer: (any Channel)? = nil, spin: UInt64) {
        self.peer = peer
        self.spin = spin
    }

    func connected(to peer: any Channel) {
        self.peer = peer
        for buffer in early { peer.write(buffer, promise: nil) }
        if !early.isEmpty { peer.flush() }
        early = []
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if spin > 0 {
            let until = NIODeadline.now().uptimeNanoseconds + spin
            while NIODeadline.now().uptimeNanoseconds < until {}
        }
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
guard (3...4).contains(arguments.count), let listenPort = Int(arguments[1]), let backendPort = Int(arguments[2]),
      let spin = arguments.count == 4 ? UInt64(arguments[3]) : 0
else {
    print("usage: vramd-relay LISTEN_PORT BACKEND_PORT [SPIN_NS]")
    exit(2)
}
let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
let server = try await ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 256)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { client in
        let loop = client.eventLoop
        let toBackend = NIOLoopBound(Relay(spin: spin), eventLoop: loop)
        return loop.makeCompletedFuture {
            try client.pipeline.syncOperations.addHandler(toBackend.value)
        }.flatMap {
            ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { backend in
                    backend.eventLoop.makeCompletedFuture {
                        try backend.pipeline.syncOperations.addHandler(Relay(peer: client, spin: spin))
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
