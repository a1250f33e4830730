//! The labs' and benches' statistics (`examples/common/stats.rs`): the
//! median and percentiles every table quotes, and the interval the HTTP
//! bench prints around a median ratio.

mod util;

use util::stats::{INTERVAL_CONFIDENCE, INTERVAL_MIN_VALUES, median, median_interval, percentile};

#[test]
fn a_median_of_an_even_count_is_the_mean_of_the_middle_two() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    assert_eq!(percentile(&[10.0, 20.0, 30.0, 40.0, 50.0], 0.0), 10.0);
    assert_eq!(percentile(&[10.0, 20.0, 30.0, 40.0, 50.0], 1.0), 50.0);
    // Rank 0.9 * 4 = 3.6: 60 % of the way from 40 to 50.
    assert!((percentile(&[50.0, 10.0, 40.0, 20.0, 30.0], 0.9) - 46.0).abs() < 1e-9);
}

#[test]
fn too_few_values_give_no_interval() {
    for n in 0..INTERVAL_MIN_VALUES {
        let values: Vec<f64> = (0..n).map(|i| i as f64).collect();
        assert_eq!(median_interval(&values), None, "{n} values");
    }
    let six: Vec<f64> = (0..6).map(|i| i as f64).collect();
    assert_eq!(median_interval(&six), Some((0.0, 5.0)));
}

/// The 1-based ranks of the interval's ends, from the values 1..=n
/// shuffled (the function must sort them itself).
fn ranks(n: usize) -> (usize, usize) {
    let mut values: Vec<f64> = (1..=n).map(|i| i as f64).collect();
    values.reverse();
    values.swap(0, n / 2);
    let (low, high) = median_interval(&values).expect("enough values");
    (low as usize, high as usize)
}

#[test]
fn the_interval_ends_at_the_order_statistics_of_the_binomial_tables() {
    // The largest j with 1 - 2 P(Binomial(n, 1/2) < j) >= 0.95, and the
    // j-th largest: the standard table of distribution-free intervals.
    for (n, want) in [
        (6, (1, 6)),
        (8, (1, 8)),
        (9, (2, 8)),
        (10, (2, 9)),
        (15, (4, 12)),
        (20, (6, 15)),
        (30, (10, 21)),
        (51, (19, 33)),
        (100, (40, 61)),
    ] {
        assert_eq!(ranks(n), want, "{n} values");
    }
}

#[test]
fn a_large_sample_gets_the_normal_approximations_interval() {
    // No term of the binomial sum underflows: for n = 5000 the ends lie
    // 1.96 sqrt(n) / 2 ranks either side of the middle, as the normal
    // approximation says (about 69 ranks), give or take a rank or two.
    let n = 5000;
    let (low, high) = ranks(n);
    let half_width = 1.96 * (n as f64).sqrt() / 2.0;
    let middle = (n + 1) as f64 / 2.0;
    assert!(
        (middle - low as f64 - half_width).abs() < 2.0,
        "low end at rank {low}"
    );
    assert!(
        (high as f64 - middle - half_width).abs() < 2.0,
        "high end at rank {high}"
    );
}

#[test]
fn the_interval_holds_the_true_median_as_often_as_it_says() {
    // 4000 samples of 15 values from a skewed distribution whose median is
    // known (an exponential one: median ln 2), from a fixed-seed
    // generator. The interval of 15 values holds the median 96.5 % of the
    // time; an off-by-one rank would give 88 % or 99.3 %.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = move || {
        // xorshift64*: deterministic, good enough for a coverage count.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    };
    let true_median = std::f64::consts::LN_2;
    let trials = 4000;
    let mut held = 0;
    for _ in 0..trials {
        let values: Vec<f64> = (0..15).map(|_| -(1.0 - uniform()).ln()).collect();
        let (low, high) = median_interval(&values).expect("15 values");
        if (low..=high).contains(&true_median) {
            held += 1;
        }
    }
    let coverage = held as f64 / trials as f64;
    assert!(
        (INTERVAL_CONFIDENCE - 0.01..=0.98).contains(&coverage),
        "held the median in {coverage:.3} of the trials"
    );
}
