import VRAMConfig
