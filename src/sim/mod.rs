//! The GitHub simulator behind `prflow sim`.
