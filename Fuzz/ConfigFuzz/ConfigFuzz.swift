// libFuzzer entry point for the config parser. Built only by scripts/fuzz (VRAMD_FUZZ=1 adds
// this target to the package with libFuzzer and address-sanitizer flags).
//
// Every input must end in a Config or in ConfigErrors; a trap, an overflow or an
// address-sanitizer report is a finding. A config that parses is also asked the questions
// `vramd serve` asks of it, since validation that passes must leave a config those can answer.

import FuzzSupport
import Foundation
import VRAMConfig
import VRAMPolicy

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let config: Config
    do {
        config = try Config.parse(yaml: text, file: "fuzz.yaml")
    } catch {
        // Every error must say which file it is about.
        precondition(error.errors.allSatisfy { $0.file == "fuzz.yaml" }, "an error lost its file: \(error)")
        return 0
    }
    for model in config.models {
        precondition(config.model(named: model.id.rawValue)?.id == model.id, "model \(model.id) does not resolve")
        for alias in model.aliases { _ = config.model(named: alias) }
        if let device = model.device { precondition(config.device(device) != nil, "model on unknown device \(device)") }
    }
    return 0
}

// SwiftPM binds this target's `main` to `ConfigFuzz_main`; libFuzzer's driver takes over from it.
@_cdecl("ConfigFuzz_main")
public func configFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv, fuzzConfig)
}
