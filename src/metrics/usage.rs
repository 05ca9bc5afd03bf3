//! The provider's books on `/metrics` (issue 13): what `probity usage import` stored, so a
//! dashboard sets the organisation's bill beside the probes' own `probity_cost_usd_total`.
//!
//! - `probity_provider_tokens_total{provider,model,kind}` (counter; kind `input`, `output`,
//!   `cached`): tokens the provider reports over every stored bucket. It grows as imports
//!   add buckets; a provider revising a bucket down is not subtracted (a counter never
//!   goes down), so `increase()` over it is the new usage.
//! - `probity_provider_cost_usd{provider}` (gauge): the cost the provider reports over
//!   every stored bucket, in US dollars (both providers report costs per day).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::registry::Registry;

use super::Metrics;
use super::labels::label_value;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderTokenLabels {
    pub provider: String,
    pub model: String,
    pub kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

pub(super) fn register(r: &mut Registry, m: &Metrics) {
    r.register(
        "provider_tokens",
        "Tokens the provider's own usage report counts (probity usage import), by provider, model and kind (input, output, cached)",
        m.provider_tokens.clone(),
    );
    r.register(
        "provider_cost_usd",
        "Cost in US dollars the provider's own cost report states over the imported buckets",
        m.provider_cost.clone(),
    );
}

impl Metrics {
    /// Sets the provider families from the stored buckets.
    pub(crate) fn refresh_usage(&self, store: &Store) -> Result<(), StoreError> {
        let totals = store.usage_totals()?;
        let mut cost: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
        for t in &totals {
            *cost.entry(&t.provider).or_default() += t.cost_usd;
            // Cost-only rows (no tokens) make no token series.
            if t.input_tokens == 0 && t.output_tokens == 0 && t.cached_tokens == 0 {
                continue;
            }
            let model = t.model.as_deref().unwrap_or("unknown");
            for (kind, n) in [
                ("input", t.input_tokens),
                ("output", t.output_tokens),
                ("cached", t.cached_tokens),
            ] {
                let counter = self.provider_tokens.get_or_create(&ProviderTokenLabels {
                    provider: label_value(&t.provider),
                    model: label_value(model),
                    kind: kind.into(),
                });
                let n = u64::try_from(n).unwrap_or(0);
                let now = counter.get();
                if n > now {
                    counter.inc_by(n - now);
                }
            }
        }
        for (provider, usd) in cost {
            self.provider_cost
                .get_or_create(&ProviderLabels {
                    provider: label_value(provider),
                })
                .set(usd);
        }
        Ok(())
    }
}
