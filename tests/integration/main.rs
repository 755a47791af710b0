//! End-to-end behaviour, one module per capability: analytic oracles, determinism, durability
//! under crashes, failover, clocks and data policies, reports, comparisons, sweeps, the swarm and
//! the `sim` command line (exit codes, outputs, bad input). One integration-test binary on
//! purpose: it links once.

mod cli;
mod clocks_and_data;
mod common;
mod compare;
mod determinism;
mod durability;
mod failover;
mod failures;
mod golden;
mod oracles;
mod quorum;
mod reports;
mod swarm;
mod sweeps;
