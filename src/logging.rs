//! Logging setup: tracing to stderr, as text or JSON lines.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `verbosity` (the count of `-v`) raises the configured level:
/// 1 = debug, 2 or more = trace. `RUST_LOG`, when set, wins over both.
pub fn init(level: &str, verbosity: u8, format: LogFormat) {
    let level = match verbosity {
        0 => level.to_string(),
        1 => "debug".to_string(),
        _ => "trace".to_string(),
    };
    // The audio decoder logs its own view of failures that hark reports as one clear error,
    // and the embedded broker logs every connection (and an error on each normal disconnect);
    // keep them quiet unless tracing was asked for.
    let level = if verbosity >= 2 {
        level
    } else {
        format!("{level},symphonia=off,rumqttd=off")
    };
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (e.g. in tests) is harmless, so its error is ignored.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
