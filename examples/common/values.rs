//! Value parsers for the labs' clap options (`value_parser = ...`), shared
//! through `#[path]`, so that every lab refuses a bad count with the same
//! plain sentence: what is accepted, never a 20-digit bound.

// Each including crate uses a subset of this file.
#![allow(dead_code)]

/// A whole number of at least 1: a count of tasks, connections, CPUs, rounds.
///
/// # Errors
///
/// The text is not a whole number, is 0, or does not fit a `T`.
pub fn at_least_one<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    at_least(1)(text)
}

/// A parser of whole numbers of at least `min`.
pub fn at_least<T: TryFrom<u64>>(
    min: u64,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |text| {
        text.parse::<u64>()
            .ok()
            .filter(|&n| n >= min)
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| format!("expects a whole number, at least {min}"))
    }
}

/// A parser of whole numbers from `min` to `max`, both included.
pub fn within<T: TryFrom<u64>>(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |text| {
        text.parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| format!("expects a whole number from {min} to {max}"))
    }
}

/// A comma-separated list of whole numbers, each at least 1 (`--counts
/// 1000,10000`).
///
/// # Errors
///
/// As [`at_least_one`], naming the item that is wrong.
pub fn list_of_at_least_one<T: TryFrom<u64>>(text: &str) -> Result<Vec<T>, String> {
    text.split(',')
        .map(|item| at_least_one(item).map_err(|e| format!("{item:?} {e}")))
        .collect()
}
