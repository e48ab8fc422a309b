//! Prompt-injection and jailbreak classifier: rule features + hashed n-gram
//! logistic regression, windowed, plus decoding of embedded payloads.

use std::borrow::Cow;

use super::linear::{self, Head};
use std::sync::Arc;

use regex_automata::Input;
use regex_automata::meta::Regex;

use super::model::{self, Features, RuleDef, Rules};
use super::{Reason, Verdict};
use crate::decode::{self, Limits, Prepared, Work};
use crate::{Error, Finding, Kind};

/// Weights trained by `train-classifiers` (see docs/detection.md).
pub const EMBEDDED: &[u8] = include_bytes!("../../models/injection.bin");

/// Head name inside the weights file.
pub const HEAD: &str = "injection";

/// Tag of rules that state an instruction to the model (used to decide
/// whether a decoded payload is an instruction).
pub const TAG_INSTRUCTION: u8 = 1;

const I: u8 = TAG_INSTRUCTION;

/// Floor when two distinct instruction rules hit one window.
const COMBINED_FLOOR: f32 = 0.9;

/// Rule features, in weight order. Changing this table changes the
/// fingerprint, so old weights are refused until retrained.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        name: "instruction_override",
        pattern: r"\b(ignore|disregard|forget|skip|override|bypass|neglect|abandon|drop)\b[^.\n]{0,40}\b(previous|prior|above|earlier|preceding|initial|original|system|all|any|your|these|those)\b[^.\n]{0,30}\b(instructions?|prompts?|rules|directions?|guidelines|commands?|context|tasks?|directives?|constraints|programming|restrictions)\b",
        floor: 0.0,
        tag: I,
    },
    RuleDef {
        name: "instruction_override_de",
        pattern: r"\b(ignorier\w*|vergiss|vergessen sie|missachte\w*)\b[^.\n]{0,40}\b(alle\w*|vorherige\w*|bisherige\w*|obige\w*|anweisungen|aufgaben|instruktionen|befehle)\b",
        floor: 0.0,
        tag: I,
    },
    RuleDef {
        name: "instruction_override_zh",
        pattern: r"(忽略|无视|無視|忘记|忘記|忘掉|不要理会|不要理會|别管|別管|跳过|跳過|覆盖|覆蓋|放弃|放棄)[^。\n]{0,12}(之前|以前|先前|上面|上述|前面|所有|全部|原有|原来|原來|系统|系統|你的)[^。\n]{0,10}(指令|指示|说明|說明|命令|规则|規則|提示|设定|設定|要求|限制)",
        floor: 0.92,
        tag: I,
    },
    RuleDef {
        name: "new_instructions",
        pattern: r"\b(new|updated|real|actual|true|secret|hidden|additional)\s+(instructions?|tasks?|rules|directives?|system prompt|orders)\s*[:：]|\bfrom now on\b|\binstead,? (you will|you must|respond|say|output|print)",
        floor: 0.0,
        tag: I,
    },
    RuleDef {
        name: "persona_switch",
        pattern: r"\b(you are now|you're now|you will now be|pretend (to be|you are|you're)|roleplay as|role-play as|you are going to (act|pretend|play)|act as (if you (are|were) )?(an? )?(unrestricted|unfiltered|uncensored|evil|jailbroken|amoral|rogue)|stay in character|du bist (jetzt|nun))\b",
        floor: 0.0,
        tag: I,
    },
    RuleDef {
        name: "persona_switch_zh",
        pattern: r"(你现在是|你現在是|从现在开始|從現在開始|从现在起|從現在起|假装你是|假裝你是|扮演一个|扮演一個|你不再是)",
        floor: 0.0,
        tag: I,
    },
    RuleDef {
        name: "developer_mode",
        pattern: r"\b(developer|dev|god|debug|admin|maintenance|jailbreak|unrestricted|dan|sudo)\s+mode\b|\bdo anything now\b|\bjailbr(eak|oken)\b|\b(dan|stan|dude|aim)\s*[:：]",
        floor: 0.0,
        tag: I,
    },
    RuleDef {
        name: "developer_mode_zh",
        pattern: r"(开发者模式|開發者模式|越狱|越獄|无限制模式|無限制模式|上帝模式|调试模式|調試模式)",
        floor: 0.0,
        tag: I,
    },
    RuleDef {
        name: "system_prompt_request",
        pattern: r"\b(reveal|show|print|repeat|output|display|tell me|give me|leak|dump|share|disclose|write out|what (is|are|was|were))\b[^.\n]{0,30}\b(your|the|its)\s+(system|initial|original|hidden|secret|internal|confidential|full)\s+(prompt|instructions?|message|rules|configuration|guidelines)",
        floor: 0.0,
        tag: I,
    },
    RuleDef {
        name: "system_prompt_request_zh",
        pattern: r"(显示|顯示|输出|輸出|告诉我|告訴我|泄露|洩露|重复|重複|打印|给我|給我|把你的|把你收到的)[^。\n]{0,10}(系统提示|系統提示|系统指令|系統指令|初始指令|隐藏指令|隱藏指令|系统设定|系統設定|提示词|提示詞)|(系统提示|系統提示|系统指令|系統指令|隐藏指令|隱藏指令|提示词|提示詞)[^。\n]{0,12}(重复|重複|显示|顯示|输出|輸出|打印|告诉我|告訴我)",
        floor: 0.9,
        tag: I,
    },
    RuleDef {
        name: "refusal_suppression",
        pattern: r"\b(do not|don't|never|you (must|will|can|should) not|you cannot|you can't)\s+(refuse|decline|apologi[sz]e|say (that )?(you|it) can|mention (that|any|your)|warn|add (any )?(warnings?|disclaimers?)|include (any )?(warnings?|disclaimers?))|\b(no|without (any)?)\s*(restrictions|limitations|filters|filtering|censorship|ethical|moral|safety) ?(guidelines|constraints|rules|limits|boundaries)?\b",
        floor: 0.0,
        tag: I,
    },
    RuleDef {
        name: "refusal_suppression_zh",
        pattern: r"(不要拒绝|不要拒絕|不得拒绝|不得拒絕|不能拒绝|不能拒絕|没有任何限制|沒有任何限制|不受任何限制|无需遵守|無需遵守|不用遵守|不必遵守|不受道德|没有道德|沒有道德)",
        floor: 0.0,
        tag: I,
    },
    RuleDef {
        name: "delimiter_attack",
        pattern: r"</?(system|im_start|im_end|instructions?|sys)>|<\|(im_start|im_end|system|endoftext|start_header_id)\|>|\[/?(inst|system|sys)\]|#{2,}\s*(system|instructions?|new instructions?|admin)\b|(-{3,}|={3,})\s*(end|begin)\s+(of\s+)?(system|prompt|instructions?|context|document)|\bend of (system )?prompt\b",
        floor: 0.0,
        tag: 0,
    },
    RuleDef {
        name: "indirect_injection_marker",
        pattern: r"\b(note|message|instructions?|attention|important) (to|for) (the |any )?(ai|assistant|llm|model|chatbot|agent|language model)\b|\bif you are an? (ai|llm|language model|assistant|ai assistant|agent)\b|\b(ai|assistant|model|agent)s? (reading|processing|summari[sz]ing|parsing) this\b|\bwhen (the |an )?(ai|assistant|model|agent) (reads|processes|sees|summari[sz]es) this\b",
        floor: 0.0,
        tag: I,
    },
    RuleDef {
        name: "indirect_injection_marker_zh",
        pattern: r"(给|給|致)(ai|人工智能|助手|模型|语言模型|語言模型)的?(提示|指令|消息|訊息)|如果你是(ai|人工智能|语言模型|語言模型|助手)",
        floor: 0.9,
        tag: I,
    },
    RuleDef {
        name: "exfiltration",
        pattern: r"\b(send|post|forward|upload|exfiltrate|email|transmit|append)\b[^.\n]{0,50}\b(to|at)\b[^.\n]{0,30}(https?://|www\.|\S+@\S+\.)|!\[[^\]\n]{0,40}\]\(https?://[^)\s]{0,200}[?&=]",
        floor: 0.0,
        tag: I,
    },
];

/// The prompt-injection / jailbreak classifier.
#[derive(Debug)]
pub struct InjectionClassifier {
    rules: Rules,
    /// Match wherever an instruction rule would match the ROT13 view (see
    /// [`model::rot13_screen`]).
    rot13_screen: Vec<Regex>,
    head: Head,
    limits: Limits,
}

impl InjectionClassifier {
    /// Loads the weights compiled into the crate.
    pub fn load_embedded() -> Result<InjectionClassifier, Error> {
        InjectionClassifier::from_bytes(EMBEDDED)
    }

    /// Loads weights from bytes in the format of [`super::linear`].
    pub fn from_bytes(bytes: &[u8]) -> Result<InjectionClassifier, Error> {
        let rules = Rules::new(RULES)?;
        let heads = linear::decode(bytes)?;
        model::check_heads(&heads, &rules, &[HEAD])?;
        let head = heads
            .into_iter()
            .find(|h| h.name == HEAD)
            .ok_or(Error::Model("a required head is missing"))?;
        let instruction: Vec<RuleDef> = RULES
            .iter()
            .filter(|d| d.tag == TAG_INSTRUCTION)
            .copied()
            .collect();
        Ok(InjectionClassifier {
            rules,
            rot13_screen: model::rot13_screen(&instruction)?,
            head,
            limits: Limits::default(),
        })
    }

    /// The shipped decision threshold on [`Verdict::score`].
    pub fn threshold(&self) -> f32 {
        self.head.threshold
    }

    /// The compiled rule table (used by the trainer).
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Scores `text`: the highest window score, with reasons.
    pub fn score(&self, text: &str) -> Verdict {
        let mut work = Work::default();
        self.score_with_work(text, &mut work)
    }

    /// [`Self::score`], also counting the work done.
    pub fn score_with_work(&self, text: &str, work: &mut Work) -> Verdict {
        let (mut findings, verdict) = self.run(text, None, work, false);
        findings.clear();
        verdict
    }

    /// Findings of kind `prompt_injection` at the shipped threshold: one per
    /// run of flagged windows, and one per decoded payload that is an
    /// instruction.
    pub fn findings(&self, text: &str) -> Vec<Finding> {
        let mut work = Work::default();
        self.run(text, None, &mut work, true).0
    }

    /// [`Self::findings`] on features already extracted from `text` (the
    /// scanner extracts them once for both classifiers).
    pub fn findings_with_features(
        &self,
        text: &str,
        feats: Arc<Features>,
        work: &mut Work,
    ) -> Vec<Finding> {
        self.run(text, Some(feats), work, true).0
    }

    /// Hash size of the weights (log2).
    pub fn bits(&self) -> u8 {
        self.head.bits
    }

    /// [`Self::findings`], also counting the work done.
    pub fn findings_with_work(&self, text: &str, work: &mut Work) -> Vec<Finding> {
        self.run(text, None, work, true).0
    }

    /// Scores `text` and returns either its findings (`want_findings`) or
    /// its verdict, never both: every caller wants one of them, and the
    /// verdict of the best window, with its quoted n-grams, costs about a
    /// fifth of the whole run on a benign text.
    fn run(
        &self,
        text: &str,
        feats: Option<Arc<Features>>,
        work: &mut Work,
        want_findings: bool,
    ) -> (Vec<Finding>, Verdict) {
        let heads = std::slice::from_ref(&self.head);
        let scored = match feats {
            Some(f) => model::score_features(f, &self.rules, heads, work),
            None => model::score_all(text, &self.rules, heads, work),
        };
        let thr = self.head.threshold;
        let mut best = Verdict::default();
        let mut findings: Vec<Finding> = Vec::new();
        let scores: Vec<f32> = (0..scored.windows.len())
            .map(|w| apply_floor(scored.probs[0][w], self.floor(&scored, w), thr))
            .collect();
        if !want_findings && let Some(w) = argmax(&scores) {
            best = self.verdict(&scored, w, scores[w], "injection_linear");
        }
        if want_findings {
            for (a, z, b) in model::flagged_runs(&scores, thr) {
                let (s, e) = (scored.windows[a].0, scored.windows[z].1);
                let v = self.verdict(&scored, b, scores[b], "injection_linear");
                if let Some(f) =
                    to_finding(Kind::PromptInjection, &scored.features.prepared, s, e, &v)
                {
                    findings.push(f);
                }
            }
        }
        // Encoded payloads: decode and score what is inside.
        let mut payloads = decode::payloads(text, &self.limits, work);
        payloads.extend(self.rot13_payloads(&scored.features.prepared, work));
        for p in payloads {
            let inner = model::score_all(&p.text, &self.rules, heads, work);
            let instruction = inner.hits.iter().any(|h| {
                self.rules.defs.get(usize::from(h.rule)).map(|d| d.tag) == Some(TAG_INSTRUCTION)
            });
            let Some(w) = argmax(&inner.probs[0]) else {
                continue;
            };
            let prob = apply_floor(inner.probs[0][w], self.floor(&inner, w), thr);
            if !(instruction || prob >= thr) {
                continue;
            }
            let score = if instruction { prob.max(0.95) } else { prob };
            let mut v = self.verdict(&inner, w, score, "decoded_instruction");
            v.reasons.insert(
                0,
                Reason::Decoded {
                    scheme: p.scheme.clone(),
                },
            );
            v.span = Some((p.start, p.end));
            if !want_findings && v.score > best.score {
                best = v.clone();
            }
            if want_findings {
                findings.push(Finding {
                    kind: Kind::PromptInjection,
                    start: p.start,
                    end: p.end,
                    score: v.score,
                    detector: Cow::Borrowed("decoded_instruction"),
                    reason: v.reason_string().into(),
                });
            }
        }
        best.flagged = best.score >= thr;
        (findings, best)
    }

    /// Instruction-rule hits that only the ROT13 view of `prepared` has, as
    /// payloads over the input. The view is built and searched only when a
    /// screen matches; otherwise no instruction rule can match it.
    fn rot13_payloads(&self, prepared: &Prepared, work: &mut Work) -> Vec<decode::Payload> {
        let plain = prepared.text.as_str();
        if !self
            .rot13_screen
            .iter()
            .any(|screen| screen.is_match(Input::new(plain)))
        {
            return Vec::new();
        }
        let rot = decode::rot13(plain, work);
        self.rules
            .hits(&rot, work)
            .into_iter()
            .filter_map(|h| {
                // Only hits that ROT13 created (Chinese and digits are
                // unchanged by it, so their hits are already in the plain
                // view).
                let changed = rot.get(h.start..h.end) != plain.get(h.start..h.end);
                let instruction = self.rules.defs.get(usize::from(h.rule)).map(|d| d.tag)
                    == Some(TAG_INSTRUCTION);
                if !(changed && instruction) {
                    return None;
                }
                let (start, end) = prepared.to_input_span(h.start, h.end)?;
                Some(decode::Payload {
                    start,
                    end,
                    scheme: "rot13".into(),
                    text: rot.get(h.start..h.end).unwrap_or("").to_owned(),
                })
            })
            .collect()
    }

    /// Rule floor of a window: the highest floor of its rules, and 0.9
    /// when two different instruction rules fire together (an override plus
    /// a persona switch, say), which benign text almost never does.
    fn floor(&self, scored: &model::Scored, w: usize) -> f32 {
        let combo = if scored.distinct_with_tag(&self.rules, w, TAG_INSTRUCTION) >= 2 {
            COMBINED_FLOOR
        } else {
            0.0
        };
        scored.floor(&self.rules, w).max(combo)
    }

    fn verdict(
        &self,
        scored: &model::Scored,
        w: usize,
        score: f32,
        detector: &'static str,
    ) -> Verdict {
        let mut reasons: Vec<Reason> = scored
            .rule_names(&self.rules, w)
            .into_iter()
            .map(Reason::Rule)
            .collect();
        // Quoting n-grams costs a pass over the window: only for flagged
        // windows, where someone will read the reason.
        let grams = if score >= self.threshold() {
            scored.top_ngrams(&self.head, w, 3)
        } else {
            Vec::new()
        };
        for (text, weight) in grams {
            reasons.push(Reason::Ngram { text, weight });
        }
        let (s, e) = scored.windows[w];
        Verdict {
            score,
            flagged: score >= self.head.threshold,
            reasons,
            category: None,
            span: scored.features.prepared.to_input_span(s, e),
            detector,
        }
    }
}

/// A rule with a floor is decisive: its window scores at least the floor
/// and at least the threshold, so it is always flagged.
pub(super) fn apply_floor(prob: f32, floor: f32, threshold: f32) -> f32 {
    if floor > 0.0 {
        prob.max(floor).max(threshold)
    } else {
        prob
    }
}

pub(super) fn argmax(v: &[f32]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, x) in v.iter().enumerate() {
        if best.is_none_or(|b| *x > v[b]) {
            best = Some(i);
        }
    }
    best
}

pub(super) fn to_finding(
    kind: Kind,
    prepared: &decode::Prepared,
    s: usize,
    e: usize,
    v: &Verdict,
) -> Option<Finding> {
    let (a, b) = prepared.to_input_span(s, e)?;
    Some(Finding {
        kind,
        start: a,
        end: b,
        score: v.score,
        detector: Cow::Borrowed(v.detector),
        reason: v.reason_string().into(),
    })
}
