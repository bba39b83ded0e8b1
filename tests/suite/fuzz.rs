//! Hostile input: every parser that reads input from outside Starling, fuzzed
//! (`starling_tests::fuzz` has the targets, their seeds and the input generators).
//!
//! The suite replays every target's corpus (its seeds and every input that ever made it
//! panic or hang, saved under `tests/fuzz/<target>/`) and a short repeatable run of
//! generated inputs; `bash .ci/fuzz` runs the long, random fuzzing.

use starling_tests::fuzz;
use std::time::{Duration, Instant};

/// Generated inputs per target in the suite's short run.
const SHORT_RUN_CASES: u64 = 300;

#[test]
fn every_parser_reads_its_corpus_and_a_short_fuzz_run_without_panicking() {
    let mut problems = Vec::new();
    for target in fuzz::targets() {
        match fuzz::replay(&target) {
            Ok(count) => assert!(count >= 1, "{} has no seed", target.name),
            Err(problem) => problems.push(problem),
        }
        let report = on_big_stack(move || {
            let report = fuzz::run(&target, Instant::now() + Duration::from_secs(600), SHORT_RUN_CASES, Some(2026_12_04));
            (target.name, report)
        });
        let (name, report) = report;
        if let Some((path, reason)) = report.failure {
            problems.push(format!("{name}: an input panics ({reason}); saved as {}", path.display()));
        } else {
            assert_eq!(report.cases, SHORT_RUN_CASES, "{name}");
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The long run of `bash .ci/fuzz`: `STARLING_FUZZ_TARGETS` (comma-separated names, all by
/// default), `STARLING_FUZZ_SECONDS` each (600 by default), `STARLING_FUZZ_THREADS` at once.
#[test]
#[ignore = "long: run with bash .ci/fuzz"]
fn fuzz_for_a_while() {
    let seconds: u64 = std::env::var("STARLING_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let wanted: Vec<String> = std::env::var("STARLING_FUZZ_TARGETS")
        .ok()
        .filter(|s| !s.trim().is_empty() && s != "all")
        .map(|s| s.split(',').map(|t| t.trim().to_string()).collect())
        .unwrap_or_else(|| fuzz::targets().iter().map(|t| t.name.to_string()).collect());
    for name in &wanted {
        assert!(
            fuzz::target(name).is_some(),
            "no fuzz target {name:?}; the targets: {:?}",
            fuzz::targets().iter().map(|t| t.name).collect::<Vec<_>>()
        );
    }
    let threads: usize = std::env::var("STARLING_FUZZ_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    // Panics are caught and reported by proptest with their message; printing each one
    // while it shrinks an input would drown the summary.
    std::panic::set_hook(Box::new(|_| {}));
    let queue = std::sync::Arc::new(std::sync::Mutex::new(wanted.clone()));
    let (sender, receiver) = std::sync::mpsc::channel();
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let (queue, sender) = (queue.clone(), sender.clone());
            std::thread::Builder::new()
                .stack_size(8 << 20)
                .spawn(move || loop {
                    let Some(name) = queue.lock().unwrap().pop() else { break };
                    let target = fuzz::target(&name).unwrap();
                    let started = Instant::now();
                    let report = fuzz::run(&target, started + Duration::from_secs(seconds), u64::MAX, None);
                    let _ = sender.send((name, started.elapsed(), report));
                })
                .unwrap()
        })
        .collect();
    drop(sender);
    let mut failures = Vec::new();
    eprintln!("{:<16} {:>8} {:>12} {:>9} {:>14} {:>12}  result", "target", "seconds", "inputs", "inputs/s", "largest bytes", "slowest ms");
    for (name, took, report) in receiver {
        let result = match &report.failure {
            None => "0 panics, 0 hangs".to_string(),
            Some((path, reason)) => {
                failures.push(name.clone());
                format!("PANIC saved as {}: {reason}", path.display())
            }
        };
        eprintln!(
            "{:<16} {:>8.0} {:>12} {:>9.0} {:>14} {:>12.1}  {result}",
            name,
            took.as_secs_f64(),
            report.cases,
            report.cases as f64 / took.as_secs_f64(),
            report.largest_input,
            report.slowest.as_secs_f64() * 1000.0
        );
    }
    for worker in workers {
        let _ = worker.join();
    }
    assert!(failures.is_empty(), "inputs that panic: {failures:?} (saved under tests/fuzz/)");
}

/// Runs `f` on a thread with the 8 MiB stack the server gives its workers.
fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(8 << 20).spawn(f).unwrap().join().unwrap()
}
