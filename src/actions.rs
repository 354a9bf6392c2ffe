//! User actions: the configuration maps an intent (optionally with slot conditions) to an MQTT
//! topic and payload, both minijinja templates.
//!
//! ```toml
//! [[actions]]
//! intent = "HassTurnOn"
//! slots = { area = "kitchen", name = "light" }
//! topic = "home/kitchen/light/set"
//! payload = "ON"
//!
//! [[actions]]
//! intent = "HassLightSet"
//! topic = "home/{{ slots.area }}/{{ slots.name }}/set"
//! payload = '{"brightness": {{ slots.brightness }}}'
//! ```
//!
//! Templates see `intent`, `slots` (name → value), `confidence` and `site_id`. They are compiled
//! at start-up and a syntax error or an unknown variable is refused, naming the action. A slot a
//! template needs but the command lacks makes that action skip, with a warning. Every action
//! whose conditions hold fires, in configuration order; only understood intents fire actions.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

use crate::models::utterance::IntentResult;
use crate::mqtt::Message;

/// One `[[actions]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// Intent name that triggers the action.
    pub intent: String,
    /// Slot values that must all match (absent: any).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slots: BTreeMap<String, String>,
    /// Topic template.
    pub topic: String,
    /// Payload template.
    #[serde(default)]
    pub payload: String,
    /// Retain the message.
    #[serde(default)]
    pub retain: bool,
    /// QoS 0 or 1.
    #[serde(default = "default_qos")]
    pub qos: u8,
}

fn default_qos() -> u8 {
    1
}

/// An action configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("actions[{index}] ({intent}): {message}")]
pub struct ActionError {
    /// Position in the `[[actions]]` list, from 0.
    pub index: usize,
    /// Its intent.
    pub intent: String,
    /// What is wrong.
    pub message: String,
}

const VARIABLES: [&str; 4] = ["intent", "slots", "confidence", "site_id"];

/// Compiled actions.
pub struct Actions {
    env: Environment<'static>,
    actions: Vec<ActionConfig>,
}

impl std::fmt::Debug for Actions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actions")
            .field("actions", &self.actions)
            .finish()
    }
}

impl Actions {
    /// Compiles and checks every template.
    pub fn new(actions: &[ActionConfig]) -> Result<Self, ActionError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (index, a) in actions.iter().enumerate() {
            let err = |message: String| ActionError {
                index,
                intent: a.intent.clone(),
                message,
            };
            if a.intent.trim().is_empty() {
                return Err(err("`intent` is empty".into()));
            }
            if a.qos > 1 {
                return Err(err(format!("`qos` must be 0 or 1, got {}", a.qos)));
            }
            for (which, source) in [("topic", &a.topic), ("payload", &a.payload)] {
                let name = format!("{index}.{which}");
                env.add_template_owned(name.clone(), source.clone())
                    .map_err(|e| err(format!("`{which}` template: {e}")))?;
                let t = env
                    .get_template(&name)
                    .map_err(|e| err(format!("`{which}` template: {e}")))?;
                let mut unknown: Vec<String> = t
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|v| !VARIABLES.contains(&v.as_str()))
                    .collect();
                unknown.sort();
                if !unknown.is_empty() {
                    return Err(err(format!(
                        "`{which}` template uses unknown variable(s) {} (known: {})",
                        unknown.join(", "),
                        VARIABLES.join(", ")
                    )));
                }
            }
            if a.topic.trim().is_empty() {
                return Err(err("`topic` is empty".into()));
            }
        }
        Ok(Self {
            env,
            actions: actions.to_vec(),
        })
    }

    /// How many actions are configured.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// True when none are.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The messages an understood intent triggers. Actions whose templates fail to render (a
    /// slot the command lacks, an invalid topic) are skipped with a warning.
    pub fn messages(&self, result: &IntentResult, site_id: &str) -> Vec<Message> {
        if !result.understood {
            return Vec::new();
        }
        let slots: BTreeMap<&str, &str> = result
            .slots
            .iter()
            .map(|(k, v)| (k.as_str(), v.value.as_str()))
            .collect();
        let ctx = minijinja::context! {
            intent => result.intent,
            slots => slots,
            confidence => result.confidence,
            site_id => site_id,
        };
        let mut out = Vec::new();
        for (index, a) in self.actions.iter().enumerate() {
            if a.intent != result.intent
                || a.slots
                    .iter()
                    .any(|(k, v)| slots.get(k.as_str()) != Some(&v.as_str()))
            {
                continue;
            }
            let render = |which: &str| {
                self.env
                    .get_template(&format!("{index}.{which}"))
                    .and_then(|t| t.render(&ctx))
            };
            match (render("topic"), render("payload")) {
                (Ok(topic), Ok(payload)) => {
                    let topic = topic.trim().to_string();
                    if topic.is_empty() || topic.contains(['+', '#']) {
                        tracing::warn!(action = index, %topic, "action skipped: invalid topic");
                        continue;
                    }
                    out.push(Message {
                        topic,
                        payload,
                        retain: a.retain,
                        qos: a.qos,
                    });
                }
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(action = index, intent = %a.intent, "action skipped: {e}");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::utterance::SlotValue;

    fn action(toml_text: &str) -> Vec<ActionConfig> {
        #[derive(Deserialize)]
        struct F {
            actions: Vec<ActionConfig>,
        }
        toml::from_str::<F>(toml_text).unwrap().actions
    }

    fn result(intent: &str, slots: &[(&str, &str)], understood: bool) -> IntentResult {
        IntentResult {
            intent: intent.into(),
            confidence: 0.9,
            understood,
            slots: slots
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        SlotValue {
                            value: v.to_string(),
                            raw_value: v.to_string(),
                            confidence: 0.8,
                        },
                    )
                })
                .collect(),
        }
    }

    const EXAMPLE: &str = r#"
[[actions]]
intent = "HassTurnOn"
slots = { area = "kitchen", name = "light" }
topic = "home/kitchen/light/set"
payload = "ON"

[[actions]]
intent = "HassLightSet"
topic = "home/{{ slots.area }}/light/set"
payload = '{"brightness": {{ slots.brightness }}, "site": "{{ site_id }}"}'
"#;

    #[test]
    fn conditions_select_actions_and_templates_render() {
        let a = Actions::new(&action(EXAMPLE)).unwrap();
        let m = a.messages(
            &result(
                "HassTurnOn",
                &[("area", "kitchen"), ("name", "light")],
                true,
            ),
            "k",
        );
        assert_eq!(m, vec![Message::event("home/kitchen/light/set", "ON")]);
        assert!(
            a.messages(&result("HassTurnOn", &[("area", "bedroom")], true), "k")
                .is_empty()
        );
        assert!(
            a.messages(
                &result(
                    "HassTurnOn",
                    &[("area", "kitchen"), ("name", "light")],
                    false
                ),
                "k"
            )
            .is_empty()
        );
        let m = a.messages(
            &result(
                "HassLightSet",
                &[("area", "hall"), ("brightness", "50")],
                true,
            ),
            "k",
        );
        assert_eq!(
            m,
            vec![Message::event(
                "home/hall/light/set",
                r#"{"brightness": 50, "site": "k"}"#
            )]
        );
    }

    #[test]
    fn a_missing_slot_skips_the_action() {
        let a = Actions::new(&action(EXAMPLE)).unwrap();
        assert!(
            a.messages(&result("HassLightSet", &[("area", "hall")], true), "k")
                .is_empty()
        );
    }

    #[test]
    fn bad_templates_are_refused_at_start_up() {
        let e = Actions::new(&action(
            "[[actions]]\nintent = \"X\"\ntopic = \"a/{{ slots.area \"\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("actions[0] (X)") && e.contains("topic"), "{e}");
        let e = Actions::new(&action(
            "[[actions]]\nintent = \"X\"\ntopic = \"a\"\npayload = \"{{ slot.area }}\"\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown variable(s) slot"), "{e}");
        let e = Actions::new(&action(
            "[[actions]]\nintent = \"X\"\ntopic = \"a\"\nqos = 2\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("qos"), "{e}");
    }
}
