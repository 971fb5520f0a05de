// libFuzzer entry point for request routing: which model a request body names (JSON, or the
// `model` field of a multipart form) and how that name resolves against a config. Built only by
// scripts/fuzz (VRAMD_FUZZ=1).
//
// The first input byte picks how the body is labelled (no content type, JSON, or multipart
// with a boundary taken from the next bytes); the rest is the body. Every input must end in a
// name, no name, or a RequestModel.Failure; a trap or an address-sanitizer report is a finding.

import FuzzSupport
import Foundation
import VRAMConfig
import VRAMPolicy

private let config: Config = {
    let yaml = """
        devices: [{id: gpu0, kind: simulated, capacity: 16GiB}]
        models:
          gemma: {kind: llm, memory: 4GiB, aliases: [gpt-4o-mini, "gemma:270m"]}
          whisper: {kind: stt, memory: 2GiB}
          piper: {kind: tts, memory: 1GiB, aliases: [tts-1]}
        """
    return try! Config.parse(yaml: yaml, file: "routing.yaml")
}()
private let names = config.models.map(\.id.rawValue) + config.models.flatMap(\.aliases)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRouting(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let selector = bytes.first else { return 0 }
    var body = Data(bytes.dropFirst())
    let contentType: String?
    switch selector % 3 {
    case 0: contentType = nil
    case 1: contentType = "application/json"
    default:
        // A boundary of up to 16 bytes from the input, as a client could send it.
        let boundaryLength = min(Int(selector / 3) % 17, body.count)
        let boundary = String(decoding: body.prefix(boundaryLength), as: UTF8.self)
        body = Data(body.dropFirst(boundaryLength))
        contentType = "multipart/form-data; boundary=\(boundary)"
    }
    guard let name = try? RequestModel.find(in: body, contentType: contentType) else { return 0 }
    if let model = config.model(named: name) {
        precondition(names.contains(name), "\(name) resolved to \(model.id) but is no id or alias")
    } else if let suggestion = Suggestion.closest(to: name, in: names) {
        precondition(names.contains(suggestion), "suggested a name that does not exist: \(suggestion)")
    }
    return 0
}

// SwiftPM binds this target's `main` to `RoutingFuzz_main`; libFuzzer's driver takes over from it.
@_cdecl("RoutingFuzz_main")
public func routingFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv, fuzzRouting)
}
