/// The order in which requests waiting for one model are served: higher priority first, then
/// arrival.
///
/// A ticket is a request's arrival number, unique and increasing; a lower ticket arrived earlier.
public struct RequestQueue: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var ticket: Int
        public var priority: Int

        public init(ticket: Int, priority: Int) {
            self.ticket = ticket
            self.priority = priority
        }
    }

    /// Waiting requests, the next to be served first.
    public private(set) var entries: [Entry] = []

    public init() {}

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    /// Puts a request in line behind every request of its priority or higher.
    public mutating func enqueue(ticket: Int, priority: Int) {
        let entry = Entry(ticket: ticket, priority: priority)
        let position = entries.firstIndex { Self.servedBefore(entry, $0) } ?? entries.endIndex
        entries.insert(entry, at: position)
    }

    /// Takes a request out of line (it was served, timed out or its client left).
    public mutating func remove(ticket: Int) {
        entries.removeAll { $0.ticket == ticket }
    }

    /// Whether `ticket` is next, or not in line at all.
    public func isFirst(_ ticket: Int) -> Bool {
        entries.first.map { $0.ticket == ticket } ?? true
    }

    /// Whether `a` is served before `b`.
    public static func servedBefore(_ a: Entry, _ b: Entry) -> Bool {
        a.priority != b.priority ? a.priority > b.priority : a.ticket < b.ticket
    }
}
