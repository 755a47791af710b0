//! Quorum (Dynamo-style): the coordinator in the client's region writes to the key's replicas
//! and waits for `w` of them; reads ask them all and wait for `r`.

use super::Mode;
use crate::replica::{Level, RegionId};

/// The configured quorums.
#[derive(Copy, Clone, Debug)]
pub struct Quorum {
    pub w: u32,
    pub r: u32,
    /// Without hinted handoff, entries a replica has not acknowledged within the request
    /// timeout are given up.
    pub hinted_handoff: bool,
}

impl Mode for Quorum {
    #[inline]
    fn originator(&self, at: RegionId) -> Option<RegionId> {
        Some(at)
    }

    #[inline]
    fn write_count(&self, level: Level, h: u32) -> u32 {
        match level {
            Level::Quorum | Level::Default => self.w,
            Level::Local | Level::Primary => 1,
            Level::All => h,
        }
    }

    fn default_read_level(&self) -> Level {
        Level::Quorum
    }

    fn quorum_read_count(&self, _h: u32) -> u32 {
        self.r
    }

    fn stamps_without_holding(&self) -> bool {
        true
    }
}
