//! Determinism: same scenario and seed, same bytes.

use crate::common::*;

#[test]
fn same_seed_same_bytes_different_seed_different_digest() {
    let sc = Scenario::load(&shipped("partition.yaml")).unwrap();
    let a = run(&sc, RunOptions::default()).unwrap();
    let b = run(&sc, RunOptions::default()).unwrap();
    assert_eq!(a.trace_digest, b.trace_digest);
    assert_eq!(a.deterministic_json(), b.deterministic_json());
    let c = run(
        &sc,
        RunOptions {
            seed: Some(43),
            ..Default::default()
        },
    )
    .unwrap();
    assert_ne!(a.trace_digest, c.trace_digest);
    assert_ne!(a.writes.issued, 0);
}

#[test]
fn trace_file_is_deterministic_and_matches_the_event_count() {
    let sc = Scenario::load(&shipped("lossy-links.yaml")).unwrap();
    let capture = || {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        struct W(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for W {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let s = run(
            &sc,
            RunOptions {
                trace: Some(Box::new(W(buf.clone()))),
                ..Default::default()
            },
        )
        .unwrap();
        let bytes = buf.lock().unwrap().clone();
        (s, bytes)
    };
    let (s1, t1) = capture();
    let (s2, t2) = capture();
    assert_eq!(t1, t2);
    assert_eq!(s1.trace_digest, s2.trace_digest);
    let text = String::from_utf8(t1).unwrap();
    let delivers = text
        .lines()
        .filter(|l| l.contains(r#""ev":"deliver""#))
        .count() as u64;
    assert_eq!(delivers, s1.messages.delivered);
    let reads = text
        .lines()
        .filter(|l| l.contains(r#""ev":"reply","region""#) && l.contains(r#""op":"read""#))
        .count() as u64;
    assert_eq!(
        reads,
        s1.reads.total + s1.reads.failed,
        "every read's reply is traced"
    );
    for line in text.lines().take(100) {
        serde_json::from_str::<serde_json::Value>(line).expect("each line is JSON");
    }
    // Tracing to a file does not change the run.
    let plain = run(&sc, RunOptions::default()).unwrap();
    assert_eq!(plain.trace_digest, s1.trace_digest);
}
