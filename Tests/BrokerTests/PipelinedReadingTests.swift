import Foundation
import Testing

/// A client that pipelines requests faster than they are answered is read no faster than it is
/// answered: what it sends while an answer is in progress waits in the socket's buffers, where
/// TCP slows it down, not in vramd's memory.
@Suite(.timeLimit(.minutes(2)))
struct PipelinedReadingTests {
    static let requests = 32
    /// 32 requests of 512 KiB: 16 MiB sent while the first answer is held.
    static let pad = String(repeating: "x", count: 512 << 10)

    /// `chunked` sends every request in chunks, which vramd's reader leaves to llhttp: the
    /// parts then wait in the direct path's own queue instead of the reader's.
    @Test(arguments: [false, true])
    func aPipeliningClientIsReadNoFasterThanItIsAnswered(chunked: Bool) async throws {
        try await TestBackend.with { backend in
            try await Vramd.with(DirectPathTests.config(backend)) { vramd in
                // Loads the model, and grows vramd's allocator to the size of these bodies.
                for index in 0..<4 { #expect(try await vramd.chat("a", tag: "w\(index)", ["pad": Self.pad]).status == 200) }
                let before = try processStatus(vramd.child.pid, "VmHWM")

                let client = try ClientSocket(vramd.url)
                try client.write(Self.request(tag: "held", ["gate": "held"], chunked: chunked))
                await backend.started("held")
                client.startWriting(Self.requests) { Self.request(tag: "p\($0)", ["pad": Self.pad], chunked: chunked) }
                // Until vramd leaves bytes unread in its socket (it stopped reading), or the client
                // has sent everything (vramd read it all, or the kernel could hold it all).
                while !client.finishedWriting, try client.unreadByServer() < 32 << 10 {
                    try await Task.sleep(for: .milliseconds(5))
                }
                try await backend.open("held")

                let text = try client.readAnswers(Self.requests + 1)
                let tags = Self.tags(in: text)
                #expect(tags == ["held"] + (0..<Self.requests).map { "p\($0)" }, "\(tags.prefix(5)) … \(tags.count) tags")
                let growth = try processStatus(vramd.child.pid, "VmHWM") - before
                #expect(growth < 8 << 20, "vramd's peak resident memory grew by \(growth >> 20) MiB while 16 MiB were pipelined")
            }
        }
    }

    static func request(tag: String, _ extra: [String: Any], chunked: Bool) -> [UInt8] {
        var fields: [String: Any] = ["model": "a", "tag": tag]
        fields.merge(extra) { $1 }
        let body = try! JSONSerialization.data(withJSONObject: fields)
        guard chunked else { return Array(RawConnection.post(String(decoding: body, as: UTF8.self)).utf8) }
        let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: vramd\r\nContent-Type: application/json\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n" + String(body.count, radix: 16) + "\r\n"
        return Array(head.utf8) + Array(body) + Array("\r\n0\r\n\r\n".utf8)
    }

    /// The `tag` of every answer in `text`, in order.
    static func tags(in text: String) -> [String] {
        text.components(separatedBy: "\"tag\": \"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }
}

