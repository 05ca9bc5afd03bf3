//! Tests and distances between categorical distributions: the chi-square test of
//! independence on an r×c table (e.g. finish reasons or refusal categories, baseline against
//! run) and the Jensen–Shannon divergence between two histograms.

use super::special::chi2_sf;

/// Pearson's chi-square test of independence on a contingency table of counts, returned as
/// `(statistic, dof, p)`.
///
/// Matches `scipy.stats.chi2_contingency(table, correction=False)` after dropping all-zero
/// rows and columns (scipy refuses tables with a zero expected count; a category nobody
/// used carries no information, so dropping it is the right reading). Use it to ask whether
/// the mix of categories changed between runs (rows = runs, columns = categories).
///
/// `None` when the table has no rows, rows of different lengths, or no counts at all. A
/// table left with a single row or column after dropping has nothing to test: `(0, 0, 1)`,
/// as scipy returns for zero degrees of freedom. No Yates correction, even for 2×2 (scipy's
/// default would apply it): it is overly conservative and would make this disagree with
/// [`super::two_proportion_z`].
pub fn chi2_contingency(table: &[Vec<u64>]) -> Option<(f64, usize, f64)> {
    let cols = table.first()?.len();
    if table.iter().any(|r| r.len() != cols) {
        return None;
    }
    let col_sums: Vec<u64> = (0..cols)
        .map(|j| table.iter().map(|r| r[j]).sum())
        .collect();
    let keep_cols: Vec<usize> = (0..cols).filter(|&j| col_sums[j] > 0).collect();
    let rows: Vec<&Vec<u64>> = table.iter().filter(|r| r.iter().any(|&v| v > 0)).collect();
    let total: u64 = col_sums.iter().sum();
    if total == 0 {
        return None;
    }
    if rows.len() < 2 || keep_cols.len() < 2 {
        return Some((0.0, 0, 1.0));
    }
    let total = total as f64;
    let mut stat = 0.0;
    for r in &rows {
        let row_sum: u64 = r.iter().sum();
        for &j in &keep_cols {
            let expected = row_sum as f64 * col_sums[j] as f64 / total;
            let d = r[j] as f64 - expected;
            stat += d * d / expected;
        }
    }
    let dof = (rows.len() - 1) * (keep_cols.len() - 1);
    Some((stat, dof, chi2_sf(stat, dof)))
}

/// The Jensen–Shannon divergence (base 2, so in `[0, 1]`) between two histograms given as
/// non-negative counts (or weights) over the same categories; each is normalised first.
///
/// Equals `scipy.spatial.distance.jensenshannon(p, q, base=2) ** 2`: the divergence, not the
/// distance. Use it as an effect size for "how different is the mix" (0 = identical,
/// 1 = disjoint supports), beside [`chi2_contingency`] which says whether it is real.
///
/// A histogram shorter than the other is padded with zeros (missing categories are
/// unused). `None` when either histogram has no mass, or a count is negative or not finite.
pub fn js_divergence(p_counts: &[f64], q_counts: &[f64]) -> Option<f64> {
    let valid = |v: &[f64]| v.iter().all(|x| x.is_finite() && *x >= 0.0);
    if !valid(p_counts) || !valid(q_counts) {
        return None;
    }
    let sp: f64 = p_counts.iter().sum();
    let sq: f64 = q_counts.iter().sum();
    if sp <= 0.0 || sq <= 0.0 || !sp.is_finite() || !sq.is_finite() {
        return None;
    }
    let len = p_counts.len().max(q_counts.len());
    let mut js = 0.0;
    for i in 0..len {
        let p = p_counts.get(i).copied().unwrap_or(0.0) / sp;
        let q = q_counts.get(i).copied().unwrap_or(0.0) / sq;
        let m = (p + q) / 2.0;
        // x ln(x / m), with 0 ln 0 = 0 (scipy's rel_entr)
        if p > 0.0 {
            js += p * (p / m).ln();
        }
        if q > 0.0 {
            js += q * (q / m).ln();
        }
    }
    Some((js / 2.0 / std::f64::consts::LN_2).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_tables() {
        assert_eq!(chi2_contingency(&[]), None);
        assert_eq!(chi2_contingency(&[vec![1, 2], vec![3]]), None);
        assert_eq!(chi2_contingency(&[vec![0, 0], vec![0, 0]]), None);
        assert_eq!(
            chi2_contingency(&[vec![5, 0], vec![7, 0]]),
            Some((0.0, 0, 1.0))
        );
        assert_eq!(chi2_contingency(&[vec![5, 3]]), Some((0.0, 0, 1.0)));
        assert_eq!(chi2_contingency(&[vec![]]), None);
    }

    #[test]
    fn zero_rows_and_columns_are_dropped() {
        let a = chi2_contingency(&[vec![10, 0, 20], vec![0, 0, 0], vec![30, 0, 5]]);
        let b = chi2_contingency(&[vec![10, 20], vec![30, 5]]);
        assert_eq!(a, b);
    }

    #[test]
    fn js_edges() {
        assert_eq!(js_divergence(&[], &[1.0]), None);
        assert_eq!(js_divergence(&[0.0, 0.0], &[1.0]), None);
        assert_eq!(js_divergence(&[-1.0, 2.0], &[1.0]), None);
        assert_eq!(js_divergence(&[f64::NAN], &[1.0]), None);
        assert_eq!(js_divergence(&[1.0, 0.0], &[0.0, 1.0]), Some(1.0));
        assert_eq!(js_divergence(&[2.0, 2.0], &[5.0, 5.0]), Some(0.0));
        assert_eq!(js_divergence(&[1.0], &[1.0, 0.0, 0.0]), Some(0.0));
    }
}
