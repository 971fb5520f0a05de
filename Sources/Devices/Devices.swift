// The Devices module; see README.md for its role.
