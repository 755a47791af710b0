//! `linearizable-reads` (runs whose reads at some level were promised linearizability): every
//! such read returned a value no older than any write acknowledged, or read, before it began.
//! The judging lives in [`crate::metrics::linearizable`].

use super::{Check, CheckResult, Inputs};

/// Promised reads are linearizable.
pub struct LinearizableReads;

impl Check for LinearizableReads {
    fn name(&self) -> &'static str {
        "linearizable-reads"
    }

    fn finish(&self, i: &Inputs) -> Option<CheckResult> {
        crate::metrics::linearizable::verdict(&i.out.observer, i.fin, i.names, i.seed).map(
            |(passed, detail)| CheckResult {
                name: self.name().into(),
                passed,
                detail,
            },
        )
    }
}
