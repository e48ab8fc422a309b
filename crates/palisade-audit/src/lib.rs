//! Tamper-evident audit log: an append-only Merkle tree of typed events with
//! signed checkpoints, so that any later change to a stored event is detectable.
