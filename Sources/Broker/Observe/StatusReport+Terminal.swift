import Foundation
import VRAMPolicy

extension StatusReport {
    /// The report for a terminal (`vramd status`): a bar per device drawn with block
    /// characters, then a table of the models.
    ///
    /// In a bar, `█`/`▓` are resident models (alternating so neighbours stay apart), `▒`
    /// reservations, `░` foreign memory, `·` free, and `|` where the cushion starts.
    ///
    /// - Parameters:
    ///   - width: the bar's width in characters.
    ///   - color: ANSI colours by priority; only for a terminal.
    public func rendered(width: Int = 60, color: Bool = false) -> String {
        var out = ""
        for device in devices {
            out += renderedDevice(device, width: width, color: color)
        }
        out += "\n" + modelTable(color: color)
        out += "\nqueue: \(queue.waiting) waiting (max \(queue.max)) · requests \(scheduler.requests) · loads \(scheduler.loads)"
        out += " · swaps \(scheduler.swaps) · 429s \(scheduler.rejectedQueueFull)"
        out += String(format: " · queue wait p50 %.2fs p99 %.2fs · load p50 %.1fs p99 %.1fs\n",
                      scheduler.queueWait.p50, scheduler.queueWait.p99, scheduler.loadTime.p50, scheduler.loadTime.p99)
        return out
    }

    /// The segments of a device's bar, in order: each resident model, each reservation, foreign.
    struct Segment: Equatable {
        enum Fill: Equatable { case model(priority: Int), reservation, foreign }
        var label: String
        var bytes: Int64
        var fill: Fill
    }

    static func segments(of device: Device) -> [Segment] {
        device.residents.map { Segment(label: $0.model, bytes: $0.bytes, fill: .model(priority: $0.priority)) }
            + device.reservations.map { Segment(label: $0.model, bytes: $0.bytes, fill: .reservation) }
            + (device.foreign > 0 ? [Segment(label: "foreign", bytes: device.foreign, fill: .foreign)] : [])
    }

    /// Character counts for `bytes` out of `total` in `width` columns: every non-empty segment
    /// gets at least one, and the sum never passes `width`.
    static func columns(_ bytes: [Int64], total: Int64, width: Int) -> [Int] {
        guard total > 0 else { return bytes.map { _ in 0 } }
        var counts = bytes.map { $0 <= 0 ? 0 : max(1, Int((Double($0) / Double(total) * Double(width)).rounded())) }
        while counts.reduce(0, +) > width, let largest = counts.indices.max(by: { counts[$0] < counts[$1] }), counts[largest] > 1 {
            counts[largest] -= 1
        }
        return counts
    }

    private func renderedDevice(_ device: Device, width: Int, color: Bool) -> String {
        let total = max(device.capacity, device.plannedUse)
        let segments = Self.segments(of: device)
        let counts = Self.columns(segments.map(\.bytes), total: total, width: width)
        var cells: [String] = []
        var modelIndex = 0
        for (segment, count) in zip(segments, counts) where count > 0 {
            let glyph: String
            var code: String?
            switch segment.fill {
            case .model(let priority):
                glyph = modelIndex % 2 == 0 ? "█" : "▓"
                modelIndex += 1
                code = Self.priorityColors[min(max(priority, 0), Self.priorityColors.count - 1)]
            case .reservation: glyph = "▒"; code = "35"
            case .foreign: glyph = "░"; code = "90"
            }
            cells += Array(repeating: color ? "\u{1B}[\(code ?? "0")m\(glyph)\u{1B}[0m" : glyph, count: count)
        }
        cells += Array(repeating: "·", count: max(0, width - cells.count))
        // The column where the cushion starts; a thin cushion still shows in the last column.
        let cushionAt = total > 0 ? min(width - 1, Int(Double(total - device.cushion) / Double(total) * Double(width))) : width
        if device.cushion > 0, cushionAt >= 0, cushionAt < cells.count { cells[cushionAt] = "|" }
        var head = "\(device.id) (\(device.kind)\(device.name.map { ", \($0)" } ?? ""))"
        head += ": \(ByteSize.format(device.plannedUse)) of \(ByteSize.format(device.capacity)) planned"
        head += ", \(ByteSize.format(max(0, device.freeForPlanning))) free for loads"
        if let free = device.free, let physical = device.total { head += "; the device reports \(ByteSize.format(free)) free of \(ByteSize.format(physical))" }
        var legend = segments.map { segment -> String in
            switch segment.fill {
            case .model: "\(segment.label) \(ByteSize.format(segment.bytes))"
            case .reservation: "▒ \(segment.label) reserved \(ByteSize.format(segment.bytes))"
            case .foreign: "░ foreign \(ByteSize.format(segment.bytes))"
            }
        }
        if device.cushion > 0 { legend.append("| cushion \(ByteSize.format(device.cushion))") }
        return head + "\n[" + cells.joined() + "]\n  " + (legend.isEmpty ? "empty" : legend.joined(separator: " · ")) + "\n"
    }

    private func modelTable(color: Bool) -> String {
        let header = ["MODEL", "STATE", "PRIO", "DEVICE", "FOOTPRINT", "SOURCE", "BUSY", "QUEUED", "LOADS", "LAST LOAD", "IDLE UNLOAD", "LAST ERROR"]
        let rows = models.map { model -> [String] in
            [model.id, model.state.rawValue, "\(model.priority)", model.device ?? "-", ByteSize.format(model.footprint),
             model.footprintSource.rawValue, "\(model.inFlight)", "\(model.queued)", "\(model.loadCount)",
             model.lastLoadSeconds.map { String(format: "%.1fs", $0) } ?? "-",
             model.keepAliveExpiresIn.map { String(format: "in %.0fs", max(0, $0)) } ?? "-",
             model.lastError.map { String($0.prefix(60)) } ?? ""]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        var out = (color ? "\u{1B}[1m" + line(header) + "\u{1B}[0m" : line(header)) + "\n"
        for (model, row) in zip(models, rows) {
            let text = line(row)
            let code = Self.stateColors[model.state]
            out += (color && code != nil ? "\u{1B}[\(code!)m\(text)\u{1B}[0m" : text) + "\n"
        }
        return out
    }

    /// ANSI colours of priorities 0…4 (the page uses the same order of hues).
    static let priorityColors = ["34", "32", "33", "36", "31"]
    static let stateColors: [ModelState: String] = [.ready: "32", .loading: "33", .unloading: "33", .failed: "31"]
}
