extension Config {
    /// The keys whose new values in `self` a running vramd started with `running` does not
    /// take up on a reload, because they are fixed at start: the listening socket, the devices
    /// and their probes, and the broker's own settings. A reload applies the models and the
    /// ledger's policy (`policy.upward_eviction`, `policy.min_residency`); these need a restart.
    public func keysNeedingRestart(running: Config) -> [String] {
        let old = running.broker, new = broker
        let checks: [(String, Bool)] = [
            ("listen", listen == running.listen),
            ("devices", devices == running.devices),
            ("queue.max", new.queueMax == old.queueMax),
            ("queue.timeout", new.queueTimeout == old.queueTimeout),
            ("auth", new.auth == old.auth),
            ("routing", new.routing == old.routing),
            ("max_body", new.maxBody == old.maxBody),
            ("state_dir", new.stateDirectory == old.stateDirectory),
            ("log_dir", new.logDirectory == old.logDirectory),
            ("hooks.on_pressure", new.onPressureHook == old.onPressureHook),
            ("audio_proxy", new.audioProxy == old.audioProxy),
            ("loading_feedback", new.loadingFeedback == old.loadingFeedback),
            ("idle_timeout", new.idleTimeout == old.idleTimeout),
            ("shutdown_grace", new.shutdownGrace == old.shutdownGrace),
            ("policy.swap_quantum", new.swapQuantumRequests == old.swapQuantumRequests && new.swapQuantumTime == old.swapQuantumTime),
            ("policy.prompt_cache_disk", new.promptCacheDisk == old.promptCacheDisk),
            ("policy.prompt_cache_timeout", new.promptCacheTimeout == old.promptCacheTimeout),
            ("policy.prewarm", new.prewarm == old.prewarm),
        ]
        return checks.filter { !$0.1 }.map(\.0)
    }
}
