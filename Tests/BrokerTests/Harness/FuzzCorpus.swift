import Foundation

/// The committed corpus of a fuzz target that judges one of vramd's HTTP readers against llhttp,
/// replayed by the test suite as the fuzzer judges each input: the short version of
/// `scripts/fuzz request` and `scripts/fuzz answer`.
enum FuzzCorpus {
    struct Replay {
        var count = 0
        /// The inputs the reader read (rather than refused or left to llhttp): a corpus of
        /// nothing else would judge nothing.
        var read = 0
        var mismatches: [String] = []
    }

    /// Judges every input in `Fuzz/corpus/<target>` with `mismatch` (an oracle's
    /// `mismatch(fuzzInput:)`); `isRead` says whether the reader read an input's message (the
    /// bytes after the fuzzer's first, which places a cut).
    static func replay(_ target: String, mismatch: (UnsafeBufferPointer<UInt8>) -> String?, isRead: ([UInt8]) -> Bool) throws -> Replay {
        let directory = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "../../../Fuzz/corpus/\(target)").standardized
        var replay = Replay()
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            let input = [UInt8](try Data(contentsOf: directory.appending(path: name)))
            replay.count += 1
            if isRead(Array(input.dropFirst())) { replay.read += 1 }
            if let found = input.withUnsafeBufferPointer(mismatch) { replay.mismatches.append("\(name): \(found)") }
        }
        return replay
    }
}
