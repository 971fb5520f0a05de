extension BrokerSettings {
    /// These settings with the ones a reload applies taken from `new`: the queue, routing, the
    /// swap quantum, prewarming, the pressure hook and loading feedback.
    /// The rest are fixed at start (``Config/keysNeedingRestart(running:)`` names them).
    public func reloaded(from new: BrokerSettings) -> BrokerSettings {
        var settings = self
        settings.queueMax = new.queueMax
        settings.queueTimeout = new.queueTimeout
        settings.routing = new.routing
        settings.swapQuantumRequests = new.swapQuantumRequests
        settings.swapQuantumTime = new.swapQuantumTime
        settings.prewarm = new.prewarm
        settings.onPressureHook = new.onPressureHook
        settings.loadingFeedback = new.loadingFeedback
        return settings
    }
}

extension Config {
    /// The keys whose new values in `self` a running vramd started with `running` does not
    /// take up on a reload, because they are fixed at start: the listening socket and what the
    /// connections were set up with, the devices and their probes, authentication, the
    /// shutdown's bound, and where state, logs and prompt caches are kept. A reload applies the models, the ledger's policy
    /// and ``BrokerSettings/reloaded(from:)``'s settings; these need a restart.
    public func keysNeedingRestart(running: Config) -> [String] {
        let old = running.broker, new = broker
        let checks: [(String, Bool)] = [
            ("listen", listen == running.listen),
            ("devices", devices == running.devices),
            ("auth", new.auth == old.auth),
            ("max_body", new.maxBody == old.maxBody),
            ("idle_timeout", new.idleTimeout == old.idleTimeout),
            ("shutdown_grace", new.shutdownGrace == old.shutdownGrace),
            ("audio_proxy", new.audioProxy == old.audioProxy),
            ("state_dir", new.stateDirectory == old.stateDirectory),
            ("log_dir", new.logDirectory == old.logDirectory),
            ("policy.prompt_cache_disk", new.promptCacheDisk == old.promptCacheDisk),
            ("policy.prompt_cache_timeout", new.promptCacheTimeout == old.promptCacheTimeout),
        ]
        return checks.filter { !$0.1 }.map(\.0)
    }
}
