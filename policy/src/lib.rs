//! Tenant access policy (its own issue).
