import NIOCore
import Testing
import VRAMConfig
import VRAMPolicy

@testable import Broker

/// The small answers every proxied request asks for, kept apart from the general code that
/// once gave them: each must agree with that code.
struct RequestPathLookupTests {
    @Test func theLookupFindsTheModelThatTheConfigFinds() throws {
        var config = try Config.parse(yaml: """
            devices: [{id: gpu0, kind: simulated, capacity: 8GiB, serialize: true}, {id: gpu1, kind: simulated, capacity: 8GiB}]
            models:
              a: {kind: llm, memory: 1GiB, device: gpu0, aliases: [first, shared-a]}
              b: {kind: llm, memory: 1GiB, device: gpu1, aliases: [second]}
              c: {kind: tts, memory: 1GiB, device: gpu1}
            """, file: "lookup.yaml")
        // What the parser refuses, a config built in code can still say: a name that is also
        // another model's alias, and an alias two models share. The config's own rules decide.
        config.models[1].aliases += ["a", "shared"]
        config.models[2].aliases += ["shared", "first"]
        let lookup = ConfigLookup(config)
        for name in ["a", "b", "c", "first", "second", "shared", "shared-a", "A", "", "d", "firs"] {
            #expect(lookup.modelID(named: name) == config.model(named: name)?.id, "\(name)")
        }
        #expect(lookup.modelID(named: "a") == ModelID("a"))
        #expect(lookup.modelID(named: "shared") == ModelID("b"))
        #expect(lookup.serializes(DeviceID("gpu0")) && !lookup.serializes(DeviceID("gpu1")) && !lookup.serializes(DeviceID("gpu9")))
    }

    @Test func aTargetIsSplitAtItsFirstQuestionMark() {
        let cases: [(String, String, String)] = [
            ("/v1/chat/completions", "/v1/chat/completions", ""),
            ("/v1/chat/completions?a=1", "/v1/chat/completions", "?a=1"),
            ("/v1/x?a=1?b=2", "/v1/x", "?a=1?b=2"),
            ("/caf\u{e9}/\u{1F600}?q=\u{e9}", "/caf\u{e9}/\u{1F600}", "?q=\u{e9}"),
            ("?", "", "?"),
            ("", "", ""),
        ]
        for (target, path, query) in cases {
            let split = Self.withBytes(target) { bytes in
                let (path, query) = ProxyRoute.split(bytes)
                return (String(decoding: path, as: UTF8.self), String(decoding: query, as: UTF8.self))
            }
            #expect(split.0 == path && split.1 == query, "\(target)")
        }
        #expect(Self.route(target: "/v1/embeddings?x") == .openAI("/v1/embeddings"))
        #expect(Self.route(target: "/v1/tts") == .facade(.tts))
        #expect(Self.route(target: "/v1/chat") == nil)
    }

    @Test func aRouteIsFoundByTheExactBytesOfItsPath() {
        for path in ProxyRoute.openAIPaths {
            #expect(Self.route(path) == .openAI(path))
            // A path that ends inside a longer one, or runs past it, is not it.
            #expect(Self.route(String(path.dropLast())) == nil && Self.route(path + "/") == nil, "\(path)")
        }
        for kind in ProxyRoute.facadeKinds {
            #expect(Self.route("/v1/\(kind.rawValue)") == .facade(kind))
        }
        // The same length as a route, one byte different, in case or in encoding.
        for path in ["/v1/LLM", "/v1/tt%73", "/V1/stt", "/v1/imagE", "/v2/llm", "", "/"] {
            #expect(Self.route(path) == nil, "\(path)")
        }
        // A route inside a longer target is found by its path alone.
        #expect(Self.route(target: "/v1/llm?x=/v1/tts") == .facade(.llm))
        #expect(Self.route(target: "/v1/llm/v1/tts") == nil)
    }

    /// The route of a path, as the direct path finds it in a request's bytes.
    private static func route(_ path: String) -> ProxyRoute? { withBytes(path) { ProxyRoute(path: $0) } }

    private static func route(target: String) -> ProxyRoute? { withBytes(target) { ProxyRoute(target: $0) } }

    private static func withBytes<T>(_ text: String, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        Array(text.utf8).withUnsafeBytes(body)
    }

    @Test func aChunkSizeIsWrittenInLowercaseHex() {
        for value in [0, 1, 9, 10, 15, 16, 255, 256, 0xABC, 4096, 0xFFFF, 0x10000, 1 << 40, Int.max] {
            let digits = DirectWire.hexDigits(value)
            let written = [UInt8](unsafeUninitializedCapacity: digits) { buffer, count in
                count = DirectWire.writeHex(value, digits: digits, into: UnsafeMutableRawBufferPointer(buffer))
            }
            #expect(String(decoding: written, as: UTF8.self) == String(value, radix: 16), "\(value)")
        }
    }

    @Test func aChunkIsFramedInOneWriteAfterWhatTheBufferHolds() {
        for size in [0, 1, 15, 16, 300, DirectWire.copiedChunk, DirectWire.copiedChunk + 1] {
            let data = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) })
            var out = ByteBuffer(string: "head")
            let copied = DirectWire.appendChunk(data, to: &out)
            #expect(copied == (size <= DirectWire.copiedChunk))
            var expected = ByteBuffer(string: "head" + String(size, radix: 16) + "\r\n")
            if copied {
                expected.writeImmutableBuffer(data)
                expected.writeString("\r\n")
            }
            #expect(out == expected, "\(size)")
        }
    }

    @Test func numbersAndTextAreWrittenAsTheirBytes() {
        for value in [0, 1, 9, 10, 99, 100, 200, 34_000, 1_000_000_007, Int.max] {
            var out = ByteBuffer(string: "x")
            out.writeDecimal(value)
            #expect(String(buffer: out) == "x" + String(value), "\(value)")
        }
        var out = ByteBuffer()
        out.writeASCII("HTTP/1.1 ")
        out.writeText("caf\u{e9} \u{2615}")
        out.writeASCII("")
        out.writeText("")
        #expect(String(buffer: out) == "HTTP/1.1 caf\u{e9} \u{2615}")
        let line = ByteBuffer(string: "X-Name:value")
        line.withUnsafeReadableBytes { raw in
            out.writeField(UnsafeRawBufferPointer(rebasing: raw[0..<6]), UnsafeRawBufferPointer(rebasing: raw[7...]))
        }
        #expect(String(buffer: out) == "HTTP/1.1 caf\u{e9} \u{2615}X-Name: value\r\n")
    }

    @Test func aFieldIsWrittenAsNameColonValue() {
        var out = ByteBuffer(string: "x")
        for (name, value) in [("Content-Type", "application/json"), ("X-Empty", ""), ("", "v"), ("X-Caf\u{e9}", "\u{2615} ok")] {
            out.writeField(name, value)
        }
        #expect(String(buffer: out) == "xContent-Type: application/json\r\nX-Empty: \r\n: v\r\nX-Caf\u{e9}: \u{2615} ok\r\n")
    }

    @Test func headerNamesAreComparedWithoutRegardToCase() {
        #expect(Proxy.equalsIgnoringCase("Content-Type", "content-type"))
        #expect(Proxy.equalsIgnoringCase("CONTENT-TYPE", "content-type"))
        #expect(!Proxy.equalsIgnoringCase("Content-Typ", "content-type"))
        #expect(!Proxy.equalsIgnoringCase("Content-Typf", "content-typ"))
        // Only ASCII letters fold: `[` is `{` less 0x20, and must not match it.
        #expect(!Proxy.equalsIgnoringCase("a[", "a{"))
        #expect(!Proxy.equalsIgnoringCase("h\u{e9}", "h\u{c9}"))
        for name in Proxy.hopByHop {
            #expect(Proxy.isHopByHop(name.uppercased()) && Proxy.isHopByHop(name), "\(name)")
            #expect(!Proxy.isHopByHop(name + "s") && !Proxy.isHopByHop(String(name.dropLast())), "\(name)")
        }
    }
}
