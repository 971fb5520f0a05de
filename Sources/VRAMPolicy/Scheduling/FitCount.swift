/// How many more models could be loaded without evicting anything: what a node advertises to a
/// router (the Gateway API Inference Extension's `max_lora`).
public enum FitCount {
    /// The most of `sizes` that fit at once into devices with `free` bytes each, packing the
    /// smallest first, each into the device with the most room left.
    public static func additional(sizes: [Int64], free: [Int64]) -> Int {
        var room = free
        var count = 0
        for size in sizes.sorted() {
            guard let best = room.indices.max(by: { room[$0] < room[$1] }), room[best] >= size else { break }
            room[best] -= size
            count += 1
        }
        return count
    }
}
