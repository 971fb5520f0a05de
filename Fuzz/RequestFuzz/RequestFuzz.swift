// libFuzzer entry point for vramd's reader of client requests (Broker's ClientRequestReader),
// which reads every request a client sends before llhttp does. Built only by scripts/fuzz
// (VRAMD_FUZZ=1).
//
// The first input byte places a cut in the rest (0: none, 255: at the end), which is read as
// the request's bytes would arrive in two reads. The judge is the test suite's own
// (RequestReaderOracle.swift, linked here from Tests/BrokerTests/Harness): the reader must read
// the bytes the same way whole and cut, and whatever request it takes llhttp must read the same
// way, ending at the same byte. A disagreement, a trap or an address-sanitizer report is a
// finding.

import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    // fatalError, not a precondition: an optimized build drops a precondition's message.
    if let mismatch = RequestReaderOracle.mismatch(fuzzInput: UnsafeBufferPointer(start: data, count: size)) { fatalError(mismatch) }
    return 0
}

// SwiftPM binds this target's `main` to `RequestFuzz_main`; libFuzzer's driver takes over from it.
@_cdecl("RequestFuzz_main")
public func requestFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv, fuzzRequest)
}
