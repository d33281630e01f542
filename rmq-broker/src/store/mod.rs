//! The message store (placeholder until the store lands).
