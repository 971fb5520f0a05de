extension GGUFFile {
    /// Total number of weights over all tensors.
    public var parameterCount: Int {
        // Saturating: tensors of unknown types are not bounded by the file size.
        tensors.reduce(0) { total, tensor in
            let (sum, overflow) = total.addingReportingOverflow(tensor.elementCount)
            return overflow ? Int.max : sum
        }
    }

    /// Total bytes of tensor data (`nil` when a tensor has a type this code does not know).
    public var tensorDataBytes: Int? {
        var total = 0
        for tensor in tensors {
            guard let bytes = tensor.byteCount else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(bytes)
            guard !overflow else { return nil }
            total = sum
        }
        return total
    }

    /// The quantization as llama.cpp names it (`Q4_K_M`), from `general.file_type`, or else
    /// the tensor type holding the most bytes.
    public var quantization: String? {
        if let fileType = self["general.file_type"]?.intValue, let name = Self.fileTypeNames[fileType] {
            return name
        }
        var bytesByType: [GGMLType: Int] = [:]
        for tensor in tensors {
            bytesByType[tensor.type, default: 0] &+= tensor.byteCount ?? 0
        }
        return bytesByType.max { $0.value < $1.value }?.key.name
    }

    // llama.cpp's `llama_ftype` values (include/llama.h); gaps are retired ids.
    private static let fileTypeNames: [Int: String] = [
        0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
        11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
        17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
        23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
        29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
    ]
}
