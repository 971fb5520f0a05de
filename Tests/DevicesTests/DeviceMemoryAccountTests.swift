import Testing
@testable import Devices

@Suite struct DeviceMemoryAccountTests {
    static let GiB: UInt64 = 1 << 30

    func reading(total: UInt64, used: UInt64) -> DeviceReading {
        DeviceReading(name: "gpu", total: total * Self.GiB, free: (total - used) * Self.GiB, used: used * Self.GiB)
    }

    @Test func withoutCapTheWholeDeviceLessForeignIsPlannable() {
        let account = DeviceMemoryAccount(reading: reading(total: 24, used: 10), cap: nil, managed: 6 * Self.GiB)
        #expect(account.capacity == 24 * Self.GiB)
        #expect(account.foreign == 4 * Self.GiB)
        #expect(account.effectiveCapacity == 20 * Self.GiB)
        #expect(account.headroom == 14 * Self.GiB)
    }

    @Test func capBoundsVramdsOwnModelsNotOtherUsers() {
        // 8 GiB budget on a 24 GiB card where someone else holds 10: the budget is still reachable.
        let account = DeviceMemoryAccount(reading: reading(total: 24, used: 13), cap: 8 * Self.GiB, managed: 3 * Self.GiB)
        #expect(account.foreign == 10 * Self.GiB)
        #expect(account.effectiveCapacity == 8 * Self.GiB)
        #expect(account.headroom == 5 * Self.GiB)
    }

    @Test func foreignMemoryShrinksTheCapWhenTheDeviceIsReallyFull() {
        // Someone holds 20 of 24: a 8 GiB budget can only be 4 GiB now.
        let account = DeviceMemoryAccount(reading: reading(total: 24, used: 21), cap: 8 * Self.GiB, managed: 1 * Self.GiB)
        #expect(account.foreign == 20 * Self.GiB)
        #expect(account.effectiveCapacity == 4 * Self.GiB)
        #expect(account.headroom == 3 * Self.GiB)
    }

    @Test func capAboveThePhysicalSizeIsThePhysicalSize() {
        let account = DeviceMemoryAccount(reading: reading(total: 24, used: 0), cap: 100 * Self.GiB, managed: 0)
        #expect(account.capacity == 24 * Self.GiB)
    }

    @Test func managedAboveUsedIsClampedNotWrapped() {
        let account = DeviceMemoryAccount(reading: reading(total: 24, used: 2), cap: nil, managed: 3 * Self.GiB)
        #expect(account.managed == 2 * Self.GiB)
        #expect(account.foreign == 0)
    }

    @Test func simulatedDeviceReportsWhatItIsTold() async throws {
        let device = SimulatedDeviceProbe(capacity: 16 * Self.GiB)
        device.setUsage(2 * Self.GiB)
        device.setUsage(5 * Self.GiB, ofProcess: 100)
        let reading = try await device.read()
        #expect(reading.used == 7 * Self.GiB)
        #expect(reading.free == 9 * Self.GiB)
        #expect(reading.processes == [ProcessMemory(pid: 100, bytes: 5 * Self.GiB)])
        let account = try await device.account(cap: 12 * Self.GiB, managedRoots: [100])
        #expect(account.managed == 5 * Self.GiB)
        #expect(account.foreign == 2 * Self.GiB)
        #expect(account.headroom == 7 * Self.GiB)
        device.setUsage(0, ofProcess: 100)
        #expect(try await device.read().used == 2 * Self.GiB)
    }
}
