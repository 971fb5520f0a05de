// VRAMConfig: reads and validates the YAML config.
