import Foundation
import Testing
import VRAMConfig

/// The model a request names, from the inputs clients really send (the OpenAI SDK's JSON and
/// its multipart uploads) and from the broken ones the HTTP layer turns into 400s.
@Suite struct RequestModelTests {
    static func find(_ body: String, _ contentType: String? = "application/json") throws(RequestModel.Failure) -> String? {
        try RequestModel.find(in: Data(body.utf8), contentType: contentType)
    }

    @Test func jsonBodyNamesTheModel() throws {
        #expect(try Self.find(#"{"model": "gemma", "messages": []}"#) == "gemma")
        #expect(try Self.find(#"{"messages": [{"role": "user", "content": "hi"}]}"#) == nil)
        #expect(try Self.find("") == nil)
    }

    @Test func brokenBodiesSayWhatIsWrong() {
        #expect(throws: RequestModel.Failure.notJSON) { try Self.find("{\"model\": ") }
        #expect(throws: RequestModel.Failure.notAnObject) { try Self.find("[1, 2]") }
        #expect(throws: RequestModel.Failure.notAnObject) { try Self.find("\"gemma\"") }
        #expect(throws: RequestModel.Failure.modelNotAString) { try Self.find(#"{"model": 7}"#) }
    }

    @Test func multipartFormNamesTheModelBesideTheFile() throws {
        let boundary = "----vramd7MA4YWxkTrZu0gW"
        let body = [
            "--\(boundary)", #"Content-Disposition: form-data; name="file"; filename="model.wav""#,
            "Content-Type: audio/wav", "", "RIFF name=\"model\" not a field", "--\(boundary)",
            #"Content-Disposition: form-data; name="model""#, "", "whisper-1", "--\(boundary)--", "",
        ].joined(separator: "\r\n")
        #expect(try Self.find(body, "multipart/form-data; boundary=\(boundary)") == "whisper-1")
        #expect(try Self.find(body, "multipart/form-data; boundary=\"\(boundary)\"; charset=utf-8") == "whisper-1")
        #expect(try Self.find(body, "multipart/form-data; boundary=other") == nil)
        #expect(try Self.find(body, "multipart/form-data") == nil)
    }
}
