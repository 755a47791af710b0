//! `sim presets`: list the shipped latency tables, or show one as a one-way latency matrix.

use super::{input, InputError};
use regionsim::presets;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    name: Option<String>,
}

pub fn run(a: Args) -> Result<ExitCode, InputError> {
    match a.name {
        None => list(),
        Some(n) => show(&n)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn list() {
    println!("{:<12} {:<10} {:>7}  source", "preset", "cloud", "regions");
    for p in presets::PRESETS {
        let t = p.table();
        let src: String = t.source.chars().take(90).collect();
        println!(
            "{:<12} {:<10} {:>7}  {src}...",
            p.name,
            p.cloud,
            t.regions.len()
        );
    }
    println!("\nValues are round-trip times; scenarios use RTT/2 as one-way latency. `sim presets NAME` shows one.");
}

fn show(n: &str) -> Result<(), InputError> {
    let p = input(presets::find(n).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown preset `{n}`; available: {}",
            presets::names().join(", ")
        )
    }))?;
    let t = p.table();
    println!(
        "{} ({}, {} regions; presets/latency/{})",
        p.name,
        p.cloud,
        t.regions.len(),
        p.file
    );
    println!("source: {}\n", t.source);
    println!("one-way latency in ms (RTT/2), row = from, column = to:");
    let w = t.regions.iter().map(|r| r.len()).max().unwrap_or(4);
    print!("{:<w$}", "");
    for (j, _) in t.regions.iter().enumerate() {
        print!(" {:>6}", j);
    }
    println!();
    for (i, r) in t.regions.iter().enumerate() {
        print!("{r:<w$}");
        for j in 0..t.regions.len() {
            match t.rtt_ms[i][j] {
                Some(v) if i != j => print!(" {:>6.1}", v / 2.0),
                _ => print!(" {:>6}", "."),
            }
        }
        println!("  [{i}]");
    }
    Ok(())
}
