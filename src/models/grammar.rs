//! Grammar decoding: a context compiled into a phoneme graph, and the Viterbi search that finds a
//! command's best path through it.
//!
//! The phoneme recogniser (`phonemes.onnx`) gives per-frame CTC log-probabilities over
//! espeak-ng's phonemes (column 0 is the blank). The graph, compiled from the context by the
//! training pipeline (`hark_train.grammar_graph`) and stored in the intent model's metadata, says
//! which phoneme sequences are commands:
//!
//! - *junctions* are points between words; 0 is the start (before any frame), 1 the end;
//! - a *chain* goes from one junction to another through the phonemes of one word or slot phrase;
//!   a chain without phonemes is a run of blanks (the silence before the command); a slot phrase's
//!   chain carries the slot name, its value and the words said;
//! - an *epsilon* joins two junctions without a sound; the epsilon into each expression's first
//!   junction carries the intent.
//!
//! Each phoneme of a chain is a state with a self-loop followed by an optional blank state; two
//! equal phonemes in a row need the blank between them. Junctions are entered and left within a
//! frame, in topological order. The best path names the intent and the slot values; its score
//! against the best unconstrained path (the *gap*, per frame) says how well the command fits.
//! A model may divide the posteriors by their prior first ([`PhonemePrior`]); both paths are then
//! scored on the divided values. This is the Python `Decoder` line for line; `tests/models.rs`
//! replays its golden decodes.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// The start junction.
pub const START: usize = 0;
/// The end junction.
pub const END: usize = 1;

const NEG: f64 = -1e30;

/// The margin of a decode that no path of another meaning can follow (per frame).
pub const MARGIN_CAP: f64 = 1.0;

/// One word or slot phrase between two junctions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    /// Junction it leaves.
    pub from: usize,
    /// Junction it reaches.
    pub to: usize,
    /// Phoneme ids (1..=P; 0 is the blank and never appears here).
    pub phones: Vec<usize>,
    /// For a slot phrase: slot name, value, words said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<(String, String, String)>,
}

/// A silent link between two junctions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Epsilon {
    /// Junction it leaves.
    pub from: usize,
    /// Junction it reaches.
    pub to: usize,
    /// The intent whose expression starts here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
}

/// A context as a phoneme graph (the `grammar.graph` section of intent metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhonemeGraph {
    /// Number of junctions.
    pub junctions: usize,
    /// Words and slot phrases.
    pub chains: Vec<Chain>,
    /// Silent links.
    pub epsilons: Vec<Epsilon>,
}

/// A graph the decoder cannot use.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GraphError {
    /// A chain or epsilon names a junction that does not exist.
    #[error("{what} names junction {junction}, but the graph has {junctions}")]
    Junction {
        /// Which element.
        what: String,
        /// The junction.
        junction: usize,
        /// How many there are.
        junctions: usize,
    },
    /// A chain uses a phoneme the recogniser does not output.
    #[error("chain {chain} uses phoneme {phone}; the recogniser knows 1..={phones}")]
    Phoneme {
        /// The chain.
        chain: usize,
        /// The phoneme id.
        phone: usize,
        /// Phonemes of the recogniser.
        phones: usize,
    },
    /// Epsilons loop back.
    #[error("the phoneme graph has a cycle of epsilons")]
    Cycle,
    /// Fewer than the start and end junctions.
    #[error("the phoneme graph needs at least the start and end junctions")]
    Empty,
    /// The phoneme prior has a value per class of another recogniser.
    #[error("the phoneme prior has {values} values, the recogniser {classes} classes")]
    PriorLength {
        /// Values of the prior.
        values: usize,
        /// Classes the recogniser outputs (phonemes + blank).
        classes: usize,
    },
    /// The phoneme prior's scale or a value of it is not a finite number.
    #[error("the phoneme prior's scale and values must be finite numbers")]
    PriorNotFinite,
}

/// Scaled division of the recogniser's posteriors by their prior before the search: each
/// frame's `log p(k)` becomes `log p(k) - scale · log_prior[k]` (class 0 is the blank). The
/// training pipeline estimates the prior (`hark_train.grammar_graph.PhonemePrior`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhonemePrior {
    /// The power of the prior divided out (0: none).
    pub scale: f64,
    /// Log of each class's mean posterior.
    pub log_prior: Vec<f64>,
}

/// A predecessor: a state (the previous frame's value) or a junction.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pred {
    State(usize),
    Junction(usize),
}

/// The best path through the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The intent, or `None` when no path reaches the end.
    pub intent: Option<String>,
    /// Slot name → (value, words said).
    pub slots: BTreeMap<String, (String, String)>,
    /// Log-probability of the best grammar path.
    pub score: f64,
    /// Log-probability of the best unconstrained path.
    pub free: f64,
    /// Frames decoded.
    pub frames: usize,
}

impl Decoded {
    /// Per-frame log-probability the grammar costs (≤ 0; near 0: the command fits).
    pub fn gap(&self) -> f64 {
        (self.score - self.free) / self.frames.max(1) as f64
    }
}

/// Viterbi search of a [`PhonemeGraph`] over CTC log-probabilities.
#[derive(Debug, Clone)]
pub struct GrammarDecoder {
    graph: PhonemeGraph,
    /// Per state: the class it emits (0: blank).
    sym: Vec<u16>,
    /// Per state: its chain.
    chain_of: Vec<usize>,
    /// Per state: its predecessors (itself first) as indices into the search buffer (states,
    /// then junctions, then a slot that is always impossible), padded to three.
    pred_slots: Vec<[u32; 3]>,
    /// Junctions in topological order with their predecessors.
    junction_order: Vec<(usize, Vec<Pred>)>,
    /// (from, to) → intent.
    eps_intent: HashMap<(usize, usize), String>,
    /// Per intent: the chains of its expressions.
    intent_chains: HashMap<String, Vec<usize>>,
    /// Per (slot name, value): the chains that say it.
    slot_chains: HashMap<(String, String), Vec<usize>>,
    /// Classes per frame the recogniser outputs (phonemes + blank).
    classes: usize,
    /// Per class: what is subtracted from its log-probability before the search (the scaled
    /// log prior; zeros without one).
    offsets: Vec<f64>,
}

fn check_junction(what: impl Fn() -> String, j: usize, n: usize) -> Result<(), GraphError> {
    if j >= n {
        return Err(GraphError::Junction {
            what: what(),
            junction: j,
            junctions: n,
        });
    }
    Ok(())
}

impl GrammarDecoder {
    /// A decoder for `graph` over a recogniser with `phones` phonemes (and the blank).
    pub fn new(graph: PhonemeGraph, phones: usize) -> Result<Self, GraphError> {
        let n_j = graph.junctions;
        if n_j < 2 {
            return Err(GraphError::Empty);
        }
        let mut sym = Vec::new();
        let mut chain_of = Vec::new();
        let mut state_preds: Vec<Vec<Pred>> = Vec::new();
        let mut j_preds: Vec<Vec<Pred>> = vec![Vec::new(); n_j];
        for (ci, c) in graph.chains.iter().enumerate() {
            check_junction(|| format!("chain {ci}"), c.from, n_j)?;
            check_junction(|| format!("chain {ci}"), c.to, n_j)?;
            if let Some(&phone) = c.phones.iter().find(|&&p| p == 0 || p > phones) {
                return Err(GraphError::Phoneme {
                    chain: ci,
                    phone,
                    phones,
                });
            }
            if c.phones.is_empty() {
                let s = sym.len();
                sym.push(0);
                chain_of.push(ci);
                state_preds.push(vec![Pred::State(s), Pred::Junction(c.from)]);
                j_preds[c.to].push(Pred::State(s));
                continue;
            }
            let (mut prev_p, mut prev_b) = (0, 0);
            for (i, &p) in c.phones.iter().enumerate() {
                let sp = sym.len();
                sym.push(u16::try_from(p).map_err(|_| GraphError::Phoneme {
                    chain: ci,
                    phone: p,
                    phones,
                })?);
                chain_of.push(ci);
                let mut preds = vec![Pred::State(sp)];
                if i == 0 {
                    preds.push(Pred::Junction(c.from));
                } else {
                    preds.push(Pred::State(prev_b));
                    if c.phones[i - 1] != p {
                        preds.push(Pred::State(prev_p));
                    }
                }
                state_preds.push(preds);
                let sb = sym.len();
                sym.push(0);
                chain_of.push(ci);
                state_preds.push(vec![Pred::State(sb), Pred::State(sp)]);
                prev_p = sp;
                prev_b = sb;
            }
            j_preds[c.to].push(Pred::State(prev_p));
            j_preds[c.to].push(Pred::State(prev_b));
        }
        let mut eps_intent = HashMap::new();
        for (ei, e) in graph.epsilons.iter().enumerate() {
            check_junction(|| format!("epsilon {ei}"), e.from, n_j)?;
            check_junction(|| format!("epsilon {ei}"), e.to, n_j)?;
            j_preds[e.to].push(Pred::Junction(e.from));
            if let Some(intent) = &e.intent {
                eps_intent.insert((e.from, e.to), intent.clone());
            }
        }
        let level = levels(&j_preds)?;
        let mut order: Vec<usize> = (0..n_j).filter(|&j| !j_preds[j].is_empty()).collect();
        // Stable: junctions of one level keep their index order, as the Python decoder does.
        order.sort_by_key(|&j| level[j]);
        let junction_order = order.into_iter().map(|j| (j, j_preds[j].clone())).collect();
        let n_s = sym.len();
        let slot = |p: &Pred| match *p {
            Pred::State(i) => i as u32,
            Pred::Junction(j) => (n_s + j) as u32,
        };
        let impossible = (n_s + n_j) as u32;
        let pred_slots = state_preds
            .iter()
            .map(|preds| {
                let mut out = [impossible; 3];
                for (o, p) in out.iter_mut().zip(preds) {
                    *o = slot(p);
                }
                out
            })
            .collect();
        let intent_chains = intent_chains(&graph);
        let mut slot_chains: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (ci, c) in graph.chains.iter().enumerate() {
            if let Some((name, value, _)) = &c.slot {
                slot_chains
                    .entry((name.clone(), value.clone()))
                    .or_default()
                    .push(ci);
            }
        }
        Ok(Self {
            graph,
            sym,
            chain_of,
            pred_slots,
            junction_order,
            eps_intent,
            intent_chains,
            slot_chains,
            classes: phones + 1,
            offsets: vec![0.0; phones + 1],
        })
    }

    /// The same decoder dividing the posteriors by `prior` first.
    pub fn with_prior(mut self, prior: &PhonemePrior) -> Result<Self, GraphError> {
        if prior.log_prior.len() != self.classes {
            return Err(GraphError::PriorLength {
                values: prior.log_prior.len(),
                classes: self.classes,
            });
        }
        if !prior.scale.is_finite() || prior.log_prior.iter().any(|v| !v.is_finite()) {
            return Err(GraphError::PriorNotFinite);
        }
        self.offsets = prior.log_prior.iter().map(|v| prior.scale * v).collect();
        Ok(self)
    }

    /// Number of search states.
    pub fn states(&self) -> usize {
        self.sym.len()
    }

    /// Classes per frame the decoder expects (phonemes + blank).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Decodes `logp`, row-major `[frames, classes]` log-probabilities.
    ///
    /// A `logp` whose length is not a multiple of [`classes`](Self::classes) has its last
    /// partial row ignored.
    pub fn decode(&self, logp: &[f32]) -> Decoded {
        let c = self.classes;
        let frames = logp.len() / c;
        let n_s = self.sym.len();
        let n_j = self.graph.junctions;
        // The search buffer of one frame: states, junctions, and the impossible slot.
        let mut buf = vec![NEG; n_s + n_j + 1];
        buf[n_s + START] = 0.0;
        // Backpointers: each junction's predecessor per frame boundary (`[frames + 1, n_j]`);
        // each state's index into its predecessors per frame (`[frames, n_s]`).
        let mut j_bp = vec![None; (frames + 1) * n_j];
        self.settle(&mut buf, &mut j_bp[..n_j]);
        let mut s_bp = vec![0u8; frames * n_s];
        let mut next = vec![NEG; n_s + n_j + 1];
        for t in 0..frames {
            let row = &logp[t * c..(t + 1) * c];
            self.step(&buf, &mut next, row, &[], &mut s_bp[t * n_s..(t + 1) * n_s]);
            self.settle(&mut next, &mut j_bp[(t + 1) * n_j..(t + 2) * n_j]);
            std::mem::swap(&mut buf, &mut next);
        }
        let score = buf[n_s + END];
        let free: f64 = (0..frames)
            .map(|t| {
                logp[t * c..(t + 1) * c]
                    .iter()
                    .zip(&self.offsets)
                    .map(|(&v, off)| f64::from(v) - off)
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .sum();
        if score <= NEG / 2.0 {
            return Decoded {
                intent: None,
                slots: BTreeMap::new(),
                score,
                free,
                frames,
            };
        }
        let (intent, chains) = self.backtrace(&j_bp, &s_bp, frames);
        let mut slots = BTreeMap::new();
        for ci in chains.into_iter().rev() {
            if let Some((name, value, raw)) = &self.graph.chains[ci].slot {
                slots.insert(name.clone(), (value.clone(), raw.clone()));
            }
        }
        Decoded {
            intent,
            slots,
            score,
            free,
            frames,
        }
    }

    /// How much better per frame the decode `d` of `logp` is than the best path that means
    /// something else: another intent, or not one of `d`'s slot values (each found by a search
    /// with that intent's or that value's chains closed). [`MARGIN_CAP`] when no such path
    /// reaches the end; `None` for a decode without an intent (or one this graph cannot have
    /// made).
    pub fn margin(&self, logp: &[f32], d: &Decoded) -> Option<f64> {
        let intent = d.intent.as_ref()?;
        let mut closed = vec![self.intent_chains.get(intent)?];
        for (name, (value, _)) in &d.slots {
            closed.push(self.slot_chains.get(&(name.clone(), value.clone()))?);
        }
        let other = closed
            .into_iter()
            .map(|chains| self.best_score(logp, chains))
            .fold(f64::NEG_INFINITY, f64::max);
        if other <= NEG / 2.0 {
            return Some(MARGIN_CAP);
        }
        let frames = (logp.len() / self.classes).max(1) as f64;
        Some(((d.score - other) / frames).clamp(0.0, MARGIN_CAP))
    }

    /// The best path's score with the chains `closed`.
    fn best_score(&self, logp: &[f32], closed: &[usize]) -> f64 {
        let mut closed_chain = vec![false; self.graph.chains.len()];
        for &ci in closed {
            closed_chain[ci] = true;
        }
        let shut: Vec<bool> = self.chain_of.iter().map(|&ci| closed_chain[ci]).collect();
        let c = self.classes;
        let n_s = self.sym.len();
        let n_j = self.graph.junctions;
        let mut buf = vec![NEG; n_s + n_j + 1];
        buf[n_s + START] = 0.0;
        // Backpointers are not needed here; one frame's worth is overwritten each frame.
        let mut j_bp = vec![None; n_j];
        self.settle(&mut buf, &mut j_bp);
        let mut next = vec![NEG; n_s + n_j + 1];
        let mut bp = vec![0u8; n_s];
        for t in 0..logp.len() / c {
            self.step(&buf, &mut next, &logp[t * c..(t + 1) * c], &shut, &mut bp);
            self.settle(&mut next, &mut j_bp);
            std::mem::swap(&mut buf, &mut next);
        }
        buf[n_s + END]
    }

    /// One frame of the search: each state's value in `next` from its best predecessor in
    /// `buf` (its index among the predecessors in `bp`) plus the frame's log-probability `row`
    /// of its class (less the prior's offset); the states marked in `shut` (one flag per state,
    /// or none at all) are impossible. The junctions of `next` are reset, for
    /// [`settle`](Self::settle).
    fn step(&self, buf: &[f64], next: &mut [f64], row: &[f32], shut: &[bool], bp: &mut [u8]) {
        let n_s = self.sym.len();
        let closing = !shut.is_empty();
        for (s, slots) in self.pred_slots.iter().enumerate() {
            if closing && shut[s] {
                next[s] = NEG;
                continue;
            }
            let (mut k, mut best) = (0u8, buf[slots[0] as usize]);
            let v1 = buf[slots[1] as usize];
            if v1 > best {
                (k, best) = (1, v1);
            }
            let v2 = buf[slots[2] as usize];
            if v2 > best {
                (k, best) = (2, v2);
            }
            let class = usize::from(self.sym[s]);
            next[s] = best + (f64::from(row[class]) - self.offsets[class]);
            bp[s] = k;
        }
        next[n_s..].fill(NEG);
    }

    /// Fills the junctions of the search buffer `buf` from its states (and earlier junctions
    /// of the same frame), and `bp` (one entry per junction) with each junction's best
    /// predecessor.
    fn settle(&self, buf: &mut [f64], bp: &mut [Option<Pred>]) {
        let n_s = self.sym.len();
        bp.fill(None);
        for (j, preds) in &self.junction_order {
            let mut best: Option<(Pred, f64)> = None;
            for p in preds {
                let v = match *p {
                    Pred::State(i) => buf[i],
                    Pred::Junction(i) => buf[n_s + i],
                };
                if best.is_none_or(|(_, b)| v > b) {
                    best = Some((*p, v));
                }
            }
            if let Some((p, v)) = best
                && v > buf[n_s + *j]
            {
                buf[n_s + *j] = v;
                bp[*j] = Some(p);
            }
        }
    }

    /// The intent and the chains (last first) of the best path into the end junction.
    fn backtrace(
        &self,
        j_bp: &[Option<Pred>],
        s_bp: &[u8],
        frames: usize,
    ) -> (Option<String>, Vec<usize>) {
        let mut intent = None;
        let mut chains: Vec<usize> = Vec::new();
        let mut node = Pred::Junction(END);
        // `t` is the frame the node's value belongs to; junctions at boundary `t + 1`.
        let mut t = frames;
        loop {
            match node {
                Pred::Junction(j) => {
                    let Some(src) = j_bp[t * self.graph.junctions + j] else {
                        break;
                    };
                    if let Pred::Junction(a) = src
                        && let Some(i) = self.eps_intent.get(&(a, j))
                    {
                        intent = Some(i.clone());
                    }
                    node = src;
                }
                Pred::State(s) => {
                    let ci = self.chain_of[s];
                    if chains.last() != Some(&ci) {
                        chains.push(ci);
                    }
                    if t == 0 {
                        break;
                    }
                    let n_s = self.sym.len();
                    let slot = self.pred_slots[s][usize::from(s_bp[(t - 1) * n_s + s])] as usize;
                    node = if slot < n_s {
                        Pred::State(slot)
                    } else {
                        Pred::Junction(slot - n_s)
                    };
                    t -= 1;
                }
            }
        }
        (intent, chains)
    }
}

/// Per intent, the chains of its expressions: those reachable from the junctions its epsilons
/// lead into (expressions share no junction but the end).
fn intent_chains(graph: &PhonemeGraph) -> HashMap<String, Vec<usize>> {
    let mut leaving: Vec<Vec<(Option<usize>, usize)>> = vec![Vec::new(); graph.junctions];
    for (ci, c) in graph.chains.iter().enumerate() {
        leaving[c.from].push((Some(ci), c.to));
    }
    for e in &graph.epsilons {
        leaving[e.from].push((None, e.to));
    }
    let mut out: HashMap<String, Vec<usize>> = HashMap::new();
    for e in &graph.epsilons {
        let Some(intent) = &e.intent else { continue };
        let chains = out.entry(intent.clone()).or_default();
        let mut seen = vec![false; graph.junctions];
        let mut todo = vec![e.to];
        while let Some(j) = todo.pop() {
            if j == END || seen[j] {
                continue;
            }
            seen[j] = true;
            for &(ci, next) in &leaving[j] {
                if let Some(ci) = ci {
                    chains.push(ci);
                }
                todo.push(next);
            }
        }
    }
    for chains in out.values_mut() {
        chains.sort_unstable();
        chains.dedup();
    }
    out
}

/// Each junction's depth over junction → junction epsilons (the graph must be acyclic).
fn levels(j_preds: &[Vec<Pred>]) -> Result<Vec<usize>, GraphError> {
    let n = j_preds.len();
    let mut level = vec![0usize; n];
    for _ in 0..=n {
        let mut changed = false;
        for b in 0..n {
            for p in &j_preds[b] {
                if let Pred::Junction(a) = *p
                    && level[b] <= level[a]
                {
                    level[b] = level[a] + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            return Ok(level);
        }
    }
    Err(GraphError::Cycle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Phonemes 1..=3 ("a", "b", "c"); intent "ab" = a b, intent "ac" = a $x:slot where the slot
    /// phrase is c (value "C").
    fn toy() -> GrammarDecoder {
        let graph = PhonemeGraph {
            junctions: 6,
            chains: vec![
                Chain {
                    from: 0,
                    to: 2,
                    phones: vec![],
                    slot: None,
                },
                Chain {
                    from: 3,
                    to: 4,
                    phones: vec![1, 2],
                    slot: None,
                },
                Chain {
                    from: 5,
                    to: 1,
                    phones: vec![1, 3],
                    slot: Some(("x".into(), "C".into(), "c".into())),
                },
            ],
            epsilons: vec![
                Epsilon {
                    from: 0,
                    to: 2,
                    intent: None,
                },
                Epsilon {
                    from: 2,
                    to: 3,
                    intent: Some("ab".into()),
                },
                Epsilon {
                    from: 4,
                    to: 1,
                    intent: None,
                },
                Epsilon {
                    from: 2,
                    to: 5,
                    intent: Some("ac".into()),
                },
            ],
        };
        GrammarDecoder::new(graph, 3).expect("toy graph")
    }

    /// Log-probabilities that favour `seq` (class per frame) strongly.
    fn frames(seq: &[usize]) -> Vec<f32> {
        let mut out = Vec::new();
        for &k in seq {
            for c in 0..4 {
                out.push(if c == k {
                    (0.9f32).ln()
                } else {
                    (0.1f32 / 3.0).ln()
                });
            }
        }
        out
    }

    #[test]
    fn finds_the_intent_and_slot_said() {
        let d = toy();
        let ab = d.decode(&frames(&[0, 1, 1, 0, 2, 0]));
        assert_eq!(ab.intent.as_deref(), Some("ab"));
        assert!(ab.slots.is_empty());
        assert!(
            ab.gap() > -1e-9,
            "a perfect fit costs nothing: {}",
            ab.gap()
        );
        let ac = d.decode(&frames(&[0, 1, 3, 3, 0]));
        assert_eq!(ac.intent.as_deref(), Some("ac"));
        assert_eq!(ac.slots["x"], ("C".to_string(), "c".to_string()));
    }

    #[test]
    fn out_of_grammar_costs_more() {
        let d = toy();
        let fit = d.decode(&frames(&[0, 1, 2, 0]));
        let off = d.decode(&frames(&[0, 3, 3, 2, 0]));
        assert!(
            off.gap() < fit.gap() - 0.5,
            "{} vs {}",
            off.gap(),
            fit.gap()
        );
    }

    #[test]
    fn too_few_frames_reach_no_end() {
        let d = toy();
        let none = d.decode(&frames(&[1]));
        assert_eq!(none.intent, None);
        assert!(none.score < -1e29);
    }

    /// Frames favouring `seq`, but the third frame torn between classes 2 (0.5) and 3 (0.4).
    fn torn() -> Vec<f32> {
        let mut lp = frames(&[0, 1, 2, 0]);
        lp[8..12].copy_from_slice(&[0.05f32.ln(), 0.05f32.ln(), 0.5f32.ln(), 0.4f32.ln()]);
        lp
    }

    /// The toy graph without some of its epsilons (by index).
    fn toy_without(epsilons: &[usize]) -> GrammarDecoder {
        let mut graph = toy().graph;
        graph.epsilons = graph
            .epsilons
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !epsilons.contains(i))
            .map(|(_, e)| e)
            .collect();
        GrammarDecoder::new(graph, 3).expect("toy graph")
    }

    #[test]
    fn the_margin_is_the_distance_to_the_best_other_meaning() {
        let d = toy();
        let lp = frames(&[0, 1, 1, 0, 2, 0]);
        let ab = d.decode(&lp);
        assert_eq!(ab.intent.as_deref(), Some("ab"));
        // The best path of another meaning is the best path once "ab" cannot be said.
        let other = toy_without(&[1]).decode(&lp);
        assert_eq!(other.intent.as_deref(), Some("ac"));
        let want = (ab.score - other.score) / 6.0;
        let margin = d.margin(&lp, &ab).expect("a margin");
        assert!((margin - want).abs() < 1e-9, "{margin} vs {want}");
        assert!(margin > 0.5, "a clear command stands far apart: {margin}");
        // A frame torn between the last phonemes of the two meanings leaves them close.
        let torn_lp = torn();
        let torn_d = d.decode(&torn_lp);
        let close = d.margin(&torn_lp, &torn_d).expect("a margin");
        assert!(close < margin / 4.0, "{close} vs {margin}");
    }

    #[test]
    fn the_margin_closes_a_decoded_slot_value() {
        let d = toy();
        // "1 3 3", the first 3 torn with 2.
        let mut lp = frames(&[0, 1, 3, 3, 0]);
        lp[8..12].copy_from_slice(&[0.05f32.ln(), 0.05f32.ln(), 0.4f32.ln(), 0.5f32.ln()]);
        let ac = d.decode(&lp);
        assert_eq!(ac.slots.get("x").map(|v| v.0.as_str()), Some("C"));
        let other = toy_without(&[3]).decode(&lp);
        let want = (ac.score - other.score) / 5.0;
        let margin = d.margin(&lp, &ac).expect("a margin");
        assert!(margin < MARGIN_CAP, "{margin}");
        assert!((margin - want).abs() < 1e-9, "{margin} vs {want}");
    }

    #[test]
    fn a_command_nothing_else_can_follow_has_the_cap() {
        let only_ab = toy_without(&[3]);
        let lp = frames(&[0, 1, 1, 0, 2, 0]);
        let ab = only_ab.decode(&lp);
        assert_eq!(only_ab.margin(&lp, &ab), Some(MARGIN_CAP));
        let nothing = toy().decode(&frames(&[1]));
        assert_eq!(nothing.intent, None);
        assert_eq!(toy().margin(&frames(&[1]), &nothing), None);
    }

    #[test]
    fn the_prior_favours_a_class_more_likely_than_usual() {
        let plain = toy();
        assert_eq!(plain.decode(&torn()).intent.as_deref(), Some("ab"));
        // Class 2 is usually likely, class 3 rare: 0.4 for class 3 is the stronger evidence.
        let prior = PhonemePrior {
            scale: 1.0,
            log_prior: vec![0.6f64.ln(), 0.2f64.ln(), 0.15f64.ln(), 0.05f64.ln()],
        };
        let divided = toy().with_prior(&prior).expect("prior").decode(&torn());
        assert_eq!(divided.intent.as_deref(), Some("ac"));
        assert_eq!(divided.slots["x"].0, "C");
    }

    #[test]
    fn a_flat_prior_changes_no_decode() {
        let flat = PhonemePrior {
            scale: 0.8,
            log_prior: vec![0.25f64.ln(); 4],
        };
        for seq in [
            &[0, 1, 1, 0, 2, 0][..],
            &[0, 1, 3, 3, 0],
            &[0, 1, 2, 2, 1, 0],
        ] {
            let (a, b) = (
                toy().decode(&frames(seq)),
                toy().with_prior(&flat).expect("prior").decode(&frames(seq)),
            );
            assert_eq!((&a.intent, &a.slots), (&b.intent, &b.slots));
            assert!(
                (a.gap() - b.gap()).abs() < 1e-9,
                "{} vs {}",
                a.gap(),
                b.gap()
            );
        }
    }

    #[test]
    fn refuses_a_prior_that_does_not_fit() {
        let prior = |scale: f64, log_prior: Vec<f64>| PhonemePrior { scale, log_prior };
        assert_eq!(
            toy().with_prior(&prior(1.0, vec![0.0; 3])).err(),
            Some(GraphError::PriorLength {
                values: 3,
                classes: 4
            })
        );
        for bad in [
            prior(1.0, vec![0.0, 0.0, f64::NAN, 0.0]),
            prior(f64::INFINITY, vec![0.0; 4]),
        ] {
            assert_eq!(
                toy().with_prior(&bad).err(),
                Some(GraphError::PriorNotFinite)
            );
        }
    }

    #[test]
    fn refuses_bad_graphs() {
        let mut g = toy().graph.clone();
        g.chains[1].phones = vec![1, 7];
        assert!(matches!(
            GrammarDecoder::new(g, 3),
            Err(GraphError::Phoneme { phone: 7, .. })
        ));
        let mut g = toy().graph.clone();
        g.epsilons.push(Epsilon {
            from: 3,
            to: 2,
            intent: None,
        });
        assert_eq!(GrammarDecoder::new(g, 3).err(), Some(GraphError::Cycle));
        let mut g = toy().graph.clone();
        g.epsilons[0].to = 9;
        assert!(matches!(
            GrammarDecoder::new(g, 3),
            Err(GraphError::Junction { junction: 9, .. })
        ));
    }
}
