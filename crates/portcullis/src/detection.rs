//! The tunnelling detector in the running server: the model and public suffix list loaded
//! (embedded, or the files `[detect]` names), the detector built, and kept across reloads.
//!
//! A reload keeps the detector, and so what it learned (per-domain windows, baselines,
//! standing verdicts), unless the model, the public suffix list, a table size, a window, the
//! learning period or the allowed zones changed (`Detector::reconfigure` refuses those); the
//! others (mode, block action and duration, per-client, rate limit, allow duration, sinkhole)
//! are applied to the running detector. A
//! model or list file that no longer loads keeps the last good one, with a warning naming
//! `file:line:column`; at start it is an error, as in `portcullis check`.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use detect::{DetectConfig, Detector, Mode, Model, Psl};
use engine::{DetectRecord, Detection};

use crate::config::detect::mode_name;
use crate::config::{Config, DetectSettings};

/// A model or list as loaded: its text (`None`: the embedded one) and what it parsed to.
struct Loaded<T> {
    text: Option<String>,
    value: T,
}

/// The model file `settings` names, or the embedded model. Errors name the file, line and
/// column.
fn load_model(settings: &DetectSettings) -> Result<Loaded<Model>, String> {
    let Some(path) = &settings.model else {
        let model = Model::embedded().map_err(|e| format!("the embedded model: {e}"))?;
        return Ok(Loaded {
            text: None,
            value: model,
        });
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: detect.model: {e}", path.display()))?;
    let model = Model::from_json(&text).map_err(|e| model_error(path, &text, &e))?;
    Ok(Loaded {
        text: Some(text),
        value: model,
    })
}

/// A model file's error as `file:line:column: message`: where the JSON parser stopped, or
/// for a file that parsed but does not fit this build, where its `"version"` (for a version
/// this build does not read) or its `"query"` part starts.
fn model_error(path: &std::path::Path, text: &str, e: &detect::ModelError) -> String {
    let (line, column) = match e {
        detect::ModelError::Json(json) => (json.line(), json.column()),
        detect::ModelError::Version(_) => position(text, "\"version\""),
        _ => position(text, "\"query\""),
    };
    format!("{}:{line}:{column}: {e}", path.display())
}

/// The 1-based line and column of the first `needle` in `text` (1:1 when absent).
fn position(text: &str, needle: &str) -> (usize, usize) {
    let Some(at) = text.find(needle) else {
        return (1, 1);
    };
    let before = text.get(..at).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = at - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    (line, column)
}

/// The public suffix list `settings` names, or the embedded one.
fn load_psl(settings: &DetectSettings) -> Result<Loaded<Arc<Psl>>, String> {
    let Some(path) = &settings.psl else {
        return Ok(Loaded {
            text: None,
            value: Psl::embedded(),
        });
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: detect.psl: {e}", path.display()))?;
    let psl = Psl::parse(&text).map_err(|e| format!("{}:{e}", path.display()))?;
    Ok(Loaded {
        text: Some(text),
        value: Arc::new(psl),
    })
}

/// What `portcullis check` says of detection: the mode, the model and the list, or the errors
/// of the files that do not load.
pub fn check(config: &Config) -> Result<String, Vec<String>> {
    let settings = &config.detect;
    let mode = settings.mode(config.resolver.enabled);
    let (model, psl) = (load_model(settings), load_psl(settings));
    let errors: Vec<String> = [model.as_ref().err(), psl.as_ref().err()]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    match (model, psl) {
        (Ok(model), Ok(psl)) => Ok(format!(
            "detection {}: model {} ({}), public suffix list of {} rules ({})",
            mode_name(mode),
            model.value.summary(),
            settings
                .model
                .as_ref()
                .map_or("embedded".into(), |p| p.display().to_string()),
            psl.value.len(),
            settings
                .psl
                .as_ref()
                .map_or("embedded".into(), |p| p.display().to_string()),
        )),
        _ => Err(errors),
    }
}

/// The running detector and what it was built from.
struct Current {
    detector: Arc<Detector>,
    config: DetectConfig,
    model_text: Option<String>,
    psl_text: Option<String>,
    psl: Arc<Psl>,
}

/// The detector kept across reloads, and the record of what it did (counters, recent alerts)
/// kept for the whole run.
#[derive(Debug)]
pub struct DetectState {
    current: Mutex<Option<CurrentBox>>,
    record: Arc<DetectRecord>,
}

/// [`Current`] behind a box, with a `Debug` that shows what matters.
struct CurrentBox(Box<Current>);

impl std::fmt::Debug for CurrentBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Current")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

impl Default for DetectState {
    fn default() -> DetectState {
        DetectState::new()
    }
}

impl DetectState {
    /// No detector yet.
    pub fn new() -> DetectState {
        DetectState {
            current: Mutex::new(None),
            record: Arc::new(DetectRecord::new()),
        }
    }

    /// The record shared by every engine.
    pub fn record(&self) -> &Arc<DetectRecord> {
        &self.record
    }

    /// The detector running now, if any.
    pub fn detector(&self) -> Option<Arc<Detector>> {
        self.lock().as_ref().map(|c| c.0.detector.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<CurrentBox>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The detection an engine built from `config` uses (`None`: off, or no resolver),
    /// reusing the running detector when it can. `first`: at start, where a file that does not
    /// load is an error; on a reload it keeps the last good one and is a warning (pushed to
    /// `warnings`).
    pub fn configure(
        &self,
        config: &Config,
        first: bool,
        warnings: &mut Vec<String>,
    ) -> Result<Option<Detection>, Vec<String>> {
        let settings = &config.detect;
        let resolver = config.resolver.enabled;
        let wanted = settings.detect_config(resolver);
        let mut current = self.lock();
        self.record.set_mode(wanted.mode);
        if wanted.mode == Mode::Off {
            *current = None;
            return Ok(None);
        }
        let mut errors = Vec::new();
        let mut model = match load_model(settings) {
            Ok(m) => Some(m),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let mut psl = match load_psl(settings) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        if !errors.is_empty() {
            let Some(running) = current.as_ref().filter(|_| !first) else {
                return Err(errors);
            };
            // The last good files stay.
            for e in errors {
                warnings.push(format!("{e} (the last good one stays)"));
            }
            if model.is_none() {
                model = Some(reparse_model(running.0.model_text.as_deref()).map_err(|e| vec![e])?);
            }
            if psl.is_none() {
                psl = Some(Loaded {
                    text: running.0.psl_text.clone(),
                    value: running.0.psl.clone(),
                });
            }
        }
        let (Some(model), Some(psl)) = (model, psl) else {
            return Err(vec!["detection: no model or public suffix list".into()]);
        };
        let keep = current.as_ref().is_some_and(|c| {
            let c = &c.0;
            c.model_text == model.text
                && c.psl_text == psl.text
                && c.config.domains == wanted.domains
                && c.config.clients == wanted.clients
                && c.config.verdicts == wanted.verdicts
                && (c.config == wanted || c.detector.reconfigure(wanted.clone()))
        });
        if keep {
            if let Some(c) = current.as_mut() {
                c.0.config = wanted.clone();
            }
        } else {
            let detector = Arc::new(Detector::new(
                wanted.clone(),
                model.value,
                psl.value.clone(),
                transport::clock::now().as_millis(),
            ));
            *current = Some(CurrentBox(Box::new(Current {
                detector,
                config: wanted.clone(),
                model_text: model.text,
                psl_text: psl.text,
                psl: psl.value,
            })));
        }
        let detector = current
            .as_ref()
            .map(|c| c.0.detector.clone())
            .ok_or_else(|| vec!["detection: no detector".to_owned()])?;
        Ok(Some(Detection {
            detector,
            mode: wanted.mode,
            sinkhole_v4: wanted.sinkhole_v4,
            sinkhole_v6: wanted.sinkhole_v6,
            record: self.record.clone(),
        }))
    }

    /// `ctl allow-domain`: clears the verdicts on `domain` and allows it for
    /// `detect.allow_for`; says what it did, and reports it as an event.
    pub fn allow(&self, domain: &wire::Name, events: &events::Events, now_ms: u64) -> String {
        let Some(detector) = self.detector() else {
            return "detection is off: nothing to allow".into();
        };
        let registered = detector.registered(domain.as_ref());
        // The facade's answer says whether the allow was recorded; what it cleared is read
        // before (wire forms compare case-insensitively: length bytes are no letters).
        let stood = detector.verdicts(now_ms).iter().any(|v| {
            v.domain
                .as_wire()
                .eq_ignore_ascii_case(registered.as_wire())
        });
        let allowed = detector.allow(domain.as_ref(), now_ms);
        self.record.count_allowed();
        let what = match (stood, allowed) {
            (true, true) => "verdict cleared, allowed",
            (false, true) => "no verdict stood; allowed",
            (true, false) => "verdict cleared; not allowed: the allow table is full",
            (false, false) => "no verdict stood; not allowed: the allow table is full",
        };
        events.emit(
            events::Event::new(events::Action::Tunnel, "operator allow")
                .name(registered.to_name())
                .detail(what),
        );
        format!("{registered}: {what}")
    }

    /// `ctl detections`: the standing verdicts and the recent alerts, one a line.
    pub fn list(&self, now_ms: u64) -> String {
        let mode = mode_name(self.record.mode());
        let Some(detector) = self.detector() else {
            return format!("detection {mode}\n");
        };
        let verdicts = detector.verdicts(now_ms);
        let recent = self.record.recent();
        let mut out = format!(
            "detection {mode}: {} verdict(s), {} recent alert(s)\n",
            verdicts.len(),
            recent.len()
        );
        for v in &verdicts {
            let client = v
                .client
                .map_or("all clients".into(), |c: IpAddr| c.to_string());
            out.push_str(&format!(
                "verdict {} {} for {} s, {client}: {}: {}\n",
                v.domain,
                enforce_name(v.enforce),
                v.until_ms.saturating_sub(now_ms) / 1000,
                v.reason,
                v.summary
            ));
        }
        for r in &recent {
            let a = &r.alert;
            let kind = match a.kind {
                detect::AlertKind::Tunnel => "tunnel",
                detect::AlertKind::Anomaly => "anomaly",
            };
            let client = a.client.map_or("-".into(), |c| c.to_string());
            out.push_str(&format!(
                "alert {kind} {} {} s ago, client {client}, {}: {}{}\n",
                a.domain,
                now_ms.saturating_sub(r.at_ms) / 1000,
                a.reason,
                a.explanation,
                a.enforced
                    .map(|e| format!(" (enforced: {})", enforce_name(e)))
                    .unwrap_or_default(),
            ));
        }
        out
    }
}

impl DetectState {
    /// `GET /api/detect`: the mode, the standing verdicts and the recent alerts, as JSON.
    pub fn json(&self, now_ms: u64) -> String {
        let verdicts: Vec<serde_json::Value> = self
            .detector()
            .map(|d| d.verdicts(now_ms))
            .unwrap_or_default()
            .iter()
            .map(|v| {
                serde_json::json!({
                    "domain": v.domain.to_string(),
                    "action": enforce_name(v.enforce),
                    "client": v.client.map(|c| c.to_string()),
                    "remaining_seconds": v.until_ms.saturating_sub(now_ms) / 1000,
                    "reason": v.reason,
                    "summary": &*v.summary,
                })
            })
            .collect();
        let alerts: Vec<serde_json::Value> = self
            .record
            .recent()
            .iter()
            .map(|r| {
                let a = &r.alert;
                serde_json::json!({
                    "kind": match a.kind {
                        detect::AlertKind::Tunnel => "tunnel",
                        detect::AlertKind::Anomaly => "anomaly",
                    },
                    "domain": a.domain.to_string(),
                    "client": a.client.map(|c| c.to_string()),
                    "seconds_ago": now_ms.saturating_sub(r.at_ms) / 1000,
                    "mode": mode_name(r.mode),
                    "reason": a.reason,
                    "explanation": a.explanation,
                    "enforced": a.enforced.map(enforce_name),
                })
            })
            .collect();
        serde_json::json!({
            "mode": mode_name(self.record.mode()),
            "verdicts": verdicts,
            "alerts": alerts,
        })
        .to_string()
    }
}

/// The label of an enforcement.
fn enforce_name(enforce: detect::Enforce) -> &'static str {
    engine::detection::enforce_label(enforce)
}

/// The model of `text` (the embedded one for `None`), which loaded before.
fn reparse_model(text: Option<&str>) -> Result<Loaded<Model>, String> {
    let value = match text {
        Some(t) => Model::from_json(t).map_err(|e| format!("detect.model: {e}"))?,
        None => Model::embedded().map_err(|e| format!("the embedded model: {e}"))?,
    };
    Ok(Loaded {
        text: text.map(str::to_owned),
        value,
    })
}
