// The Backends module; see README.md for its role.
