//! The offline HTML viewer.
