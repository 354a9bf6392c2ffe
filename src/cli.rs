//! The command line: argument parsing and the sub-commands of this release.
//!
//! The binary's `main` only calls [`main`]. Library errors are turned into one clear message
//! (with its causes) on stderr and a non-zero exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::audio::{
    AudioSource, FileSource, MicSource, RawFormat, RawSource, ToRate, list_input_devices,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::{Config, LogFormat};
use crate::features::{FeatureKind, FeatureMatrix, FrontEnd, FrontEndParams, WindowKind, npy};
use crate::listen::{self as hark_listen, ListenOptions, listen_file};
use crate::models::set::{ModelSet, TextModels, default_model_dirs};
use crate::pipeline::Mode;
use crate::report;

/// hark: an offline voice assistant.
#[derive(Debug, Parser)]
#[command(name = "hark", version, about, propagate_version = true)]
pub struct Cli {
    /// More logging: -v for debug, -vv for trace.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log format on stderr (overrides the configuration).
    #[arg(long, value_enum, global = true)]
    pub log_format: Option<LogFormatArg>,
    /// Configuration file (default: $HARK_CONFIG, ./hark.toml, ~/.config/hark/hark.toml,
    /// /etc/hark/hark.toml, else the compiled-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute the front-end's frames (MFCC or log-mel) of an audio file, stdin or a device.
    Features(Box<FeaturesArgs>),
    /// Run the pipeline (wake word, command, sentiment) over audio files; one event per line.
    Listen(ListenArgs),
    /// The daemon: microphone (or --input) in, events out over MQTT.
    Run(crate::daemon::RunArgs),
    /// Intent, slots and sentiment of a sentence (one per line from stdin when none is given).
    Text {
        /// The sentence.
        sentence: Option<String>,
        /// One JSON object per sentence.
        #[arg(long)]
        json: bool,
        /// Models in this directory replace the default ones of the same kind.
        #[arg(long, value_name = "DIR")]
        model_dir: Option<PathBuf>,
    },
    /// Measure the cost of every stage (real-time factor, one thread) and peak memory.
    Bench {
        /// Seconds of synthetic audio to process.
        #[arg(long, default_value_t = 600.0)]
        seconds: f64,
        /// Models in this directory replace the default ones of the same kind.
        #[arg(long, value_name = "DIR")]
        model_dir: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List audio capture devices.
    Devices {
        /// One JSON object per device.
        #[arg(long)]
        json: bool,
    },
    /// Check a configuration file and print the configuration in force.
    CheckConfig {
        /// The file to check (default: the one hark would use).
        file: Option<PathBuf>,
    },
}

/// Arguments of `hark listen`.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Audio files (WAV, FLAC, Ogg Vorbis, MP3).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// One JSON object per event.
    #[arg(long)]
    pub json: bool,
    /// full: wake word then command; keyword: keywords only; command: each file is one command.
    #[arg(long, value_enum, default_value_t = ModeArg::Full)]
    pub mode: ModeArg,
    /// Models in this directory replace the default ones of the same kind.
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// Overrides every keyword threshold (0–1).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Files processed in parallel (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}

/// `--mode` values.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ModeArg {
    /// Wake word, then the command.
    Full,
    /// Keywords only.
    Keyword,
    /// Each file is one command.
    Command,
}

/// Arguments of `hark features`.
#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Audio file (WAV, FLAC, Ogg Vorbis, MP3), or `-` for raw PCM on stdin (with --raw).
    #[arg(required_unless_present = "device")]
    pub input: Option<PathBuf>,
    /// Raw PCM layout for stdin: ENCODING:RATE[:CHANNELS], e.g. s16le:16000.
    #[arg(long, value_name = "SPEC")]
    pub raw: Option<String>,
    /// Capture from this device instead of a file ("default", an index, id or name).
    #[arg(long, conflicts_with = "input")]
    pub device: Option<String>,
    /// With --device: seconds of audio to capture.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Write the frames to a .npy file (float32, rows = frames).
    #[arg(long, value_name = "FILE", conflicts_with = "json")]
    pub out: Option<PathBuf>,
    /// Print one JSON document with the parameters and the frames.
    #[arg(long)]
    pub json: bool,
    /// Log-mel energies instead of MFCC.
    #[arg(long)]
    pub mel: bool,
    /// Front-end parameters as JSON (the `frontend` object of model metadata); flags override.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    #[command(flatten)]
    pub frontend: FrontEndFlags,
}

/// Front-end parameters settable from the command line (see docs/frontend.md).
#[derive(Debug, Args, Default)]
pub struct FrontEndFlags {
    /// Front-end sample rate in Hz.
    #[arg(long)]
    pub sample_rate: Option<u32>,
    /// Window length in samples.
    #[arg(long)]
    pub win_length: Option<usize>,
    /// Hop length in samples.
    #[arg(long)]
    pub hop_length: Option<usize>,
    /// FFT size.
    #[arg(long)]
    pub n_fft: Option<usize>,
    /// Window function: hann, hamming or rectangular.
    #[arg(long)]
    pub window: Option<String>,
    /// Pre-emphasis coefficient (0 disables).
    #[arg(long)]
    pub preemphasis: Option<f64>,
    /// Mel bands.
    #[arg(long)]
    pub n_mels: Option<usize>,
    /// Lowest band edge in Hz.
    #[arg(long)]
    pub fmin: Option<f64>,
    /// Highest band edge in Hz.
    #[arg(long)]
    pub fmax: Option<f64>,
    /// Floor applied to mel energies before the log.
    #[arg(long)]
    pub log_floor: Option<f64>,
    /// Cepstra kept.
    #[arg(long)]
    pub n_mfcc: Option<usize>,
}

impl FrontEndFlags {
    fn apply(&self, p: &mut FrontEndParams) -> Result<()> {
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field.clone() { p.$field = v; } )* };
        }
        set!(
            sample_rate,
            win_length,
            hop_length,
            n_fft,
            preemphasis,
            n_mels,
            fmin,
            fmax,
            log_floor,
            n_mfcc
        );
        if let Some(w) = &self.window {
            p.window = w.parse::<WindowKind>()?;
        }
        Ok(())
    }
}

/// Parses the process arguments, runs the command, reports any error; the binary's entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", crate::report::error_report(&e));
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let loaded = match &cli.command {
        Command::CheckConfig { .. } => None,
        _ => Some(Config::resolve(cli.config.as_deref())?),
    };
    let (config, _) = loaded.clone().unwrap_or_default();
    let format = match cli.log_format {
        Some(LogFormatArg::Json) => LogFormat::Json,
        Some(LogFormatArg::Text) => LogFormat::Text,
        None => config.logging.format,
    };
    crate::logging::init(&config.logging.level, cli.verbose, format);
    if let Some((_, Some(path))) = &loaded {
        tracing::debug!(config = %path.display(), "configuration loaded");
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Features(args) => features(&args, &config, &mut out),
        Command::Run(args) => {
            drop(out);
            let mut options = args.options();
            options.config_path = loaded.and_then(|(_, path)| path);
            // The text-intent model answers Hermes NLU queries when it is installed.
            let text = TextModels::load(args.model_dir.as_deref(), &default_model_dirs())?;
            if let Some(model) = text.intent {
                options.text = Some(Arc::new(model));
            }
            crate::daemon::run(&config, options)
        }
        Command::Listen(args) => {
            drop(out);
            listen(&args, &config)
        }
        Command::Text {
            sentence,
            json,
            model_dir,
        } => text(sentence.as_deref(), json, model_dir.as_deref(), &mut out),
        Command::Bench {
            seconds,
            model_dir,
            json,
        } => bench(seconds, model_dir.as_deref(), json, &mut out),
        Command::Devices { json } => devices(json, &mut out),
        Command::CheckConfig { file } => {
            check_config(file.as_deref().or(cli.config.as_deref()), &mut out)
        }
    }
}

fn frontend_params(args: &FeaturesArgs) -> Result<FrontEndParams> {
    let mut params = match &args.params {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read front-end parameters {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{}: invalid front-end parameters", path.display()))?
        }
        None => FrontEndParams::default(),
    };
    args.frontend.apply(&mut params)?;
    params.validate()?;
    Ok(params)
}

fn open_source(args: &FeaturesArgs, config: &Config) -> Result<(Box<dyn AudioSource>, u64)> {
    if let Some(device) = &args.device {
        if !(args.duration.is_finite() && args.duration > 0.0) {
            bail!("--duration must be a positive number of seconds");
        }
        let mut options = config.mic_options();
        options.device = device.clone();
        let mic = MicSource::open(options)?;
        let limit = (args.duration * f64::from(mic.sample_rate())).round() as u64;
        return Ok((Box::new(mic), limit));
    }
    let Some(input) = &args.input else {
        bail!("give an audio file, `-` with --raw, or --device");
    };
    if input.as_os_str() == "-" {
        let Some(spec) = &args.raw else {
            bail!("reading stdin needs its layout, e.g. --raw s16le:16000");
        };
        let format: RawFormat = spec.parse()?;
        let source = RawSource::new(std::io::stdin().lock(), "stdin", format);
        return Ok((Box::new(source), u64::MAX));
    }
    if args.raw.is_some() {
        bail!("--raw describes stdin; give `-` as the input to use it");
    }
    Ok((Box::new(FileSource::open(input)?), u64::MAX))
}

/// Streams a source through resampling and the front-end.
fn compute_features(
    source: &mut dyn AudioSource,
    limit: u64,
    frontend: &mut FrontEnd,
) -> Result<FeatureMatrix> {
    let cols = frontend.dim();
    let origin = source.origin().to_string();
    let mut to_rate = ToRate::new(frontend.params().sample_rate, &origin);
    let mut data = Vec::new();
    let mut taken = 0u64;
    while taken < limit {
        let Some(chunk) = source.next_chunk()? else {
            break;
        };
        let keep = chunk.samples.len().min((limit - taken) as usize);
        taken += keep as u64;
        let samples = to_rate.push(&chunk.samples[..keep], chunk.sample_rate)?;
        frontend
            .process(samples, |f| data.extend_from_slice(f))
            .with_context(|| origin.clone())?;
    }
    let tail = to_rate.finish()?;
    frontend.process(tail, |f| data.extend_from_slice(f))?;
    if taken == 0 {
        bail!("{origin}: contains no audio samples");
    }
    Ok(FeatureMatrix {
        rows: data.len() / cols,
        data,
        cols,
    })
}

fn features(args: &FeaturesArgs, config: &Config, out: &mut dyn Write) -> Result<()> {
    let params = frontend_params(args)?;
    let kind = if args.mel {
        FeatureKind::LogMel
    } else {
        FeatureKind::Mfcc
    };
    let mut frontend = FrontEnd::new(params.clone(), kind)?;
    let (mut source, limit) = open_source(args, config)?;
    let matrix = compute_features(source.as_mut(), limit, &mut frontend)?;
    if matrix.rows == 0 {
        tracing::warn!(
            origin = source.origin(),
            "audio shorter than one analysis window ({} samples): no frames",
            params.win_length
        );
    }
    let kind_name = if args.mel { "logmel" } else { "mfcc" };
    if let Some(path) = &args.out {
        write_npy(path, &matrix)?;
        tracing::info!(
            out = %path.display(),
            frames = matrix.rows,
            coefficients = matrix.cols,
            kind = kind_name,
            "features written"
        );
    } else if args.json {
        let frames: Vec<&[f32]> = (0..matrix.rows).map(|i| matrix.row(i)).collect();
        let doc = serde_json::json!({
            "input": source.origin(),
            "kind": kind_name,
            "rows": matrix.rows,
            "cols": matrix.cols,
            "frame_shift_s": params.hop_length as f64 / f64::from(params.sample_rate),
            "params": params,
            "frames": frames,
        });
        serde_json::to_writer(&mut *out, &doc)?;
        writeln!(out)?;
    } else {
        for i in 0..matrix.rows {
            let line: Vec<String> = matrix.row(i).iter().map(|v| format!("{v:.6}")).collect();
            writeln!(out, "{}", line.join(" "))?;
        }
    }
    Ok(())
}

fn listen(args: &ListenArgs, config: &Config) -> Result<()> {
    if let Some(t) = args.threshold
        && !(t.is_finite() && (0.0..=1.0).contains(&t))
    {
        bail!("--threshold must be between 0 and 1, got {t}");
    }
    let models = Arc::new(ModelSet::load(
        args.model_dir.as_deref(),
        &default_model_dirs(),
    )?);
    for (kind, path) in &models.sources {
        tracing::debug!(kind = kind.default_name(), model = %path.display(), "model loaded");
    }
    let options = ListenOptions {
        mode: match args.mode {
            ModeArg::Full => Mode::Full,
            ModeArg::Keyword => Mode::Keyword,
            ModeArg::Command => Mode::Command,
        },
        capture: config.capture_settings(),
        keyword_threshold: args.threshold,
        keyword_thresholds: config.keyword.thresholds.clone(),
        keyword_gate: config.keyword.pause_in_silence,
        wake_verification: config.keyword.verify,
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, args.files.len().max(1));
    let next = AtomicUsize::new(0);
    // Results are printed in the order of the files, as soon as each is ready.
    let ready: Mutex<(usize, Vec<Option<FileOutcome>>)> =
        Mutex::new((0, (0..args.files.len()).map(|_| None).collect()));
    let failures = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::SeqCst);
            let Some(path) = args.files.get(i) else {
                break;
            };
            let outcome = listen_file(path, &models, &options);
            let mut guard = ready.lock().unwrap_or_else(|p| p.into_inner());
            guard.1[i] = Some(outcome);
            let (printed, slots) = &mut *guard;
            while let Some(Some(outcome)) = slots.get_mut(*printed).map(Option::take) {
                let file = args.files[*printed].display().to_string();
                if print_outcome(&file, outcome, args.json).is_err() {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
                *printed += 1;
            }
        }
    };
    if jobs == 1 {
        // One job runs here: no thread (which also lets emulators without working guest
        // threads, such as qemu-user on some hosts, run `hark listen`).
        work();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                scope.spawn(work);
            }
        });
    }
    let failed = failures.load(Ordering::SeqCst);
    if failed > 0 {
        bail!(
            "{failed} of {} files could not be processed",
            args.files.len()
        );
    }
    Ok(())
}

type FileOutcome = hark_listen::Outcome;

/// Prints one file's events, then its error (on stderr) if it has one, which is returned.
fn print_outcome(file: &str, outcome: FileOutcome, json: bool) -> Result<(), ()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for event in &outcome.events {
        let line = if json {
            report::event_json(file, event).to_string()
        } else {
            report::event_line(file, event)
        };
        if writeln!(out, "{line}").is_err() {
            return Err(());
        }
    }
    let _ = out.flush();
    match outcome.error {
        None => Ok(()),
        Some(e) => {
            eprintln!("error: {e}");
            Err(())
        }
    }
}

fn text(
    sentence: Option<&str>,
    json: bool,
    model_dir: Option<&Path>,
    out: &mut dyn Write,
) -> Result<()> {
    let models = TextModels::load(model_dir, &default_model_dirs())?;
    if models.is_empty() {
        bail!("no text models found (text-intent.json, text-sentiment.json); see README");
    }
    let mut answer = |line: &str| -> Result<()> {
        let intent = models
            .intent
            .as_ref()
            .map(|m| m.understand(line))
            .transpose()?;
        let sentiment = models
            .sentiment
            .as_ref()
            .map(|m| m.judge(line))
            .transpose()?;
        if json {
            writeln!(
                out,
                "{}",
                report::text_json(line, intent.as_ref(), sentiment.as_ref())
            )?;
        } else {
            let mut parts = Vec::new();
            if let Some(r) = &intent {
                let slots: Vec<String> = r
                    .slots
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.value))
                    .collect();
                parts.push(format!(
                    "intent {} {}({:.2}){}",
                    r.intent,
                    if slots.is_empty() {
                        String::new()
                    } else {
                        format!("{} ", slots.join(" "))
                    },
                    r.confidence,
                    if r.understood { "" } else { ", not understood" }
                ));
            }
            if let Some(r) = &sentiment {
                parts.push(format!(
                    "sentiment {} ({:.2})",
                    r.label,
                    r.scores.get(&r.label).copied().unwrap_or(0.0)
                ));
            }
            writeln!(out, "{}", parts.join("; "))?;
        }
        out.flush()?;
        Ok(())
    };
    match sentence {
        Some(s) => answer(s),
        None => {
            for line in std::io::stdin().lines() {
                let line = line.context("reading stdin")?;
                answer(&line)?;
            }
            Ok(())
        }
    }
}

fn bench(seconds: f64, model_dir: Option<&Path>, json: bool, out: &mut dyn Write) -> Result<()> {
    if !(seconds.is_finite() && (1.0..=86_400.0).contains(&seconds)) {
        bail!("--seconds must be between 1 and 86400");
    }
    let models = Arc::new(ModelSet::load(model_dir, &default_model_dirs())?);
    let report = crate::bench::run(models, seconds, &std::env::temp_dir())?;
    if json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{seconds:.0} s of synthetic audio at 48 kHz, one thread"
    )?;
    writeln!(out, "{:<52} {:>10} {:>12}", "stage", "seconds", "RTF")?;
    for s in &report.stages {
        writeln!(out, "{:<52} {:>10.4} {:>12.6}", s.stage, s.seconds, s.rtf)?;
    }
    for (name, ms) in &report.per_command_ms {
        writeln!(out, "{:<52} {:>10.3} ms per 3 s command", name, ms)?;
    }
    if let Some((ms, window_s)) = report.per_candidate_ms {
        writeln!(
            out,
            "{:<52} {:>10.3} ms per candidate",
            format!("wake-word verification ({window_s:.1}-s window)"),
            ms
        )?;
    }
    if let Some(kib) = report.peak_rss_kib {
        writeln!(out, "peak resident memory: {:.1} MiB", kib as f64 / 1024.0)?;
    }
    if let Some(k) = &report.kernels {
        writeln!(out, "tract kernels (keyword model): {}", k.summary())?;
    }
    Ok(())
}

fn write_npy(path: &Path, matrix: &FeatureMatrix) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    npy::write_f32(matrix, &mut writer).with_context(|| format!("writing {}", path.display()))?;
    writer
        .flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn devices(json: bool, out: &mut dyn Write) -> Result<()> {
    let devices = list_input_devices()?;
    if json {
        for d in &devices {
            let line = serde_json::json!({
                "index": d.index, "id": d.id, "name": d.name,
                "default": d.is_default, "default_config": d.default_config,
            });
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    if devices.is_empty() {
        writeln!(out, "no audio capture devices found")?;
    }
    for d in &devices {
        writeln!(
            out,
            "{:>3}{} {}  [{}]  {}",
            d.index,
            if d.is_default { "*" } else { " " },
            d.name,
            d.id,
            d.default_config
                .as_deref()
                .unwrap_or("no capture configuration")
        )?;
    }
    Ok(())
}

fn check_config(file: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    let (config, origin) = Config::resolve(file)?;
    match &origin {
        Some(path) => writeln!(out, "# {}: OK", path.display())?,
        None => writeln!(
            out,
            "# no configuration file found; the compiled-in defaults are in force"
        )?,
    }
    let mut shown = config;
    if !shown.mqtt.password.is_empty() {
        // The configuration is printed to terminals and logs: never the broker password.
        shown.mqtt.password = PASSWORD_SHOWN.into();
    }
    write!(out, "{}", toml::to_string_pretty(&shown)?)?;
    Ok(())
}

/// What `hark check-config` prints in place of a configured MQTT password.
const PASSWORD_SHOWN: &str = "(set, not shown)";
