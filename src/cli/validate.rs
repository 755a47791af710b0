//! `sim validate`: check scenario files without running them (exit 2 if any is refused).

use super::InputError;
use regionsim::scenario::{Scenario, DEFAULT_MAX_EVENTS};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(a: Args) -> Result<ExitCode, InputError> {
    let mut bad = 0;
    for f in &a.files {
        match Scenario::load(f).and_then(|sc| sc.check_size(DEFAULT_MAX_EVENTS).map(|_| sc)) {
            Ok(sc) => {
                println!(
                    "ok   {}: {} regions, {} faults, about {:.2e} events",
                    f.display(),
                    sc.n(),
                    sc.faults.len(),
                    sc.estimated_events()
                );
                for w in &sc.warnings {
                    println!("     warning: {w}");
                }
            }
            Err(e) => {
                bad += 1;
                eprintln!("error: {e}");
            }
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
