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

/// Confidence of [`median_interval`].
pub const INTERVAL_CONFIDENCE: f64 = 0.95;

/// Fewest values [`median_interval`] needs: with 5, even the whole range
/// holds the median with only 1 - 2/2^5 = 93.75 % confidence.
pub const INTERVAL_MIN_VALUES: usize = 6;

/// The range that holds the median of the distribution `values` were drawn
/// from with at least [`INTERVAL_CONFIDENCE`], or `None` for fewer than
/// [`INTERVAL_MIN_VALUES`] values.
///
/// Distribution-free, from order statistics: of `n` independent values,
/// the number below the true median is Binomial(`n`, 1/2), so the `j`-th
/// smallest and the `j`-th largest bracket it with probability
/// `1 - 2 P(B < j)`; this takes the largest `j` that keeps that at the
/// confidence. Nothing is assumed about the values' spread or shape, which
/// suits a noisy machine's rounds: a ratio whose interval holds 1.0 has not
/// been told apart from a tie. Values such as per-round ratios qualify as
/// long as the rounds are independent.
///
/// # Panics
///
/// If a value is NaN (a bug in the caller, as in [`percentile`]).
pub fn median_interval<T: Sample>(values: &[T]) -> Option<(T, T)> {
    let n = values.len();
    if n < INTERVAL_MIN_VALUES {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).expect("measurements are never NaN"));
    // The ends at 0-based ranks i and n-1-i miss the median with
    // probability 2 P(B <= i). P(B = i) is summed in logs, so that no term
    // underflows for large n: ln C(n, i+1) = ln C(n, i) + ln((n-i)/(i+1)).
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_choose = 0.0f64;
    let mut at_most = 0.0f64;
    let mut narrowest = None;
    for i in 0..n / 2 {
        at_most += (ln_choose + ln_half_n).exp();
        if 1.0 - 2.0 * at_most < INTERVAL_CONFIDENCE {
            break;
        }
        narrowest = Some(i);
        ln_choose += ((n - i) as f64 / (i + 1) as f64).ln();
    }
    narrowest.map(|i| (sorted[i], sorted[n - 1 - i]))
}
