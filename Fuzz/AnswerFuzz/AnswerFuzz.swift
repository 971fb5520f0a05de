// libFuzzer entry point for vramd's reader of backend answers (Broker's UpstreamResponseParser),
// which frames every answer the direct path passes on. Built only by scripts/fuzz (VRAMD_FUZZ=1).
//
// The first input byte places a cut in the rest (0: none, 255: at the end), which is read as
// the answer's bytes would arrive in two reads. The judge is the test suite's own
// (AnswerParserOracle.swift, linked here from Tests/BrokerTests/Harness): the parser must read
// the bytes the same way whole and cut, and whatever answer it reads llhttp must read with the
// same status, fields and body. A disagreement, a trap or an address-sanitizer report is a
// finding.

import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAnswer(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    // fatalError, not a precondition: an optimized build drops a precondition's message.
    if let mismatch = AnswerParserOracle.mismatch(fuzzInput: UnsafeBufferPointer(start: data, count: size)) { fatalError(mismatch) }
    return 0
}

// SwiftPM binds this target's `main` to `AnswerFuzz_main`; libFuzzer's driver takes over from it.
@_cdecl("AnswerFuzz_main")
public func answerFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv, fuzzAnswer)
}
