//! Rendering stage: turns a finished `RunSummary` into things people read. It never simulates.

pub mod text;
