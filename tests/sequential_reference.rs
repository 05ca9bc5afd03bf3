//! Checks `probity::stats::sequential` against the PyPI package `confseq` 0.0.11, via
//! `scripts/sequential_reference.py` → `tests/vectors/sequential_reference.json`.
//!
//! Tolerances: the normal-mixture boundary, its e-value and the asymptotic confidence
//! sequence are closed forms: 1e-6 relative. The betting capital is a product of closed-form
//! factors: 1e-6 relative too. The betting confidence sequence is where the two differ in
//! method: confseq searches a grid of 1000 points (its bound is the first grid point inside
//! the sequence, minus one step) while probity bisects to 1e-10, so the check is that
//! probity's exact bound lies within the grid step confseq's allows: `l ≤ ours ≤ l + 2/1000`.

use probity::stats::sequential::{
    Betting, MeanCs, Side, best_rho, log_mixture_e_value, mixture_e_value, two_sided_bound,
};
use serde_json::Value;

const REL: f64 = 1e-6;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/sequential_reference.json"
    );
    let text = std::fs::read_to_string(path).expect("reference vectors present");
    serde_json::from_str(&text).expect("reference vectors are JSON")
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(ours: f64, theirs: f64, what: &str) {
    let tol = REL * theirs.abs().max(1e-12);
    assert!(
        (ours - theirs).abs() <= tol,
        "{what}: ours {ours}, confseq {theirs}"
    );
}

#[test]
fn the_normal_mixture_boundary_matches_confseq() {
    let v = vectors();
    let cases = v["normal_mixture_bound"].as_array().unwrap();
    assert!(cases.len() >= 50);
    for c in cases {
        let (vv, alpha, v_opt) = (num(&c["v"]), num(&c["alpha"]), num(&c["v_opt"]));
        let ours = two_sided_bound(vv, alpha, best_rho(v_opt, alpha));
        close(ours, num(&c["bound"]), &format!("bound {c}"));
    }
}

#[test]
fn the_mixture_e_value_matches_confseq() {
    let v = vectors();
    for c in v["normal_log_mixture"].as_array().unwrap() {
        let rho = best_rho(num(&c["v_opt"]), num(&c["alpha"]));
        let ours = log_mixture_e_value(num(&c["s"]), num(&c["v"]), rho);
        let plain = mixture_e_value(num(&c["s"]), num(&c["v"]), rho);
        assert!((plain.ln() - ours).abs() <= 1e-9 * ours.abs().max(1.0));
        let theirs = num(&c["log_e"]);
        assert!(
            (ours - theirs).abs() <= REL * theirs.abs().max(1e-9),
            "log e {c}: ours {ours}"
        );
    }
}

#[test]
fn the_asymptotic_confidence_sequence_matches_its_closed_form() {
    let v = vectors();
    for c in v["asymptotic_cs"].as_array().unwrap() {
        let x: Vec<f64> = c["x"].as_array().unwrap().iter().map(num).collect();
        let cs = MeanCs::of(&x, num(&c["alpha"]), num(&c["n_opt"]), 0.0).unwrap();
        close(cs.mean, num(&c["mean"]), "mean");
        close(cs.radius, num(&c["radius"]), "radius");
        let theirs = num(&c["log_e_zero"]);
        assert!(
            (cs.log_e_zero - theirs).abs() <= REL * theirs.abs().max(1e-9),
            "e_zero {} vs {theirs}",
            cs.log_e_zero
        );
    }
}

fn stream(v: &Value, name: &str) -> Vec<f64> {
    v["streams"][name]
        .as_array()
        .unwrap_or_else(|| panic!("no stream {name}"))
        .iter()
        .map(num)
        .collect()
}

#[test]
fn the_betting_capital_matches_confseq() {
    let v = vectors();
    let cases = v["betting_mart"].as_array().unwrap();
    assert!(cases.len() >= 40);
    for c in cases {
        let x = stream(&v, c["name"].as_str().unwrap());
        let (m, alpha) = (num(&c["m"]), num(&c["alpha"]));
        let side = match c["side"].as_str().unwrap() {
            "above" => Side::Above,
            _ => Side::Below,
        };
        for (at, theirs) in c["at"]
            .as_array()
            .unwrap()
            .iter()
            .zip(c["capital"].as_array().unwrap())
        {
            let at = at.as_u64().unwrap() as usize;
            let mut b = Betting::new(alpha);
            for &xi in &x[..at] {
                b.push(xi);
            }
            close(
                b.capital(m, side),
                num(theirs),
                &format!("{} m={m} α={alpha} {side:?} t={at}", c["name"]),
            );
        }
    }
}

#[test]
fn the_agrapa_capital_matches_confseq() {
    let v = vectors();
    let cases = v["betting_agrapa"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for c in cases {
        let x = stream(&v, c["name"].as_str().unwrap());
        let m = num(&c["m"]);
        for (at, theirs) in c["at"]
            .as_array()
            .unwrap()
            .iter()
            .zip(c["capital"].as_array().unwrap())
        {
            let at = at.as_u64().unwrap() as usize;
            let mut b = Betting::new(0.05);
            for &xi in &x[..at] {
                b.push(xi);
            }
            close(
                b.agrapa_capital(m),
                num(theirs),
                &format!("aGRAPA {} m={m} t={at}", c["name"]),
            );
        }
    }
}

#[test]
fn the_betting_confidence_sequence_lies_within_confseqs_grid_step() {
    let v = vectors();
    for c in v["betting_cs"].as_array().unwrap() {
        let x = stream(&v, c["name"].as_str().unwrap());
        let alpha = num(&c["alpha"]);
        let step = 1.0 / num(&c["breaks"]);
        let ats = c["at"].as_array().unwrap();
        for (i, at) in ats.iter().enumerate() {
            let at = at.as_u64().unwrap() as usize;
            let mut b = Betting::new(alpha);
            for &xi in &x[..at] {
                b.push(xi);
            }
            let (lo, hi) = (b.bound(Side::Above, alpha), b.bound(Side::Below, alpha));
            let (l, u) = (num(&c["lower"][i]), num(&c["upper"][i]));
            assert!(
                l <= lo + 1e-9 && lo <= l + 2.0 * step + 1e-9,
                "{} α={alpha} t={at}: lower ours {lo}, confseq {l}",
                c["name"]
            );
            assert!(
                u + 1e-9 >= hi && hi + 2.0 * step + 1e-9 >= u,
                "{} α={alpha} t={at}: upper ours {hi}, confseq {u}",
                c["name"]
            );
        }
    }
}
