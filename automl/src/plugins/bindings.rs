//! Host bindings generated from `plugins-wit/wit/v0.1` (package `automl:plugins@0.1.0`),
//! one module per world, with async exports (calls run on fibers so that a deadline can
//! cancel a guest blocked in a host call). Kept private to the plugin host.
#![allow(missing_docs, clippy::all)]

pub mod preprocessor {
    wasmtime::component::bindgen!({
        path: "../plugins-wit/wit/v0.1",
        world: "preprocessor-plugin",
        exports: { default: async },
    });
}

pub mod metric {
    wasmtime::component::bindgen!({
        path: "../plugins-wit/wit/v0.1",
        world: "metric-plugin",
        exports: { default: async },
    });
}

pub mod stopping {
    wasmtime::component::bindgen!({
        path: "../plugins-wit/wit/v0.1",
        world: "stopping-rule-plugin",
        exports: { default: async },
    });
}
