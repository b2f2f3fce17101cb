//! Host bindings generated from `plugins-wit/wit/v0.1` (package `automl:plugins@0.1.0`),
//! one module per world. Kept private to the plugin host.
#![allow(missing_docs, clippy::all)]

pub mod preprocessor {
    wasmtime::component::bindgen!({
        path: "../plugins-wit/wit/v0.1",
        world: "preprocessor-plugin",
    });
}

pub mod metric {
    wasmtime::component::bindgen!({
        path: "../plugins-wit/wit/v0.1",
        world: "metric-plugin",
    });
}

pub mod stopping {
    wasmtime::component::bindgen!({
        path: "../plugins-wit/wit/v0.1",
        world: "stopping-rule-plugin",
    });
}
