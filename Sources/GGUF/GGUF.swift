// The GGUF module; see README.md for its role.
