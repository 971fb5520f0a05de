// libFuzzer entry point for the GGUF reader and estimator. Not part of the SwiftPM build:
// scripts/fuzz compiles it together with Sources/GGUF into one module with
// -sanitize=fuzzer,address, which is why it does not import GGUF.
//
// Every input must end in a value or a GGUFError; a trap, an overflow or an address-sanitizer
// report is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // A small eager limit sends arrays down the lazy path too.
    guard let file = try? GGUFFile(bytes: bytes, eagerArrayLimit: 8) else { return 0 }
    for entry in file.metadata {
        if case .array = entry.value {
            _ = try? file.arrayValues(entry.key)
            _ = try? file.arrayValues(entry.key, prefix: 3)
        }
    }
    _ = file.parameterCount
    _ = file.quantization
    guard let estimator = try? MemoryEstimator(file: file) else { return 0 }
    for flashAttention in [true, false] {
        let options = EstimateOptions(context: 4096, parallel: 2, flashAttention: flashAttention, gpuLayers: 3, unifiedKV: flashAttention)
        _ = try? estimator.estimate(options)
        _ = try? estimator.fit(budget: 1 << 32, options: options)
    }
    return 0
}
