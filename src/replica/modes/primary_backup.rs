//! Primary-backup: one primary originates every write (other regions forward them, or reject
//! them); it acknowledges asynchronously, semi-synchronously or synchronously, and answers
//! primary reads.

use super::Mode;
use crate::replica::plan::Sync;
use crate::replica::{Level, RegionId};

/// The configured primary and acknowledgement.
#[derive(Copy, Clone, Debug)]
pub struct PrimaryBackup {
    pub primary: RegionId,
    /// Forward writes issued elsewhere to the primary (otherwise they fail).
    pub forward: bool,
    pub sync: Sync,
}

impl Mode for PrimaryBackup {
    #[inline]
    fn originator(&self, at: RegionId) -> Option<RegionId> {
        (self.forward || at == self.primary).then_some(self.primary)
    }

    fn first_writer(&self) -> Option<RegionId> {
        Some(self.primary)
    }

    fn read_primary(&self) -> Option<RegionId> {
        Some(self.primary)
    }

    #[inline]
    fn write_count(&self, level: Level, h: u32) -> u32 {
        match level {
            Level::Default | Level::Primary => match self.sync {
                Sync::Async => 1,
                Sync::SemiSync => 2,
                Sync::Sync { backups } => 1 + backups,
            },
            Level::Local => 1,
            Level::All => h,
            Level::Quorum => super::majority(h),
        }
    }
}
