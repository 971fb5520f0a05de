import Foundation
import Testing
@testable import Backends

@Suite struct FootprintStoreTests {
    let key = FootprintKey(model: "gemma", file: "/models/gemma.gguf", contextLength: 2048, parallel: 1, kvType: "f16")

    @Test func keyNamesWhatChangesTheFootprint() {
        #expect(key.variant == "file=/models/gemma.gguf;context=2048;parallel=1;kv=f16")
        #expect(FootprintKey(model: "m", file: nil, contextLength: 4096, parallel: nil, kvType: nil).variant == "context=4096")
        #expect(key != FootprintKey(model: "gemma", file: "/models/gemma.gguf", contextLength: 4096, parallel: 1, kvType: "f16"))
    }

    @Test func measurementsSurviveARestartAndOnlyEverGrow() async throws {
        try await RealTools.withTemporaryDirectory { directory in
            let path = directory + "/state/footprints.json"
            let store = FootprintStore(path: path)
            #expect(await store.plannedSize(for: key, declared: 100) == 100)
            await store.record(300 * MiB, for: key)
            await store.record(200 * MiB, for: key)
            #expect(await store.measurement(for: key)?.bytes == 300 * MiB)

            let reopened = FootprintStore(path: path)
            #expect(await reopened.plannedSize(for: key, declared: 100 * MiB) == 300 * MiB, "the measurement is larger")
            #expect(await reopened.plannedSize(for: key, declared: 400 * MiB) == 400 * MiB, "the declared figure is larger")
            let other = FootprintKey(model: "gemma", variant: "context=8192")
            #expect(await reopened.measurement(for: other) == nil)

            await reopened.forget(key)
            #expect(await FootprintStore(path: path).measurement(for: key) == nil)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.contains("\"version\" : 1"))
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
            #expect(leftovers == ["footprints.json"], "the atomic write leaves no temporary file")
        }
    }

    @Test(arguments: ["{ not json", #"{"version": 7, "footprints": []}"#, ""])
    func corruptFileIsIgnoredAndSetAside(contents: String) async throws {
        try await RealTools.withTemporaryDirectory { directory in
            let path = directory + "/footprints.json"
            try contents.write(toFile: path, atomically: true, encoding: .utf8)
            let store = FootprintStore(path: path)
            #expect(await store.measurement(for: key) == nil)
            #expect(FileManager.default.fileExists(atPath: path + ".corrupt"))
            await store.record(42, for: key)
            #expect(await FootprintStore(path: path).measurement(for: key)?.bytes == 42)
        }
    }

    @Test func defaultPathFollowsXDG() {
        #expect(FootprintStore.defaultPath(stateDirectory: "/var/lib/vramd") == "/var/lib/vramd/footprints.json")
        #expect(FootprintStore.defaultPath(environment: ["XDG_STATE_HOME": "/s", "HOME": "/h"]) == "/s/vramd/footprints.json")
        #expect(FootprintStore.defaultPath(environment: ["HOME": "/h"]) == "/h/.local/state/vramd/footprints.json")
    }
}
