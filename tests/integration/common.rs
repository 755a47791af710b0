//! Helpers every test module shares.

pub use regionsim::metrics::StatsMs;
pub use regionsim::scenario::Scenario;
pub use regionsim::summary::RunSummary;
pub use regionsim::{run, RunOptions};
pub use std::path::{Path, PathBuf};
pub use std::process::Command;

pub fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, "test.yaml").unwrap_or_else(|e| panic!("{e}"))
}

pub fn simulate(text: &str, seed: Option<u64>) -> RunSummary {
    run(
        &scenario(text),
        RunOptions {
            seed,
            ..Default::default()
        },
    )
    .expect("run")
}

pub const MS: f64 = 1.0;

pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn exact(s: &StatsMs, want: f64, what: &str) {
    assert!(s.count > 100, "{what}: {s:?}");
    assert_eq!((s.min, s.max), (want, want), "{what}: {s:?}");
}

pub fn level<'a>(s: &'a RunSummary, op: &str, level: &str) -> &'a regionsim::summary::LevelOut {
    s.levels
        .iter()
        .find(|l| l.op == op && l.level == level)
        .unwrap_or_else(|| panic!("no {op} {level} in {:?}", s.levels))
}

pub fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

pub fn sim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run sim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("regionsim-it-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
