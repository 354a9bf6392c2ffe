//! The outbox: every message waits here, in order, until the broker has acknowledged it.
//!
//! Bounded: when `capacity` messages are waiting (the broker has been away for long), the
//! **oldest** is dropped to make room, counted and logged as a warning; the newest events are
//! the ones still worth acting on. Messages are resent after a reconnection until acknowledged,
//! so delivery is *at least once*: a message whose acknowledgement was lost with the connection
//! is sent again. Optionally saved to a file (JSON lines, replaced atomically) so a restart keeps
//! what was not delivered.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Message;

/// Errors reading or writing the outbox file.
#[derive(Debug, thiserror::Error)]
#[error("outbox file {path}: {message}")]
pub struct OutboxError {
    /// The file.
    pub path: PathBuf,
    /// What failed.
    pub message: String,
}

/// Counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Messages queued.
    pub queued: u64,
    /// Messages acknowledged by the broker.
    pub delivered: u64,
    /// Messages dropped because the outbox was full.
    pub dropped: u64,
}

#[derive(Debug)]
struct Entry {
    seq: u64,
    msg: Message,
    sent: bool,
    acked: bool,
}

/// Messages not yet acknowledged, oldest first.
#[derive(Debug)]
pub struct Outbox {
    entries: VecDeque<Entry>,
    capacity: usize,
    next_seq: u64,
    stats: OutboxStats,
    file: Option<PathBuf>,
    dirty: bool,
}

impl Outbox {
    /// An empty outbox holding at most `capacity` messages (at least 1), saved to `file`.
    pub fn new(capacity: usize, file: Option<PathBuf>) -> Self {
        Self {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 0,
            stats: OutboxStats::default(),
            file,
            dirty: false,
        }
    }

    /// Queues a message; returns the message dropped to make room, if any.
    pub fn push(&mut self, msg: Message) -> Option<Message> {
        let mut dropped = None;
        while self.entries.len() >= self.capacity {
            let Some(e) = self.entries.pop_front() else {
                break;
            };
            if !e.acked {
                dropped = Some(e.msg);
                self.stats.dropped += 1;
            }
        }
        self.entries.push_back(Entry {
            seq: self.next_seq,
            msg,
            sent: false,
            acked: false,
        });
        self.next_seq += 1;
        self.stats.queued += 1;
        self.dirty = true;
        dropped
    }

    /// The oldest message not yet sent on this connection, marked as sent, with its number.
    pub fn next_unsent(&mut self) -> Option<(u64, Message)> {
        let e = self.entries.iter_mut().find(|e| !e.sent && !e.acked)?;
        e.sent = true;
        Some((e.seq, e.msg.clone()))
    }

    /// Message `seq` could not be handed to the connection after all.
    pub fn unsend(&mut self, seq: u64) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.seq == seq) {
            e.sent = false;
        }
    }

    /// The broker acknowledged message `seq`.
    pub fn ack(&mut self, seq: u64) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.seq == seq)
            && !e.acked
        {
            e.acked = true;
            self.stats.delivered += 1;
        }
        while self.entries.front().is_some_and(|e| e.acked) {
            self.entries.pop_front();
            self.dirty = true;
        }
    }

    /// A new connection: everything unacknowledged is to be sent again.
    pub fn reset_sent(&mut self) {
        for e in &mut self.entries {
            e.sent = false;
        }
    }

    /// Messages waiting (sent or not), not yet acknowledged.
    pub fn len(&self) -> usize {
        self.entries.iter().filter(|e| !e.acked).count()
    }

    /// True when every message has been acknowledged.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters.
    pub fn stats(&self) -> OutboxStats {
        self.stats
    }

    /// Reads messages a previous run saved and queues them first.
    pub fn load(&mut self) -> Result<usize, OutboxError> {
        let Some(path) = self.file.clone() else {
            return Ok(0);
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(err(&path, e)),
        };
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Message>(line) {
                Ok(m) => {
                    self.push(m);
                    n += 1;
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), line = i + 1, "outbox line skipped: {e}");
                }
            }
        }
        Ok(n)
    }

    /// Writes the waiting messages to the file when they changed since the last save.
    pub fn save(&mut self) -> Result<(), OutboxError> {
        let Some(path) = self.file.clone() else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        let tmp = path.with_extension("tmp");
        let write = |tmp: &Path| -> std::io::Result<()> {
            let mut f = std::io::BufWriter::new(std::fs::File::create(tmp)?);
            for e in self.entries.iter().filter(|e| !e.acked) {
                serde_json::to_writer(&mut f, &e.msg)?;
                f.write_all(b"\n")?;
            }
            f.flush()?;
            f.get_ref().sync_all()
        };
        write(&tmp).map_err(|e| err(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| err(&path, e))?;
        self.dirty = false;
        Ok(())
    }
}

fn err(path: &Path, e: impl std::fmt::Display) -> OutboxError {
    OutboxError {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(i: usize) -> Message {
        Message::event(format!("t/{i}"), i.to_string())
    }

    #[test]
    fn in_order_until_acknowledged_and_resent_after_reconnection() {
        let mut o = Outbox::new(10, None);
        for i in 0..3 {
            o.push(m(i));
        }
        let (a, ma) = o.next_unsent().unwrap();
        let (b, _) = o.next_unsent().unwrap();
        assert_eq!(ma, m(0));
        o.ack(b); // out of order: kept until the older one is acknowledged
        assert_eq!(o.len(), 2);
        o.reset_sent();
        assert_eq!(o.next_unsent().unwrap(), (a, m(0)));
        assert_eq!(o.next_unsent().unwrap().1, m(2));
        o.ack(a);
        assert_eq!(o.len(), 1);
        assert_eq!(
            o.stats(),
            OutboxStats {
                queued: 3,
                delivered: 2,
                dropped: 0
            }
        );
    }

    #[test]
    fn full_outbox_drops_the_oldest_and_counts_it() {
        let mut o = Outbox::new(2, None);
        assert!(o.push(m(0)).is_none());
        assert!(o.push(m(1)).is_none());
        assert_eq!(o.push(m(2)), Some(m(0)));
        assert_eq!(o.stats().dropped, 1);
        assert_eq!(o.next_unsent().unwrap().1, m(1));
    }

    #[test]
    fn survives_a_restart_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        let mut o = Outbox::new(10, Some(path.clone()));
        for i in 0..3 {
            o.push(m(i));
        }
        let (s, _) = o.next_unsent().unwrap();
        o.ack(s);
        o.save().unwrap();
        let mut again = Outbox::new(10, Some(path.clone()));
        assert_eq!(again.load().unwrap(), 2);
        assert_eq!(again.next_unsent().unwrap().1, m(1));
        std::fs::write(&path, "not json\n").unwrap();
        let mut bad = Outbox::new(10, Some(path));
        assert_eq!(bad.load().unwrap(), 0);
    }
}
