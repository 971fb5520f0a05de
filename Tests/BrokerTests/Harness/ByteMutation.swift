import VRAMPolicy

/// The seeded mutations the differential tests of vramd's HTTP readers apply to well-formed
/// messages before comparing them with llhttp.
enum ByteMutation {
    /// Replaces, inserts or removes one to three bytes at random places, each byte drawn from
    /// `alphabet` (the characters that matter to an HTTP reader).
    static func mutate(_ bytes: inout [UInt8], alphabet: String, using random: inout SplitMix64) {
        let choices = Array(alphabet.utf8)
        for _ in 0..<Int.random(in: 1...3, using: &random) where !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &random)
            let byte = choices.randomElement(using: &random)!
            switch Int.random(in: 0...2, using: &random) {
            case 0: bytes[at] = byte
            case 1: bytes.insert(byte, at: at)
            default: bytes.remove(at: at)
            }
        }
    }
}
