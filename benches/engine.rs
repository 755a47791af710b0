//! Engine benchmarks: the event queue alone, and `scenarios/bench-mesh3.yaml` end to end.
//! Throughput is reported in elements (events) per second.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use regionsim::engine::queue::EventQueue;
use regionsim::scenario::Scenario;
use regionsim::time::SimTime;
use regionsim::{run, simulate, RunOptions};
use std::hint::black_box;
use std::path::Path;

/// Hold `pending` events and do push+pop pairs at increasing times, like a steady-state run.
fn queue(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue");
    for pending in [1_000u64, 100_000] {
        g.throughput(Throughput::Elements(100_000));
        g.bench_function(format!("push_pop_{pending}_pending"), |b| {
            b.iter_batched(
                || {
                    let mut q = EventQueue::new();
                    for i in 0..pending {
                        q.push(SimTime(i * 7919 % 1_000_000), i);
                    }
                    q
                },
                |mut q| {
                    for i in 0..100_000u64 {
                        let (t, _, p) = q.pop().expect("non-empty");
                        q.push(SimTime(t.0 + 1 + (i * 7919) % 1_000_000), p);
                    }
                    black_box(q.len())
                },
                BatchSize::LargeInput,
            )
        });
        g.bench_function(format!("fifo_channels_{pending}_pending"), |b| {
            b.iter_batched(
                || {
                    let mut q = EventQueue::new();
                    for i in 0..pending {
                        q.push_fifo((i % 6) as usize, SimTime(i * 10), i);
                    }
                    q
                },
                |mut q| {
                    for _ in 0..100_000u64 {
                        let (t, _, p) = q.pop().expect("non-empty");
                        q.push_fifo((p % 6) as usize, SimTime(t.0 + pending * 10), p);
                    }
                    black_box(q.len())
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn end_to_end(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bench-mesh3.yaml");
    let sc = Scenario::load(&path).expect("bench scenario");
    let events = run(&sc, RunOptions::default()).expect("run").events;
    let mut g = c.benchmark_group("scenario");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events));
    // The engine alone (what a run reports as events/s), then the whole run with its summary.
    g.bench_function("bench-mesh3-engine", |b| {
        b.iter(|| {
            black_box(
                simulate(&sc, RunOptions::default())
                    .expect("run")
                    .output
                    .end,
            )
        })
    });
    g.bench_function("bench-mesh3", |b| {
        b.iter(|| black_box(run(&sc, RunOptions::default()).expect("run").events))
    });
    g.finish();
}

/// A generated scenario: `n` regions, 30 ms between any two, 50 client ops/s per region (half
/// writes) for 10 s, over `topology`.
fn scaling_scenario(n: usize, topology: &str) -> Scenario {
    let regions: Vec<String> = (0..n).map(|i| format!("{{ name: r{i} }}")).collect();
    let text = format!(
        "name: scale-{topology}-{n}\nduration: 10s\nregions: [{}]\nnetwork: {{ latency: {{ default: 30ms }} }}\nreplication: {{ topology: {topology} }}\nworkload: {{ keys: 100000, rate_per_region: 50 }}\n",
        regions.join(", ")
    );
    Scenario::parse(&text, "scale.yaml").expect("generated scenario")
}

/// How the engine's cost grows with regions and topology (events/s per configuration).
fn scaling(c: &mut Criterion) {
    let mut g = c.benchmark_group("scaling");
    g.sample_size(10);
    for topology in ["mesh", "ring", "hub"] {
        for n in [3, 5, 10, 20, 50] {
            let sc = scaling_scenario(n, topology);
            let events = run(&sc, RunOptions::default()).expect("run").events;
            g.throughput(Throughput::Elements(events));
            g.bench_function(format!("{topology}-{n}"), |b| {
                b.iter(|| {
                    black_box(
                        simulate(&sc, RunOptions::default())
                            .expect("run")
                            .output
                            .end,
                    )
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, queue, end_to_end, scaling);
criterion_main!(benches);
