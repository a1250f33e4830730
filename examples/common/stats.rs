//! Medians and percentiles, the one definition every lab, bench and test
//! uses (shared through `#[path]`), so that "median" and "p99" mean the same
//! thing in every table of the project.
//!
//! The definition is numpy's default (linear interpolation between the two
//! nearest ranks): the median of an even count is the mean of the middle
//! two, and a quantile of a small sample does not jump from one sample to
//! the next as `q` moves.

// Each including crate uses a subset of this file.
#![allow(dead_code)]

use std::time::Duration;

/// A measurement [`percentile`] can sort and interpolate: seconds, bytes,
/// ratios as `f64`, or a [`Duration`].
pub trait Sample: Copy + PartialOrd {
    /// The value the fraction `t` (`0.0..=1.0`) of the way from `self` to
    /// `above`, which is not smaller.
    fn toward(self, above: Self, t: f64) -> Self;
}

impl Sample for f64 {
    fn toward(self, above: f64, t: f64) -> f64 {
        self + (above - self) * t
    }
}

impl Sample for Duration {
    fn toward(self, above: Duration, t: f64) -> Duration {
        self + (above - self).mul_f64(t)
    }
}

/// The `q`-quantile of `values` (`q` from 0.0, the smallest, through 0.5,
/// the median, to 1.0, the largest), interpolated between the two nearest
/// ranks. `values` need not be sorted.
///
/// # Panics
///
/// If `values` is empty, `q` is outside `0.0..=1.0`, or a value is NaN:
/// each is a bug in the caller, which has no figure to report.
pub fn percentile<T: Sample>(values: &[T], q: f64) -> T {
    assert!(!values.is_empty(), "the percentile of no values");
    assert!((0.0..=1.0).contains(&q), "percentile {q} is outside 0..=1");
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).expect("measurements are never NaN"));
    let rank = (sorted.len() - 1) as f64 * q;
    let below = rank.floor() as usize;
    let above = rank.ceil() as usize;
    sorted[below].toward(sorted[above], rank - below as f64)
}

/// The median of `values`: the middle one, or the mean of the middle two.
///
/// # Panics
///
/// As [`percentile`].
pub fn median<T: Sample>(values: &[T]) -> T {
    percentile(values, 0.5)
}
