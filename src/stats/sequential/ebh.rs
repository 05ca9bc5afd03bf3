//! e-BH (Wang & Ramdas 2022): the Benjamini–Hochberg procedure applied to e-values. With `K`
//! e-values, reject the `k*` largest, where `k*` is the largest `k` such that the `k`-th
//! largest e-value is at least `K / (α k)`. It controls the false discovery rate at `α`
//! whatever the dependence between the e-values — the metrics of one run are far from
//! independent (a slow endpoint is also a truncating one) — and needs no p-values.

/// Which of `e_values` e-BH rejects at `alpha` (same order as given). Non-finite or negative
/// e-values count as 0 (no evidence).
pub fn e_bh(e_values: &[f64], alpha: f64) -> Vec<bool> {
    let k = e_values.len();
    let clean = |e: f64| if e.is_nan() || e < 0.0 { 0.0 } else { e };
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| clean(e_values[b]).total_cmp(&clean(e_values[a])));
    let mut rejected = 0;
    for (rank, &i) in order.iter().enumerate() {
        let needed = k as f64 / (alpha * (rank + 1) as f64);
        if clean(e_values[i]) >= needed {
            rejected = rank + 1;
        }
    }
    let mut out = vec![false; k];
    for &i in &order[..rejected] {
        out[i] = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_the_largest_e_values_that_clear_their_step() {
        // K = 4, α = 0.1: steps 40/k → 40, 20, 13.3, 10.
        let e = [50.0, 1.0, 15.0, 12.0];
        // 2nd largest 15 < 20, but the 4th largest 1 < 10 and 3rd 12 < 13.3: k* = 1.
        assert_eq!(e_bh(&e, 0.1), [true, false, false, false]);
        let e = [50.0, 9.0, 25.0, 14.0];
        // 4th largest 9 < 10, 3rd largest 14 ≥ 13.3: k* = 3.
        assert_eq!(e_bh(&e, 0.1), [true, false, true, true]);
        assert_eq!(e_bh(&[], 0.1), Vec::<bool>::new());
        assert_eq!(e_bh(&[f64::NAN, 5.0], 0.1), [false, false]);
        assert_eq!(e_bh(&[f64::INFINITY, 0.0], 0.1), [true, false]);
    }
}
