//! In-process Kubernetes API server (being written).
