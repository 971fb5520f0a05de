import Prometheus

/// Every metric vramd exports, in one place: the registry traps when one name is used for two
/// metric types, or twice with different help texts.
enum MetricNames {
    private static func name(_ metric: String, unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "vramd", metricName: metric, unitName: unit, helpText: help)
    }

    // Gauges, set from the status report at each scrape.
    static var deviceBytes: MetricNameDescriptor {
        name("device", unit: "bytes", "Device memory by state: total and free as the device reports them; capacity, cushion, foreign, resident, reserved and free_for_planning as vramd plans with them.")
    }
    static var modelState: MetricNameDescriptor {
        name("model_state", unit: "", "1 for the state a model is in (unloaded, loading, ready, unloading, failed), 0 for the others.")
    }
    static var modelFootprint: MetricNameDescriptor {
        name("model_footprint", unit: "bytes", "The memory vramd plans a model with.")
    }
    static var modelInFlight: MetricNameDescriptor { name("model_in_flight", unit: "requests", "Requests a model is serving now.") }
    static var modelQueued: MetricNameDescriptor { name("model_queued", unit: "requests", "Requests waiting for a model.") }
    static var queueWaiting: MetricNameDescriptor { name("queue_waiting", unit: "requests", "Requests waiting for any model.") }

    // The model-server protocol of the Gateway API Inference Extension (docs/cluster.md).
    static var requestsQueued: MetricNameDescriptor {
        name("requests_queued", unit: "", "Requests waiting, for a slot or for their model's load.")
    }
    static var requestsRunning: MetricNameDescriptor { name("requests_running", unit: "", "Requests being served.") }
    static var memoryUsedRatio: MetricNameDescriptor {
        name("memory_used_ratio", unit: "", "Memory in use across the node's devices, 0 to 1, of what vramd may plan with.")
    }
    static var memoryLoadable: MetricNameDescriptor {
        name("memory_loadable", unit: "bytes", "The most a load could get on one device without evicting anything.")
    }
    static var modelResidency: MetricNameDescriptor {
        name("model_residency", unit: "", "One series: resident models (running_lora_adapters), loading or queued ones (waiting_lora_adapters) and max_lora (resident + loading + how many more fit without evicting); its value is the Unix time of its last change.")
    }

    // Counters, brought up to the scheduler's own counts at each scrape.
    static var requests: MetricNameDescriptor { name("requests", unit: "total", "Requests that asked the scheduler for a model.") }
    static var loads: MetricNameDescriptor { name("loads", unit: "total", "Models loaded.") }
    static var modelLoads: MetricNameDescriptor { name("model_loads", unit: "total", "Loads of each model.") }
    static var loadFailures: MetricNameDescriptor { name("load_failures", unit: "total", "Loads that failed.") }
    static var unloads: MetricNameDescriptor { name("unloads", unit: "total", "Models unloaded, evictions included.") }
    static var evictions: MetricNameDescriptor { name("evictions", unit: "total", "Models evicted, by the rule that chose the victim.") }
    static var swaps: MetricNameDescriptor { name("swaps", unit: "total", "Models swapped out to load another.") }
    static var rejected: MetricNameDescriptor {
        name("rejected_requests", unit: "total", "Requests refused: queue_full (429) or queue_timeout.")
    }
    static var backendFailures: MetricNameDescriptor {
        name("backend_failures", unit: "total", "Loaded backends that died or failed their health checks.")
    }

    static var promptCacheSlots: MetricNameDescriptor {
        name("prompt_cache_slots", unit: "total", "Slots of llama-server's prompt cache saved before an unload or restored after a load, and those that failed.")
    }
    static var promptCacheBytes: MetricNameDescriptor {
        name("prompt_cache", unit: "bytes_total", "Bytes of prompt cache saved and restored.")
    }

    // Histograms, recorded as things happen.
    static var queueWait: MetricNameDescriptor {
        name("queue_wait", unit: "seconds", "How long requests waited for their model (its load included) and a slot.")
    }
    static var loadDuration: MetricNameDescriptor { name("load_duration", unit: "seconds", "How long loads took.") }

    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300),
    ]
}
