//! The one check every path a runner writes goes through.
