//! Events and errors as users see them: one JSON object per event (the `hark listen --json`
//! format of DESIGN.md) or one human-readable line, and an error with its causes on one line.

use serde_json::{Value, json};

use crate::pipeline::Event;

fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

/// The JSON object for `event` heard in `file`.
pub fn event_json(file: &str, event: &Event) -> Value {
    match event {
        Event::Wake(d) | Event::Keyword(d) => {
            let mut v = json!({
                "file": file,
                "type": if matches!(event, Event::Wake(_)) { "wake" } else { "keyword" },
                "keyword": d.keyword,
                "score": round(f64::from(d.score), 4),
                "start": round(d.start, 3),
                "end": round(d.end, 3),
            });
            if let Some(x) = d.verification {
                v["verification"] = json!(round(x, 4));
            }
            v
        }
        Event::Intent { result, start, end } => {
            let slots: serde_json::Map<String, Value> = result
                .slots
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.value.clone())))
                .collect();
            json!({
                "file": file,
                "type": "intent",
                "intent": result.intent,
                "slots": slots,
                "confidence": round(f64::from(result.confidence), 4),
                "understood": result.understood,
                "start": round(*start, 3),
                "end": round(*end, 3),
            })
        }
        Event::Sentiment { result, start, end } => {
            let scores: serde_json::Map<String, Value> = result
                .scores
                .iter()
                .map(|(k, v)| (k.clone(), json!(round(f64::from(*v), 4))))
                .collect();
            json!({
                "file": file,
                "type": "sentiment",
                "label": result.label,
                "scores": scores,
                "start": round(*start, 3),
                "end": round(*end, 3),
            })
        }
        Event::Timeout { start, end } => json!({
            "file": file,
            "type": "timeout",
            "start": round(*start, 3),
            "end": round(*end, 3),
        }),
    }
}

/// The JSON object for a sentence understood by the text models (`hark text --json`).
pub fn text_json(
    text: &str,
    intent: Option<&crate::models::utterance::IntentResult>,
    sentiment: Option<&crate::models::utterance::SentimentResult>,
) -> Value {
    let mut doc = serde_json::Map::new();
    doc.insert("text".into(), Value::String(text.to_string()));
    if let Some(result) = intent {
        let slots: serde_json::Map<String, Value> = result
            .slots
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.value.clone())))
            .collect();
        doc.insert(
            "intent".into(),
            json!({
                "intent": result.intent,
                "slots": slots,
                "confidence": round(f64::from(result.confidence), 4),
                "understood": result.understood,
            }),
        );
    }
    if let Some(result) = sentiment {
        let scores: serde_json::Map<String, Value> = result
            .scores
            .iter()
            .map(|(k, v)| (k.clone(), json!(round(f64::from(*v), 4))))
            .collect();
        doc.insert(
            "sentiment".into(),
            json!({"label": result.label, "scores": scores}),
        );
    }
    Value::Object(doc)
}

/// One line for people.
pub fn event_line(file: &str, event: &Event) -> String {
    let span = |s: f64, e: f64| format!("{s:7.2}–{e:<7.2}");
    match event {
        Event::Wake(d) => format!(
            "{file}  {}  wake word {:?} ({:.2}{})",
            span(d.start, d.end),
            d.keyword,
            d.score,
            d.verification
                .map(|x| format!(", verified {x:.2}"))
                .unwrap_or_default()
        ),
        Event::Keyword(d) => format!(
            "{file}  {}  keyword {:?} ({:.2})",
            span(d.start, d.end),
            d.keyword,
            d.score
        ),
        Event::Intent { result, start, end } => {
            let slots: Vec<String> = result
                .slots
                .iter()
                .map(|(k, v)| format!("{k}={}", v.value))
                .collect();
            format!(
                "{file}  {}  intent {} {} ({:.2}){}",
                span(*start, *end),
                result.intent,
                slots.join(" "),
                result.confidence,
                if result.understood {
                    ""
                } else {
                    " — not understood"
                }
            )
        }
        Event::Sentiment { result, start, end } => format!(
            "{file}  {}  sentiment {} ({:.2})",
            span(*start, *end),
            result.label,
            result.scores.get(&result.label).copied().unwrap_or(0.0)
        ),
        Event::Timeout { start, end } => {
            format!(
                "{file}  {}  wake word heard, but no command followed",
                span(*start, *end)
            )
        }
    }
}

/// An error and its causes on one line, `outer: inner: …`, leaving out a cause whose text the
/// message before it already ends with (library errors often name their source in their own
/// message).
pub fn error_report(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}
