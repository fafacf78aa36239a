//! Multi-region health and failover (its own issue).
