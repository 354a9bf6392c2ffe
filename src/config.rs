//! Configuration: `hark.toml`, with every default compiled in.
//!
//! Unknown keys are refused with a message that names the key and the file, and values are
//! checked before anything starts. `config/hark.toml` documents every key with its default; a
//! test keeps it equal to [`Config::default`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Errors loading or checking a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read the configuration: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for hark (syntax, unknown key, wrong type).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line, column and key.
        message: String,
    },
    /// A value is out of range.
    #[error("{origin}: `{key}` {message}")]
    Invalid {
        /// The file, or "defaults".
        origin: String,
        /// Dotted key, e.g. `audio.buffer_ms`.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[audio]`: the capture device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AudioConfig {
    /// Device name, index or id, or "default".
    pub device: String,
    /// Ring buffer between callback and processing, in milliseconds.
    pub buffer_ms: u32,
    /// Seconds between attempts to re-open a lost device.
    pub reopen_interval_s: f64,
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self {
            device: "default".into(),
            buffer_ms: 2_000,
            reopen_interval_s: 2.0,
        }
    }
}

/// `[logging]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// Level or tracing filter.
    pub level: String,
    /// Output format.
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// `[capture]`: how a command is captured after the wake word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Audio kept from just before the end of the wake word, seconds.
    pub preroll_s: f64,
    /// Silence that ends a command, seconds.
    pub trailing_silence_s: f64,
    /// Shortest command, seconds.
    pub min_command_s: f64,
    /// Longest command, seconds.
    pub max_command_s: f64,
    /// Give up when nothing is said for this long after the wake word, seconds.
    pub no_speech_timeout_s: f64,
    /// Which detector ends a command: `silero` (the `vad` model) or `energy`.
    pub vad: crate::pipeline::VadChoice,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        let d = crate::pipeline::CaptureSettings::default();
        Self {
            preroll_s: d.preroll_s,
            trailing_silence_s: d.trailing_silence_s,
            min_command_s: d.min_command_s,
            max_command_s: d.max_command_s,
            no_speech_timeout_s: d.no_speech_timeout_s,
            vad: d.vad,
        }
    }
}

/// `[keyword]`: adjustments of the keyword model's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeywordConfig {
    /// Per-label thresholds on the smoothed posterior, replacing the model's.
    pub thresholds: std::collections::BTreeMap<String, f32>,
    /// Pause the keyword model after a second of silence (see `keyword_gate`).
    pub pause_in_silence: bool,
    /// Confirm the wake words the model verifies with the phoneme recogniser (see
    /// `models::verify`); off, they fire at the keyword model's own thresholds.
    pub verify: bool,
}

impl Default for KeywordConfig {
    fn default() -> Self {
        Self {
            thresholds: Default::default(),
            pause_in_silence: true,
            verify: true,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Audio input.
    pub audio: AudioConfig,
    /// Keyword thresholds.
    pub keyword: KeywordConfig,
    /// Command capture.
    pub capture: CaptureConfig,
    /// Logging.
    pub logging: LoggingConfig,
    /// The MQTT broker and delivery (`hark run`).
    pub mqtt: crate::mqtt::MqttConfig,
    /// This hark's site (room).
    pub site: crate::mqtt::SiteConfig,
    /// Home Assistant discovery.
    pub homeassistant: crate::mqtt::HomeAssistantConfig,
    /// Intent → MQTT message mappings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<crate::actions::ActionConfig>,
}

impl Config {
    /// Parses TOML text; `path` names its origin in messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.validate(&path.display().to_string())?;
        Ok(config)
    }

    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// The file hark uses when none is named: the first that exists of `$HARK_CONFIG`,
    /// `./hark.toml`, `$XDG_CONFIG_HOME/hark/hark.toml` (or `~/.config/hark/hark.toml`) and
    /// `/etc/hark/hark.toml`.
    pub fn discover() -> Option<PathBuf> {
        let mut candidates = Vec::new();
        if let Some(p) = std::env::var_os("HARK_CONFIG") {
            candidates.push(PathBuf::from(p));
        }
        candidates.push(PathBuf::from("hark.toml"));
        if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME") {
            candidates.push(PathBuf::from(xdg).join("hark/hark.toml"));
        } else if let Some(home) = std::env::var_os("HOME") {
            candidates.push(PathBuf::from(home).join(".config/hark/hark.toml"));
        }
        candidates.push(PathBuf::from("/etc/hark/hark.toml"));
        candidates.into_iter().find(|p| p.is_file())
    }

    /// Loads `path`, or the discovered file, or the defaults; returns where it came from.
    pub fn resolve(path: Option<&Path>) -> Result<(Self, Option<PathBuf>), ConfigError> {
        match path.map(Path::to_path_buf).or_else(Self::discover) {
            Some(p) => Ok((Self::load(&p)?, Some(p))),
            None => Ok((Self::default(), None)),
        }
    }

    /// Checks value ranges.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |key, message: String| {
            Err(ConfigError::Invalid {
                origin: origin.to_string(),
                key,
                message,
            })
        };
        if !(50..=60_000).contains(&self.audio.buffer_ms) {
            return invalid(
                "audio.buffer_ms",
                format!("must be between 50 and 60000, got {}", self.audio.buffer_ms),
            );
        }
        let interval = self.audio.reopen_interval_s;
        if !(interval.is_finite() && (0.01..=3600.0).contains(&interval)) {
            return invalid(
                "audio.reopen_interval_s",
                format!("must be between 0.01 and 3600 seconds, got {interval}"),
            );
        }
        for (label, t) in &self.keyword.thresholds {
            if !(t.is_finite() && *t > 0.0 && *t <= 1.0) {
                return invalid(
                    "keyword.thresholds",
                    format!("{label:?} must be in (0, 1], got {t}"),
                );
            }
        }
        let c = &self.capture;
        for (key, value, lo, hi) in [
            ("capture.preroll_s", c.preroll_s, 0.0, 1.0),
            ("capture.trailing_silence_s", c.trailing_silence_s, 0.1, 5.0),
            ("capture.min_command_s", c.min_command_s, 0.0, 5.0),
            ("capture.max_command_s", c.max_command_s, 0.5, 60.0),
            (
                "capture.no_speech_timeout_s",
                c.no_speech_timeout_s,
                0.5,
                60.0,
            ),
        ] {
            if !(value.is_finite() && (lo..=hi).contains(&value)) {
                return invalid(
                    key,
                    format!("must be between {lo} and {hi} seconds, got {value}"),
                );
            }
        }
        if c.min_command_s >= c.max_command_s {
            return invalid(
                "capture.min_command_s",
                "must be shorter than capture.max_command_s".into(),
            );
        }
        if self.audio.device.trim().is_empty() {
            return invalid("audio.device", "must not be empty (use \"default\")".into());
        }
        self.validate_daemon(origin)?;
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.logging.level) {
            return invalid(
                "logging.level",
                format!("{:?} is not a level or filter: {e}", self.logging.level),
            );
        }
        Ok(())
    }

    /// Command capture timing for the pipeline.
    pub fn capture_settings(&self) -> crate::pipeline::CaptureSettings {
        let c = &self.capture;
        crate::pipeline::CaptureSettings {
            preroll_s: c.preroll_s,
            trailing_silence_s: c.trailing_silence_s,
            min_command_s: c.min_command_s,
            max_command_s: c.max_command_s,
            no_speech_timeout_s: c.no_speech_timeout_s,
            vad: c.vad,
        }
    }

    /// Capture options for [`crate::audio::MicSource`].
    pub fn mic_options(&self) -> crate::audio::MicOptions {
        crate::audio::MicOptions {
            device: self.audio.device.clone(),
            buffer_ms: self.audio.buffer_ms,
            reopen_interval: std::time::Duration::from_secs_f64(self.audio.reopen_interval_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../config/hark.toml");

    #[test]
    fn shipped_file_documents_exactly_the_defaults() {
        let parsed = Config::from_toml(SHIPPED, Path::new("config/hark.toml")).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(
            Config::from_toml("", Path::new("x")).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn unknown_key_is_named_with_the_file() {
        let err = Config::from_toml("[audio]\ndevise = \"hw:1\"\n", Path::new("/etc/h.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/h.toml"), "{err}");
        assert!(err.contains("devise"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let err = Config::from_toml("[mqqt]\n", Path::new("h.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("mqqt"), "{err}");
    }

    #[test]
    fn wrong_types_and_ranges_are_refused() {
        let err = Config::from_toml("[audio]\nbuffer_ms = \"lots\"\n", Path::new("h.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("buffer_ms"), "{err}");
        let err = Config::from_toml("[audio]\nbuffer_ms = 1\n", Path::new("h.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("audio.buffer_ms") && err.contains("h.toml"),
            "{err}"
        );
        let err = Config::from_toml("[logging]\nformat = \"xml\"\n", Path::new("h.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("xml"), "{err}");
        let err = Config::from_toml("[audio\n", Path::new("h.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("h.toml"), "{err}");
    }
}
