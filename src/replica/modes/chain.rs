//! Chain replication: writes enter at the head, flow down the chain and commit at the tail;
//! reads are answered by the tail.

use super::Mode;
use crate::replica::plan::Need;
use crate::replica::{Level, RegionId};

/// The configured chain, head first.
#[derive(Copy, Clone, Debug)]
pub struct Chain<'a> {
    pub order: &'a [RegionId],
}

impl Mode for Chain<'_> {
    #[inline]
    fn originator(&self, _at: RegionId) -> Option<RegionId> {
        Some(self.order[0])
    }

    fn first_writer(&self) -> Option<RegionId> {
        self.order.first().copied()
    }

    fn read_primary(&self) -> Option<RegionId> {
        self.order.last().copied()
    }

    /// Every level: a write commits when the tail holds it.
    #[inline]
    fn write_need(&self, _level: Level, _h: u32) -> Need {
        Need::Region(*self.order.last().expect("chain"))
    }

    fn default_read_level(&self) -> Level {
        Level::Primary
    }
}
