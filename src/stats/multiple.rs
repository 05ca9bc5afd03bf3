//! Multiple-testing control: a run compares many metrics and cases at once, so raw p-values
//! would raise false alarms at a rate of alpha per comparison.

/// Benjamini–Hochberg adjusted p-values (false discovery rate), in the input order.
///
/// Matches `scipy.stats.false_discovery_control(ps, method="bh")`: the `i`-th smallest p
/// becomes `min_{j >= i} p_(j) m / j`, capped at 1. Use it on all the p-values of one
/// comparison, then flag those whose adjusted value is below alpha: the expected share of
/// false findings among the flagged is then at most alpha.
///
/// A NaN p-value (a test that could not run) counts as 1, and values are clamped to
/// `[0, 1]`, so the output is always a valid p-value. An empty input gives an empty output.
pub fn benjamini_hochberg(ps: &[f64]) -> Vec<f64> {
    let m = ps.len();
    let clean: Vec<f64> = ps
        .iter()
        .map(|&p| if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) })
        .collect();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean[a].total_cmp(&clean[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        let scaled = clean[i] * m as f64 / (rank + 1) as f64;
        running = running.min(scaled);
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_single() {
        assert!(benjamini_hochberg(&[]).is_empty());
        assert_eq!(benjamini_hochberg(&[0.03]), vec![0.03]);
    }

    #[test]
    fn nan_and_out_of_range() {
        assert_eq!(
            benjamini_hochberg(&[f64::NAN, 2.0, -1.0]),
            vec![1.0, 1.0, 0.0]
        );
    }

    #[test]
    fn keeps_input_order() {
        let adj = benjamini_hochberg(&[0.04, 0.01, 0.03]);
        assert_eq!(adj, vec![0.04, 0.03, 0.04]);
    }
}
