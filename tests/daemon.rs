//! `hark run` against real brokers: the embedded rumqttd and Debian's mosquitto (started on a
//! free port when `mosquitto` is installed; those tests are skipped otherwise). A subscriber
//! records what arrives and the tests compare it, topic by topic and payload by payload, with
//! what the library says the fixture audio produces; a broker outage mid-stream loses nothing;
//! malformed inbound messages never stop the daemon.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hark::actions::{ActionConfig, Actions};
use hark::audio::{RawFormat, RawSource};
use hark::listen::{ListenOptions, listen_source};
use hark::models::set::ModelSet;
use hark::mqtt::SiteTopics;
use hark::mqtt::publish::Publisher;
use hark::pipeline::{CaptureSettings, Mode};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

const THRESHOLD: &str = "0.35";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn models_dir() -> PathBuf {
    common::fixtures().join("models")
}

fn speech_wav() -> PathBuf {
    common::fixtures().join("frontend/speech.wav")
}

/// The fixture speech as s16le bytes at 16 kHz, `copies` times, 0.5 s of silence between.
fn speech_raw(copies: usize) -> Vec<u8> {
    let mut reader = hound::WavReader::open(speech_wav()).unwrap();
    assert_eq!(reader.spec().sample_rate, 16_000);
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let mut out = Vec::new();
    for _ in 0..copies {
        for s in &samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.extend(std::iter::repeat_n(0u8, 16_000));
    }
    out
}

fn action() -> ActionConfig {
    ActionConfig {
        intent: String::new(),
        slots: Default::default(),
        topic: "home/{{ site_id }}/{{ intent }}".into(),
        payload: "{{ intent }} {{ slots | length }}".into(),
        retain: false,
        qos: 1,
    }
}

/// The messages the library says `audio` produces for site `site`, in order.
fn expected(audio: &[u8], site: &str, with_action_for: Option<&str>) -> Vec<(String, String)> {
    let models = Arc::new(ModelSet::load(Some(&models_dir()), &[]).unwrap());
    let options = ListenOptions {
        mode: Mode::Full,
        capture: CaptureSettings::default(),
        keyword_threshold: Some(THRESHOLD.parse().unwrap()),
        keyword_thresholds: Default::default(),
        keyword_gate: true,
        wake_verification: true,
    };
    let mut source = RawSource::new(audio, "x", "s16le:16000".parse::<RawFormat>().unwrap());
    let outcome = listen_source(&mut source, &models, &options);
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let events = outcome.events;
    let actions = match with_action_for {
        Some(intent) => Actions::new(&[ActionConfig {
            intent: intent.into(),
            ..action()
        }])
        .unwrap(),
        None => Actions::new(&[]).unwrap(),
    };
    let publisher = Publisher::new(SiteTopics::new(site), actions);
    events
        .iter()
        .flat_map(|e| publisher.messages(e))
        .map(|m| (m.topic, m.payload))
        .collect()
}

/// What a subscriber received.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, String, bool)>>>);

impl Received {
    fn all(&self) -> Vec<(String, String, bool)> {
        self.0.lock().unwrap().clone()
    }

    fn events(&self) -> Vec<(String, String)> {
        self.all()
            .into_iter()
            .filter(|(t, _, retain)| !retain && is_event_topic(t))
            .map(|(t, p, _)| (t, p))
            .collect()
    }

    fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        f: impl Fn(&[(String, String, bool)]) -> bool,
    ) {
        let start = Instant::now();
        while !f(&self.all()) {
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what}: {:?}",
                self.all()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn is_event_topic(t: &str) -> bool {
    (t.starts_with("hermes/") && !t.starts_with("hermes/hotword/toggle"))
        || (t.starts_with("hark/") && !t.ends_with("/status"))
        || t.starts_with("home/")
}

/// Subscribes to everything hark publishes, keeps reconnecting (with a persistent session
/// when `persistent`), records every message. Returns once subscribed.
fn subscribe(port: u16, id: &str, persistent: bool) -> (Client, Received) {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_clean_session(!persistent)
        .set_keep_alive(Duration::from_secs(5))
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut connection) = Client::new(o, 64);
    let received = Received::default();
    let r = received.clone();
    let c = client.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut told = false;
        for ev in connection.iter() {
            match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    // One filter: brokers keep order within a subscription (rumqttd keeps
                    // one log per filter), so arrivals can be compared in order.
                    let _ = c.try_subscribe("#", QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) if !told => {
                    told = true;
                    let _ = ready_tx.send(());
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    r.0.lock().unwrap().push((
                        p.topic.clone(),
                        String::from_utf8_lossy(&p.payload).into_owned(),
                        p.retain,
                    ));
                }
                Ok(_) => {}
                Err(rumqttc::ConnectionError::RequestsDone) => break,
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("subscriber connected");
    (client, received)
}

fn mosquitto_binary() -> Option<PathBuf> {
    [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// Debian's mosquitto on a free loopback port, with persistence in its own directory.
struct Mosquitto {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Mosquitto {
    fn start() -> Option<Self> {
        let Some(bin) = mosquitto_binary() else {
            eprintln!("mosquitto is not installed: test skipped");
            return None;
        };
        let mut m = Self {
            bin,
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
            child: None,
        };
        m.launch();
        Some(m)
    }

    fn launch(&mut self) {
        let conf = self.dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nuser root\n",
                self.port,
                self.dir.path().display()
            ),
        )
        .unwrap();
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "mosquitto did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it with SIGTERM (it saves its persistent sessions) and waits.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A running `hark run`, its stderr collected line by line.
struct Hark {
    child: Child,
    stdin: Option<ChildStdin>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Hark {
    fn start(config: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hark"))
            .env("HARK_MODELS", "/nonexistent")
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("--config")
            .arg(config)
            .args(["run", "--threshold", THRESHOLD, "--model-dir"])
            .arg(models_dir())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = Arc::clone(&log);
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        let stdin = child.stdin.take();
        Self { child, stdin, log }
    }

    fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn log_contains(&self, s: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(s))
    }

    fn wait_log(&self, s: &str, timeout: Duration) {
        let start = Instant::now();
        while !self.log_contains(s) {
            assert!(
                start.elapsed() < timeout,
                "no {s:?} in the log: {:#?}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Closes stdin and waits for a successful exit.
    fn finish(mut self, timeout: Duration) -> Vec<String> {
        drop(self.stdin.take());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                let log = self.log.lock().unwrap().clone();
                assert!(status.success(), "hark failed: {log:#?}");
                return log;
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("hark did not exit: {:#?}", self.log.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Hark {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("hark.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn assert_discovery(received: &Received, site: &str) {
    let all = received.all();
    let wake = all
        .iter()
        .find(|(t, _, _)| t == &format!("homeassistant/event/hark_{site}/wake/config"))
        .expect("wake word entity announced");
    let v: serde_json::Value = serde_json::from_str(&wake.1).unwrap();
    assert_eq!(v["state_topic"], format!("hark/{site}/wake"));
    assert_eq!(v["availability_topic"], format!("hark/{site}/status"));
    assert_eq!(v["event_types"], serde_json::json!(["computer", "jarvis"]));
    for object in [
        "event/hark_{s}/intent",
        "event/hark_{s}/sentiment",
        "sensor/hark_{s}/last_sentiment",
    ] {
        let topic = format!("homeassistant/{}/config", object.replace("{s}", site));
        assert!(
            all.iter().any(|(t, p, _)| *t == topic && !p.is_empty()),
            "{topic}"
        );
    }
}

#[test]
fn embedded_broker_delivers_exactly_what_the_pipeline_heard() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let audio = speech_raw(1);
    // The tiny fixture models hear the wake word but do not understand the command, so the
    // action must not fire: only understood intents trigger actions.
    let intent = "HassTurnOn";
    let want = expected(&audio, "kitchen", Some(intent));
    assert_eq!(want, expected(&audio, "kitchen", None));
    let config = write_config(
        dir.path(),
        &format!(
            "[mqtt]\nbroker = \"embedded\"\nembedded_listen = \"127.0.0.1:{port}\"\n\
             [site]\nid = \"kitchen\"\n\
             [[actions]]\nintent = \"{intent}\"\ntopic = \"home/{{{{ site_id }}}}/{{{{ intent }}}}\"\npayload = \"{{{{ intent }}}} {{{{ slots | length }}}}\"\n"
        ),
    );
    let mut hark = Hark::start(&config, &["--input", "-", "--raw", "s16le:16000"]);
    hark.wait_log("embedded MQTT broker listening", Duration::from_secs(30));
    let (_client, received) = subscribe(port, "probe-embedded", false);
    received.wait_for("online", Duration::from_secs(30), |all| {
        all.iter()
            .any(|(t, p, _)| t == "hark/kitchen/status" && p == "online")
    });
    hark.write(&audio);
    let log = hark.finish(Duration::from_secs(60));
    assert!(log.iter().any(|l| l.contains("MQTT summary")), "{log:#?}");
    assert!(!want.is_empty());
    assert!(want.iter().any(|(t, _)| t.starts_with("hermes/hotword/")));
    assert!(
        want.iter()
            .any(|(t, _)| t == "hermes/nlu/intentNotRecognized")
    );
    assert!(want.iter().any(|(t, _)| t == "hark/kitchen/sentiment"));
    // The embedded broker dies with hark; everything must have arrived by then.
    assert_eq!(received.events(), want);
    assert_discovery(&received, "kitchen");
}

#[test]
fn mosquitto_receives_events_discovery_and_status() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let audio = speech_raw(1);
    let (_client, received) = subscribe(broker.port, "probe-mosquitto", false);
    let config = write_config(dir.path(), "");
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let hark = Hark::start(
        &config,
        &["--input", speech_wav().to_str().unwrap(), "--broker", &url],
    );
    hark.finish(Duration::from_secs(60));
    received.wait_for("offline", Duration::from_secs(10), |all| {
        all.iter()
            .any(|(t, p, _)| t == "hark/default/status" && p == "offline")
    });
    // The file is the same audio without the trailing second of silence: the same events as
    // that audio run in-process (the command ends where the file does, less than 0.3 s after
    // the speech).
    let got = received.events();
    let speech_only = expected(&audio[..audio.len() - 16_000], "default", None);
    assert_eq!(got, speech_only);
    let statuses: Vec<String> = received
        .all()
        .into_iter()
        .filter(|(t, _, _)| t == "hark/default/status")
        .map(|(_, p, _)| p)
        .collect();
    assert_eq!(statuses, ["online", "offline"]);
    assert_discovery(&received, "default");
    // A late subscriber sees the retained state: discovery configs and `offline`.
    let (_c2, late) = subscribe(broker.port, "probe-late", false);
    late.wait_for("retained offline", Duration::from_secs(10), |all| {
        all.iter()
            .any(|(t, p, r)| *r && t == "hark/default/status" && p == "offline")
    });
    assert_discovery(&late, "default");
}

#[test]
fn broker_outage_mid_stream_loses_no_event() {
    let Some(mut broker) = Mosquitto::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let copies = 12;
    let audio = speech_raw(copies);
    let want = expected(&audio, "default", None);
    let (_client, received) = subscribe(broker.port, "probe-outage", true);
    let config = write_config(
        dir.path(),
        "[mqtt]\nreconnect_min_s = 0.05\nreconnect_max_s = 0.5\n",
    );
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let mut hark = Hark::start(
        &config,
        &["--input", "-", "--raw", "s16le:16000", "--broker", &url],
    );
    received.wait_for("online", Duration::from_secs(30), |all| {
        all.iter()
            .any(|(t, p, _)| t == "hark/default/status" && p == "online")
    });
    let per_copy = audio.len() / copies;
    hark.write(&audio[..3 * per_copy]);
    received.wait_for("the first events", Duration::from_secs(30), |all| {
        all.iter().any(|(t, _, _)| t.starts_with("hermes/hotword/"))
    });
    broker.stop();
    let before_outage = received.events().len();
    hark.write(&audio[3 * per_copy..9 * per_copy]);
    hark.wait_log("MQTT connection lost", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(1500));
    broker.launch();
    hark.write(&audio[9 * per_copy..]);
    let log = hark.finish(Duration::from_secs(120));
    let start = Instant::now();
    while !is_subsequence(&want, &received.events()) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = received.events();
    // Every event, in order (repeats allowed: at least once), and nothing else.
    assert!(is_subsequence(&want, &got), "want {want:#?}\ngot {got:#?}");
    assert!(got.iter().all(|m| want.contains(m)), "{got:#?}");
    let summary = log.iter().find(|l| l.contains("MQTT summary")).unwrap();
    eprintln!(
        "outage: {} event messages expected, {} received (repeats included), {summary}",
        want.len(),
        got.len(),
    );
    assert!(summary.contains("dropped=0"), "{summary}");
    assert!(summary.contains("undelivered=0"), "{summary}");
    // Events were heard while the broker was away, and queued until it came back.
    let reconnect = log
        .iter()
        .filter(|l| l.contains("connected to the MQTT broker"))
        .nth(1)
        .expect("a reconnection");
    assert!(!reconnect.contains("waiting=0"), "{reconnect}");
    assert!(want.len() > before_outage, "events after the outage began");
}

#[test]
fn bad_action_templates_stop_hark_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[mqtt]\nbroker = \"mqtt://127.0.0.1:9\"\n[[actions]]\nintent = \"HassTurnOn\"\ntopic = \"home/{{ slots.area\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .env("HARK_MODELS", "/nonexistent")
        .arg("--config")
        .arg(&config)
        .args(["run", "--input"])
        .arg(speech_wav())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("actions[0] (HassTurnOn)") && err.contains("topic"),
        "{err}"
    );
    assert!(err.contains("hark.toml"), "{err}");
}

/// True when `want` appears in `got` in order, possibly with other messages in between.
fn is_subsequence(want: &[(String, String)], got: &[(String, String)]) -> bool {
    let mut it = got.iter();
    want.iter().all(|w| it.any(|g| g == w))
}

#[test]
fn malformed_inbound_messages_are_ignored_and_muting_works() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (client, received) = subscribe(broker.port, "probe-inbound", false);
    let config = write_config(dir.path(), "");
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let mut hark = Hark::start(
        &config,
        &[
            "--input",
            "-",
            "--raw",
            "s16le:16000",
            "--broker",
            &url,
            "-v",
        ],
    );
    received.wait_for("online", Duration::from_secs(30), |all| {
        all.iter()
            .any(|(t, p, _)| t == "hark/default/status" && p == "online")
    });
    let huge = vec![b'x'; 200 * 1024];
    let garbage: [(&str, &[u8]); 8] = [
        ("hermes/hotword/toggleOff", b"not json"),
        ("hermes/hotword/toggleOff", br#"{"siteId": 5}"#),
        ("hermes/hotword/toggleOn", b"\xff\xfe\x00"),
        ("hermes/hotword/toggleOff", &huge),
        ("hermes/hotword/toggleOff", b"[1,2,3]"),
        ("homeassistant/status", b"\x00\x01"),
        ("hermes/hotword/toggleOff", br#"{"siteId": "elsewhere"}"#),
        ("hermes/nlu/query", b"{"),
    ];
    for (topic, payload) in garbage {
        client
            .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
            .unwrap();
    }
    client
        .publish(
            "hermes/hotword/toggleOff",
            QoS::AtLeastOnce,
            false,
            br#"{"siteId":"default"}"#.to_vec(),
        )
        .unwrap();
    hark.wait_log("wake word muted", Duration::from_secs(30));
    assert!(hark.log_contains("malformed inbound message ignored"));
    assert!(hark.log_contains("too large"));
    // Muted: the fixture's wake word is not heard.
    hark.write(&speech_raw(1));
    std::thread::sleep(Duration::from_millis(1500));
    client
        .publish(
            "hermes/hotword/toggleOn",
            QoS::AtLeastOnce,
            false,
            br#"{"siteId":"default","reason":"test"}"#.to_vec(),
        )
        .unwrap();
    hark.wait_log("wake word unmuted", Duration::from_secs(30));
    hark.write(&speech_raw(1));
    // Home Assistant coming online makes hark announce again.
    let configs_before = received
        .all()
        .iter()
        .filter(|(t, _, _)| t.ends_with("/wake/config"))
        .count();
    client
        .publish(
            "homeassistant/status",
            QoS::AtLeastOnce,
            false,
            b"online".to_vec(),
        )
        .unwrap();
    hark.wait_log("announcing again", Duration::from_secs(30));
    hark.finish(Duration::from_secs(60));
    received.wait_for("re-announcement", Duration::from_secs(10), |all| {
        all.iter()
            .filter(|(t, _, _)| t.ends_with("/wake/config"))
            .count()
            > configs_before
    });
    let wakes = received
        .events()
        .iter()
        .filter(|(t, _)| t.starts_with("hermes/hotword/") && t.ends_with("/detected"))
        .count();
    let one = expected(&speech_raw(1), "default", None)
        .iter()
        .filter(|(t, _)| t.starts_with("hermes/hotword/"))
        .count();
    assert!(one >= 1);
    assert_eq!(wakes, one, "only the unmuted copy wakes hark");
}

fn signal(hark: &Hark, name: &str) {
    let status = Command::new("kill")
        .args([name, &hark.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

impl Hark {
    /// Waits for the process to exit after a signal; returns its log.
    fn wait_exit(mut self, timeout: Duration) -> Vec<String> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                let log = self.log.lock().unwrap().clone();
                assert!(status.success(), "hark failed: {log:#?}");
                return log;
            }
            assert!(
                start.elapsed() < timeout,
                "hark did not exit: {:#?}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn sigterm_delivers_publishes_offline_and_exits() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_client, received) = subscribe(broker.port, "probe-sigterm", false);
    let config = write_config(dir.path(), "");
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let mut hark = Hark::start(
        &config,
        &["--input", "-", "--raw", "s16le:16000", "--broker", &url],
    );
    received.wait_for("online", Duration::from_secs(30), |all| {
        all.iter()
            .any(|(t, p, _)| t == "hark/default/status" && p == "online")
    });
    hark.write(&speech_raw(1));
    received.wait_for("a wake word", Duration::from_secs(30), |all| {
        all.iter().any(|(t, _, _)| t.starts_with("hermes/hotword/"))
    });
    // stdin stays open: only the signal ends hark.
    signal(&hark, "-TERM");
    let log = hark.wait_exit(Duration::from_secs(20));
    assert!(log.iter().any(|l| l.contains("undelivered=0")), "{log:#?}");
    received.wait_for("offline", Duration::from_secs(10), |all| {
        all.iter()
            .any(|(t, p, _)| t == "hark/default/status" && p == "offline")
    });
}

#[test]
fn the_outbox_file_keeps_events_across_a_restart() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox.jsonl");
    let config = write_config(
        dir.path(),
        &format!(
            "[mqtt]\noutbox_file = \"{}\"\nshutdown_timeout_s = 0.2\nreconnect_max_s = 0.5\n",
            outbox.display()
        ),
    );
    // Two seconds of silence end the command, so every event is heard before the signal.
    let mut audio = speech_raw(1);
    audio.extend(std::iter::repeat_n(0u8, 64_000));
    let want = expected(&audio, "default", None);
    // First run: nothing listens on this port, so every event waits in the outbox.
    let nobody = format!("mqtt://127.0.0.1:{}", free_port());
    let mut hark = Hark::start(
        &config,
        &["--input", "-", "--raw", "s16le:16000", "--broker", &nobody],
    );
    hark.write(&audio);
    hark.wait_log("sentiment neutral", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(300));
    signal(&hark, "-INT");
    let log = hark.wait_exit(Duration::from_secs(20));
    assert!(
        log.iter().any(|l| l.contains("saved for the next start")),
        "{log:#?}"
    );
    let saved = std::fs::read_to_string(&outbox).unwrap();
    assert_eq!(saved.lines().count(), want.len(), "{saved}");
    // Second run, broker up, half a second of silence: the saved events are delivered, in
    // order.
    let (_client, received) = subscribe(broker.port, "probe-restart", false);
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let mut hark = Hark::start(
        &config,
        &["--input", "-", "--raw", "s16le:16000", "--broker", &url],
    );
    hark.write(&[0u8; 16_000]);
    let log = hark.finish(Duration::from_secs(30));
    assert!(
        log.iter()
            .any(|l| l.contains("restored from the outbox file")),
        "{log:#?}"
    );
    // The saved events come first (the tiny fixture model may hear a wake word in the
    // silence after them).
    received.wait_for("the saved events", Duration::from_secs(10), |_| {
        received.events().starts_with(&want)
    });
    assert_eq!(std::fs::read_to_string(&outbox).unwrap(), "");
}

#[test]
fn sighup_reloads_and_disabling_discovery_removes_the_entities() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_client, received) = subscribe(broker.port, "probe-sighup", false);
    let config = write_config(dir.path(), "");
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let mut hark = Hark::start(
        &config,
        &["--input", "-", "--raw", "s16le:16000", "--broker", &url],
    );
    received.wait_for("online", Duration::from_secs(30), |all| {
        all.iter()
            .any(|(t, p, _)| t == "hark/default/status" && p == "online")
    });
    // A broken file is refused and the running configuration kept.
    std::fs::write(&config, "[homeassistant]\ndiscovery = \"no\"\n").unwrap();
    signal(&hark, "-HUP");
    hark.wait_log("reload refused", Duration::from_secs(10));
    std::fs::write(&config, "[homeassistant]\ndiscovery = false\n").unwrap();
    signal(&hark, "-HUP");
    hark.wait_log("configuration and models reloaded", Duration::from_secs(10));
    received.wait_for("removal", Duration::from_secs(10), |all| {
        all.iter()
            .any(|(t, p, _)| t == "homeassistant/event/hark_default/wake/config" && p.is_empty())
    });
    // Audio keeps flowing through the reloaded pipeline.
    hark.write(&speech_raw(1));
    hark.finish(Duration::from_secs(30));
    received.wait_for(
        "a wake word after the reload",
        Duration::from_secs(10),
        |all| all.iter().any(|(t, _, _)| t.starts_with("hermes/hotword/")),
    );
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The soak: an hour of audio through `hark run --input -` while mosquitto restarts every few
/// seconds; every event arrives (at least once, in order), memory stays flat. Takes minutes:
/// `cargo test --test daemon soak -- --ignored --nocapture`.
#[test]
#[ignore]
fn soak_an_hour_of_audio_with_the_broker_bouncing() {
    let Some(mut broker) = Mosquitto::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let copies = 1_220; // 1220 × 2.95 s ≈ 1 hour
    let audio = speech_raw(copies);
    let audio_for_expected = audio.clone();
    let expected_thread =
        std::thread::spawn(move || expected(&audio_for_expected, "default", None));
    let (_client, received) = subscribe(broker.port, "probe-soak", true);
    let config = write_config(
        dir.path(),
        "[mqtt]\nreconnect_min_s = 0.05\nreconnect_max_s = 0.5\n",
    );
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let mut hark = Hark::start(
        &config,
        &["--input", "-", "--raw", "s16le:16000", "--broker", &url],
    );
    let pid = hark.child.id();
    received.wait_for("online", Duration::from_secs(30), |all| {
        all.iter()
            .any(|(t, p, _)| t == "hark/default/status" && p == "online")
    });
    let per_copy = audio.len() / copies;
    let mut rss = Vec::new();
    let mut bounces = 0;
    let mut last_bounce = Instant::now();
    for (i, chunk) in audio.chunks(per_copy * 10).enumerate() {
        hark.write(chunk);
        if let Some(kib) = rss_kib(pid) {
            rss.push((i * 10, kib));
        }
        if last_bounce.elapsed() > Duration::from_secs(3) {
            broker.stop();
            std::thread::sleep(Duration::from_millis(300));
            broker.launch();
            bounces += 1;
            last_bounce = Instant::now();
        }
    }
    let log = hark.finish(Duration::from_secs(300));
    let want = expected_thread.join().unwrap();
    let start = Instant::now();
    while !is_subsequence(&want, &received.events()) && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let got = received.events();
    let summary = log.iter().find(|l| l.contains("MQTT summary")).unwrap();
    let n = rss.len();
    let early = rss[n / 10].1;
    let late = rss[n - 1].1;
    eprintln!(
        "soak: {copies} copies (~{:.0} min of audio), {bounces} broker restarts, {} event messages expected, {} received (repeats included); RSS {} KiB at 10% → {} KiB at the end; {summary}",
        copies as f64 * 2.95 / 60.0,
        want.len(),
        got.len(),
        early,
        late
    );
    assert!(is_subsequence(&want, &got), "events lost");
    assert!(got.iter().all(|m| want.contains(m)));
    assert!(summary.contains("dropped=0") && summary.contains("undelivered=0"));
    assert!(
        late < early + 20 * 1024,
        "memory grew: {early} → {late} KiB"
    );
}

#[test]
fn a_taken_port_for_the_embedded_broker_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = write_config(
        dir.path(),
        &format!("[mqtt]\nembedded_listen = \"127.0.0.1:{port}\"\n"),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .env("HARK_MODELS", "/nonexistent")
        .arg("--config")
        .arg(&config)
        .args(["run", "--model-dir"])
        .arg(models_dir())
        .arg("--input")
        .arg(speech_wav())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}"))
            && err.contains("another broker"),
        "{err}"
    );
}

/// A CA and a server certificate for `localhost` made with openssl, in `dir`.
fn make_certificates(dir: &Path) -> bool {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=hark test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]) && run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]) && run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    ])
}

#[test]
fn mqtts_with_a_private_ca() {
    let Some(bin) = mosquitto_binary() else {
        eprintln!("mosquitto is not installed: test skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    if !make_certificates(dir.path()) {
        eprintln!("openssl could not make certificates: test skipped");
        return;
    }
    let plain = free_port();
    let tls = free_port();
    let d = dir.path().display();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "per_listener_settings false\nallow_anonymous true\nuser root\n\
             listener {plain} 127.0.0.1\n\
             listener {tls} 127.0.0.1\ncafile {d}/ca.crt\ncertfile {d}/server.crt\nkeyfile {d}/server.key\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", tls)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "mosquitto did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_client, received) = subscribe(plain, "probe-tls", false);
    let config = write_config(dir.path(), &format!("[mqtt]\nca_file = \"{d}/ca.crt\"\n"));
    let url = format!("mqtts://localhost:{tls}");
    let hark = Hark::start(
        &config,
        &["--input", speech_wav().to_str().unwrap(), "--broker", &url],
    );
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        hark.finish(Duration::from_secs(60));
        received.wait_for("events over TLS", Duration::from_secs(10), |all| {
            all.iter().any(|(t, _, _)| t.starts_with("hermes/hotword/"))
                && all
                    .iter()
                    .any(|(t, p, _)| t == "hark/default/status" && p == "offline")
        });
    }));
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn a_corrupt_input_file_stops_hark_naming_the_file_and_the_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[mqtt]\nbroker = \"mqtt://127.0.0.1:9\"\n");
    let bad = dir.path().join("truncated.wav");
    std::fs::write(&bad, b"RIFF\x24\x00\x00\x00WAVEfmt ").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .env("HARK_MODELS", models_dir())
        .arg("--config")
        .arg(&config)
        .args(["run", "--input"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ") && last.contains("truncated.wav"),
        "{err}"
    );
    assert_eq!(
        last.matches("not a recognised audio file").count(),
        1,
        "{err}"
    );
}
