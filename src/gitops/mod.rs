//! git2: trees, commits, trailers, refs.
