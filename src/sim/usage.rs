//! The simulator's organisation usage and cost reports, in the shapes of OpenAI's
//! (`/v1/organization/usage/completions`, `/v1/organization/costs`) and Anthropic's Admin
//! API (`/v1/organizations/usage_report/messages`, `/v1/organizations/cost_report`), with
//! their pagination (`limit`, `page` = the previous `next_page`), so `probity usage import`
//! is tested and demonstrated without a network.
//!
//! The fake organisation's usage is derived from the profile's seed: every model of the
//! provider gets, for every hour before now, a number of requests and tokens from a hash
//! of (seed, provider, model, hour) — the same window always gives the same buckets, and a
//! daily bucket is exactly the sum of its hours. On top of that comes what the simulator
//! itself served (the `Ledger` below, filled by the chat handlers), so probity's own
//! probes show up in the provider's books as they would at the real provider.
//!
//! Admin keys: with `admin_key` in the profile only that key is accepted; otherwise any
//! key of the provider's admin form (`sk-admin-…` for OpenAI, `sk-ant-admin…` for
//! Anthropic). Anything else is refused with 401 in the provider's error shape.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::server::{Decision, SimState, json_bytes, with_id};
use super::{anthropic, openai};
use crate::sim::server::ChatCall;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// Which report API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Api {
    OpenAi,
    Anthropic,
}

/// Tokens the simulator itself served, per (API, hour start, model).
#[derive(Default)]
pub(crate) struct Ledger {
    served: Mutex<BTreeMap<(Api, i64, String), Served>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Served {
    requests: u64,
    input: u64,
    output: u64,
}

impl Ledger {
    fn record(&self, api: Api, model: &str, input: u64, output: u64) {
        let hour = Utc::now().timestamp().div_euclid(HOUR) * HOUR;
        if let Ok(mut map) = self.served.lock() {
            let s = map.entry((api, hour, model.to_string())).or_default();
            s.requests += 1;
            s.input += input;
            s.output += output;
        }
    }

    /// What was served in `[start, end)`, per model.
    fn between(&self, api: Api, start: i64, end: i64) -> BTreeMap<String, Served> {
        let mut out: BTreeMap<String, Served> = BTreeMap::new();
        if let Ok(map) = self.served.lock() {
            for ((a, hour, model), s) in map.iter() {
                if *a == api && *hour >= start && *hour < end {
                    let t = out.entry(model.clone()).or_default();
                    t.requests += s.requests;
                    t.input += s.input;
                    t.output += s.output;
                }
            }
        }
        out
    }
}

impl SimState {
    /// `decide`, and an answer is recorded in the usage ledger of `api` under `model`.
    pub(crate) fn decide_served(&self, call: &ChatCall<'_>, api: Api, model: &str) -> Decision {
        let decision = self.decide(call);
        if let Decision::Answer(reply) = &decision {
            self.ledger
                .record(api, model, reply.input_tokens, reply.output_tokens);
        }
        decision
    }
}

/// The fake organisation's models and their prices (USD per million input, output tokens).
fn models(api: Api) -> &'static [(&'static str, f64, f64)] {
    match api {
        Api::OpenAi => &[
            ("gpt-4o-2024-08-06", 2.50, 10.00),
            ("gpt-4o-mini-2024-07-18", 0.15, 0.60),
        ],
        Api::Anthropic => &[
            ("claude-3-5-haiku-20241022", 0.80, 4.00),
            ("claude-sonnet-4-20250514", 3.00, 15.00),
        ],
    }
}

/// Prices of a model the simulator served but the fake organisation does not list.
fn price(api: Api, model: &str) -> (f64, f64) {
    models(api).iter().find(|(m, ..)| *m == model).map_or(
        match api {
            Api::OpenAi => (0.15, 0.60),
            Api::Anthropic => (0.80, 4.00),
        },
        |(_, i, o)| (*i, *o),
    )
}

fn mix(mut x: u64) -> u64 {
    // splitmix64's finaliser: a well-spread hash of the inputs.
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn name_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// One bucket's figures of one model.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Figures {
    requests: u64,
    input: u64,
    cached: u64,
    output: u64,
}

impl Figures {
    fn add(&mut self, o: Figures) {
        self.requests += o.requests;
        self.input += o.input;
        self.cached += o.cached;
        self.output += o.output;
    }
}

/// The fake organisation's use of `model` in the hour starting at `hour`.
fn hour_figures(seed: u64, api: Api, model: &str, hour: i64) -> Figures {
    let h = mix(seed ^ mix(name_hash(model) ^ mix(hour as u64 ^ ((api as u64) << 60))));
    let requests = 5 + h % 40;
    let input = requests * (200 + (h >> 8) % 600);
    Figures {
        requests,
        input,
        cached: input * ((h >> 20) % 40) / 100,
        output: requests * (50 + (h >> 28) % 300),
    }
}

/// Every model's figures over `[start, end)` (hours before `now` only), served ones added.
fn bucket(state: &SimState, api: Api, start: i64, end: i64, now: i64) -> BTreeMap<String, Figures> {
    let mut out: BTreeMap<String, Figures> = BTreeMap::new();
    for (model, ..) in models(api) {
        let mut f = Figures::default();
        let mut hour = start;
        while hour < end && hour < now {
            f.add(hour_figures(state.profile.seed, api, model, hour));
            hour += HOUR;
        }
        out.insert((*model).to_string(), f);
    }
    for (model, s) in state.ledger.between(api, start, end) {
        out.entry(model).or_default().add(Figures {
            requests: s.requests,
            input: s.input,
            cached: 0,
            output: s.output,
        });
    }
    out
}

/// The query of a report request, whatever its API.
struct Params {
    start: i64,
    end: i64,
    width: i64,
    limit: i64,
    grouped: bool,
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn rfc3339(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Reads the window, width, limit and cursor; `Err` is the message of a 400.
fn params(
    q: &[(String, String)],
    api: Api,
    cost: bool,
    group_key: &str,
    group_value: &str,
    now: i64,
) -> Result<Params, String> {
    let time = |key: &str| -> Result<Option<i64>, String> {
        let Some(v) = param(q, key) else {
            return Ok(None);
        };
        match api {
            Api::OpenAi => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("`{key}` must be unix seconds")),
            Api::Anthropic => DateTime::parse_from_rfc3339(v)
                .map(|t| Some(t.timestamp()))
                .map_err(|_| format!("`{key}` must be an RFC 3339 timestamp")),
        }
    };
    let (start_key, end_key) = match api {
        Api::OpenAi => ("start_time", "end_time"),
        Api::Anthropic => ("starting_at", "ending_at"),
    };
    let start = time(start_key)?.ok_or_else(|| format!("`{start_key}` is required"))?;
    let end = time(end_key)?.unwrap_or(now);
    let width = match param(q, "bucket_width").unwrap_or("1d") {
        "1d" => DAY,
        "1h" if !cost => HOUR,
        other => return Err(format!("bucket_width `{other}` is not supported here")),
    };
    let (default, max) = if width == DAY { (7, 31) } else { (24, 168) };
    let limit = match param(q, "limit") {
        None => default,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => return Err(format!("`limit` must be between 1 and {max}")),
        },
    };
    // The cursor is where the next page's first bucket starts.
    let first = match param(q, "page") {
        None => start.div_euclid(width) * width,
        Some(p) => p
            .strip_prefix("page_")
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or_else(|| "`page` is not a cursor this API gave".to_string())?,
    };
    let grouped = q.iter().any(|(k, v)| k == group_key && v == group_value);
    Ok(Params {
        start: first,
        end,
        width,
        limit,
        grouped,
    })
}

/// The bucket starts of one page, and the next page's cursor.
fn page_starts(p: &Params, now: i64) -> (Vec<i64>, Option<String>) {
    let mut starts = Vec::new();
    let mut t = p.start;
    while t < p.end && t <= now && (starts.len() as i64) < p.limit {
        starts.push(t);
        t += p.width;
    }
    let more = t < p.end && t <= now;
    (starts, more.then(|| format!("page_{t}")))
}

/// Whether the request carries an admin key the simulator accepts.
fn admitted(state: &SimState, headers: &HeaderMap, api: Api) -> bool {
    let key = match api {
        Api::OpenAi => headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ")),
        Api::Anthropic => headers.get("x-api-key").and_then(|v| v.to_str().ok()),
    };
    let Some(key) = key else { return false };
    match &state.profile.admin_key {
        Some(expected) => key == expected,
        None => match api {
            Api::OpenAi => key.starts_with("sk-admin-"),
            Api::Anthropic => key.starts_with("sk-ant-admin"),
        },
    }
}

fn refused(api: Api) -> Response {
    match api {
        Api::OpenAi => {
            let body = json!({"error": {
                "message": "Incorrect API key provided. Usage and cost reports need an admin key (simulated).",
                "type": "invalid_request_error", "param": null, "code": "invalid_api_key"
            }});
            json_bytes(StatusCode::UNAUTHORIZED, body.to_string().into_bytes())
        }
        Api::Anthropic => anthropic::error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid x-api-key",
        ),
    }
}

fn bad(api: Api, message: &str) -> Response {
    match api {
        Api::OpenAi => openai::error(StatusCode::BAD_REQUEST, "invalid_request_error", message),
        Api::Anthropic => {
            anthropic::error(StatusCode::BAD_REQUEST, "invalid_request_error", message)
        }
    }
}

fn usd_of(api: Api, model: &str, f: &Figures) -> (f64, f64) {
    let (pi, po) = price(api, model);
    (f.input as f64 * pi / 1e6, f.output as f64 * po / 1e6)
}

/// The body of one page of `report`.
fn page_body(state: &SimState, api: Api, cost: bool, p: &Params, now: i64) -> Value {
    let (starts, next) = page_starts(p, now);
    let data: Vec<Value> = starts
        .iter()
        .map(|&s| {
            let e = s + p.width;
            let figures = bucket(state, api, s, e, now);
            let results = if cost {
                cost_results(api, &figures, p.grouped)
            } else {
                usage_results(api, &figures, p.grouped)
            };
            match api {
                Api::OpenAi => {
                    json!({"object": "bucket", "start_time": s, "end_time": e, "results": results})
                }
                Api::Anthropic => {
                    json!({"starting_at": rfc3339(s), "ending_at": rfc3339(e), "results": results})
                }
            }
        })
        .collect();
    let has_more = next.is_some();
    match api {
        Api::OpenAi => {
            json!({"object": "page", "data": data, "has_more": has_more, "next_page": next})
        }
        Api::Anthropic => json!({"data": data, "has_more": has_more, "next_page": next}),
    }
}

fn usage_results(api: Api, figures: &BTreeMap<String, Figures>, grouped: bool) -> Vec<Value> {
    let groups: Vec<(Option<&str>, Figures)> = if grouped {
        figures
            .iter()
            .map(|(m, f)| (Some(m.as_str()), *f))
            .collect()
    } else {
        let mut total = Figures::default();
        figures.values().for_each(|f| total.add(*f));
        vec![(None, total)]
    };
    groups
        .into_iter()
        .filter(|(_, f)| f.requests > 0)
        .map(|(model, f)| match api {
            Api::OpenAi => json!({
                "object": "organization.usage.completions.result",
                "input_tokens": f.input, "output_tokens": f.output,
                "input_cached_tokens": f.cached, "input_audio_tokens": 0,
                "output_audio_tokens": 0, "num_model_requests": f.requests,
                "project_id": null, "user_id": null, "api_key_id": null,
                "model": model, "batch": null
            }),
            Api::Anthropic => {
                // Of the cached share, half is read from the cache and half written to it.
                let read = f.cached / 2;
                let written = f.cached - read;
                json!({
                    "uncached_input_tokens": f.input - f.cached,
                    "cache_creation": {
                        "ephemeral_1h_input_tokens": 0,
                        "ephemeral_5m_input_tokens": written
                    },
                    "cache_read_input_tokens": read,
                    "output_tokens": f.output,
                    "server_tool_use": { "web_search_requests": 0 },
                    "api_key_id": null, "workspace_id": null,
                    "model": model, "service_tier": null, "context_window": null
                })
            }
        })
        .collect()
}

fn cost_results(api: Api, figures: &BTreeMap<String, Figures>, grouped: bool) -> Vec<Value> {
    let mut items: Vec<(String, Option<&str>, &str, f64)> = Vec::new();
    for (model, f) in figures.iter().filter(|(_, f)| f.requests > 0) {
        let (input, output) = usd_of(api, model, f);
        items.push((format!("{model}, input"), Some(model), "input", input));
        items.push((format!("{model}, output"), Some(model), "output", output));
    }
    if !grouped {
        let total: f64 = items.iter().map(|i| i.3).sum();
        items = vec![(String::new(), None, "", total)];
    }
    items
        .into_iter()
        .map(|(item, model, kind, usd)| match api {
            Api::OpenAi => json!({
                "object": "organization.costs.result",
                "amount": { "value": usd, "currency": "usd" },
                "line_item": if grouped { Some(item) } else { None },
                "project_id": null
            }),
            Api::Anthropic => json!({
                "currency": "USD",
                // Cents, as a decimal string.
                "amount": format!("{:.6}", usd * 100.0),
                "workspace_id": null,
                "description": grouped.then(|| format!("{} Usage - {} Tokens", model.unwrap_or_default(), if kind == "input" { "Input" } else { "Output" })),
                "cost_type": grouped.then_some("tokens"),
                "context_window": null,
                "model": model,
                "service_tier": null,
                "token_type": grouped.then(|| if kind == "input" { "uncached_input_tokens" } else { "output_tokens" })
            }),
        })
        .collect()
}

async fn report(
    state: Arc<SimState>,
    headers: HeaderMap,
    query: Vec<(String, String)>,
    api: Api,
    cost: bool,
) -> Response {
    let id = state.next_id();
    if !admitted(&state, &headers, api) {
        return with_id(refused(api), id);
    }
    if api == Api::Anthropic && !headers.contains_key("anthropic-version") {
        return with_id(bad(api, "anthropic-version: header is required"), id);
    }
    let (group_key, group_value) = match (api, cost) {
        (Api::OpenAi, false) => ("group_by", "model"),
        (Api::OpenAi, true) => ("group_by", "line_item"),
        (Api::Anthropic, false) => ("group_by[]", "model"),
        (Api::Anthropic, true) => ("group_by[]", "description"),
    };
    let now = Utc::now().timestamp();
    let resp = match params(&query, api, cost, group_key, group_value, now) {
        Err(message) => bad(api, &message),
        Ok(p) => {
            let body = page_body(&state, api, cost, &p, now);
            json_bytes(StatusCode::OK, body.to_string().into_bytes())
        }
    };
    with_id(resp, id)
}

/// `GET /v1/organization/usage/completions`.
pub(crate) async fn openai_usage(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    report(state, headers, q, Api::OpenAi, false).await
}

/// `GET /v1/organization/costs`.
pub(crate) async fn openai_costs(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    report(state, headers, q, Api::OpenAi, true).await
}

/// `GET /v1/organizations/usage_report/messages`.
pub(crate) async fn anthropic_usage(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    report(state, headers, q, Api::Anthropic, false).await
}

/// `GET /v1/organizations/cost_report`.
pub(crate) async fn anthropic_costs(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    report(state, headers, q, Api::Anthropic, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_the_sum_of_its_hours_and_the_seed_decides() {
        let day = 20_000 * DAY;
        let mut sum = Figures::default();
        for h in 0..24 {
            sum.add(hour_figures(
                7,
                Api::OpenAi,
                "gpt-4o-2024-08-06",
                day + h * HOUR,
            ));
        }
        assert!(sum.requests >= 24 * 5);
        assert_eq!(
            hour_figures(7, Api::OpenAi, "m", day),
            hour_figures(7, Api::OpenAi, "m", day)
        );
        assert_ne!(
            hour_figures(7, Api::OpenAi, "m", day),
            hour_figures(8, Api::OpenAi, "m", day)
        );
    }

    #[test]
    fn pages_end_at_now_and_carry_a_cursor() {
        let now = 100 * DAY + 5 * HOUR;
        let p = Params {
            start: 90 * DAY,
            end: now,
            width: DAY,
            limit: 4,
            grouped: true,
        };
        let (starts, next) = page_starts(&p, now);
        assert_eq!(starts, vec![90 * DAY, 91 * DAY, 92 * DAY, 93 * DAY]);
        assert_eq!(next, Some(format!("page_{}", 94 * DAY)));
        let p = Params {
            start: 98 * DAY,
            ..p
        };
        let (starts, next) = page_starts(&p, now);
        assert_eq!(starts, vec![98 * DAY, 99 * DAY, 100 * DAY]);
        assert_eq!(next, None);
    }
}
