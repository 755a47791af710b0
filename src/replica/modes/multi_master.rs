//! Multi-master (active-active): every region accepts writes and acknowledges them locally,
//! then ships them to the others; last-writer-wins or the table's policy resolves conflicts.

use super::Mode;
use crate::replica::RegionId;

/// Every region originates its clients' writes.
#[derive(Copy, Clone, Debug)]
pub struct MultiMaster;

impl Mode for MultiMaster {
    #[inline]
    fn originator(&self, at: RegionId) -> Option<RegionId> {
        Some(at)
    }
}
