//! Toxicity classifier: lexicon rules + hashed n-gram logistic regression
//! with a second head for identity hate; every finding carries a category.
//!
//! The category of a flagged window is, in order: self-harm or threat when
//! such a rule fired; hate when a hate rule fired or the `hate` head says so;
//! sexual when a sexual-content rule fired; otherwise insult/profanity.

use super::injection::{apply_floor, argmax, to_finding};
use super::linear::{self, Head};
use std::sync::Arc;

use super::model::{self, Features, RuleDef, Rules};
use super::{Category, Reason, Verdict};
use crate::decode::Work;
use crate::{Error, Finding, Kind};

/// Weights trained by `train-classifiers` (see docs/detection.md).
pub const EMBEDDED: &[u8] = include_bytes!("../../models/toxicity.bin");

/// Name of the toxic-vs-not head.
pub const HEAD_TOXIC: &str = "toxic";
/// Name of the hate-vs-other-toxic head.
pub const HEAD_HATE: &str = "hate";

const INSULT: u8 = 1;
const HATE: u8 = 2;
const THREAT: u8 = 3;
const SEXUAL: u8 = 4;
const SELF_HARM: u8 = 5;

/// Lexicon rules, in weight order. Patterns match the normalised,
/// lower-cased, leet-folded text, so `f*ck`-style spellings are listed
/// where folding cannot undo them.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        name: "profanity",
        pattern: r"\b(f+u+c+k+\w*|f\*+c?k\w*|sh[i\*]t+\w*|bullshit|bitch\w*|cunts?|assholes?|arseholes?|bastards?|dickheads?|motherf\w*|wankers?|twats?|piss(ed)? off|goddamn\w*|douche\w*)\b",
        floor: 0.0,
        tag: INSULT,
    },
    RuleDef {
        name: "insult",
        pattern: r"\b(idiots?|stupid|morons?|moronic|dumb(ass)?|loser|imbeciles?|retard(ed|s)?|pathetic|worthless|scum(bag)?|trash|clowns?|jerks?|ugly|fat ?ass|shut up|piece of (shit|garbage|trash))\b",
        floor: 0.0,
        tag: INSULT,
    },
    RuleDef {
        name: "insult_zh",
        pattern: r"(傻逼|傻屄|傻b|煞笔|他妈的|他媽的|操你|肏你|草泥马|草泥馬|贱人|賤人|婊子|王八蛋|混蛋|白痴|白癡|废物|廢物|滚蛋|滾蛋|蠢货|蠢貨|脑残|腦殘|去你的)",
        floor: 0.9,
        tag: INSULT,
    },
    RuleDef {
        name: "hate_slur",
        pattern: r"\b(nigg(er|a|ah|uh)s?|faggots?|fags?|dykes?|kikes?|spics?|chinks?|gooks?|wetbacks?|trann(y|ies)|ragheads?|towelheads?|coons?|beaners?)\b",
        floor: 0.0,
        tag: HATE,
    },
    RuleDef {
        name: "hate_generalisation",
        pattern: r"\b(all|those|these|fucking|filthy|dirty|damn)\s+(jews|muslims|blacks|gays|immigrants|mexicans|arabs|asians|women|refugees|christians|hindus)\s+(are|should|must|need to|deserve)\b",
        floor: 0.0,
        tag: HATE,
    },
    RuleDef {
        name: "hate_zh",
        pattern: r"(支那|黑鬼|死基佬|洋垃圾|阿三|蝗虫|蝗蟲)",
        floor: 0.85,
        tag: HATE,
    },
    RuleDef {
        name: "threat",
        pattern: r"\b(i('ll| will| am going to|'m going to|'m gonna| gonna)|we('ll| will| are going to)|gonna)\s+(kill|murder|shoot|stab|hurt|beat|strangle|rape|find|burn)\s+(you|u|ya|your|him|her|them)\b|\b(you('re| are)|ur) (dead|going to die|gonna die)\b|\b(kill|shoot|stab|hang) (yo)?urself\b|\bi know where you live\b",
        floor: 0.9,
        tag: THREAT,
    },
    RuleDef {
        name: "threat_zh",
        pattern: r"(我要杀了你|我要殺了你|杀了你|殺了你|弄死你|打死你|砍死你|你死定了|我知道你住在哪)",
        floor: 0.9,
        tag: THREAT,
    },
    RuleDef {
        name: "sexual",
        pattern: r"\b(porn\w*|nudes?|naked|blowjobs?|dicks?|cocks?|puss(y|ies)|tits|titties|boobs|cum|horny|sluts?|whores?|hoes?|dildos?|orgasms?|masturbat\w*|rape[ds]?|sexting)\b",
        floor: 0.0,
        tag: SEXUAL,
    },
    RuleDef {
        name: "sexual_zh",
        pattern: r"(色情|裸照|做爱|做愛|性交|淫荡|淫蕩|约炮|約炮)",
        floor: 0.0,
        tag: SEXUAL,
    },
    RuleDef {
        name: "self_harm",
        pattern: r"\b(kill(ing)? myself|end(ing)? my (own )?life|suicid(e|al)|want to die|wanna die|self[- ]harm(ing)?|cut(ting)? myself|hurt(ing)? myself|overdose on)\b",
        floor: 0.85,
        tag: SELF_HARM,
    },
    RuleDef {
        name: "self_harm_zh",
        pattern: r"(自杀|自殺|不想活|想死|割腕|自残|自殘|结束自己的生命|結束自己的生命)",
        floor: 0.85,
        tag: SELF_HARM,
    },
];

/// Detector names per category (static so findings need no allocation).
fn detector(c: Category) -> &'static str {
    match c {
        Category::Insult => "toxicity.insult",
        Category::Hate => "toxicity.hate",
        Category::Threat => "toxicity.threat",
        Category::Sexual => "toxicity.sexual",
        Category::SelfHarm => "toxicity.self_harm",
    }
}

/// The toxicity classifier.
#[derive(Debug)]
pub struct ToxicityClassifier {
    rules: Rules,
    heads: Vec<Head>,
}

impl ToxicityClassifier {
    /// Loads the weights compiled into the crate.
    pub fn load_embedded() -> Result<ToxicityClassifier, Error> {
        ToxicityClassifier::from_bytes(EMBEDDED)
    }

    /// Loads weights from bytes in the format of [`super::linear`].
    pub fn from_bytes(bytes: &[u8]) -> Result<ToxicityClassifier, Error> {
        let rules = Rules::new(RULES)?;
        let mut heads = linear::decode(bytes)?;
        model::check_heads(&heads, &rules, &[HEAD_TOXIC, HEAD_HATE])?;
        // Fixed order: toxic, hate.
        heads.sort_by_key(|h| h.name != HEAD_TOXIC);
        heads.truncate(2);
        Ok(ToxicityClassifier { rules, heads })
    }

    /// The shipped decision threshold on [`Verdict::score`].
    pub fn threshold(&self) -> f32 {
        self.heads[0].threshold
    }

    /// Scores `text`: the highest window, its category and reasons.
    pub fn score(&self, text: &str) -> Verdict {
        self.run(text, None, &mut Work::default(), false).1
    }

    /// [`Self::score`], also counting the work done.
    pub fn score_with_work(&self, text: &str, work: &mut Work) -> Verdict {
        self.run(text, None, work, false).1
    }

    /// Findings of kind `toxicity` at the shipped threshold, one per run of
    /// flagged windows, detector `toxicity.<category>`.
    pub fn findings(&self, text: &str) -> Vec<Finding> {
        self.run(text, None, &mut Work::default(), true).0
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
        self.heads[0].bits
    }

    /// [`Self::findings`], also counting the work done.
    pub fn findings_with_work(&self, text: &str, work: &mut Work) -> Vec<Finding> {
        self.run(text, None, work, true).0
    }

    /// Scores `text` and returns either its findings (`want_findings`) or
    /// its verdict, never both: every caller wants one of them, and the
    /// best window's verdict quotes n-grams, which findings of a benign
    /// text do not need.
    fn run(
        &self,
        text: &str,
        feats: Option<Arc<Features>>,
        work: &mut Work,
        want_findings: bool,
    ) -> (Vec<Finding>, Verdict) {
        let scored = match feats {
            Some(f) => model::score_features(f, &self.rules, &self.heads, work),
            None => model::score_all(text, &self.rules, &self.heads, work),
        };
        let thr = self.threshold();
        let scores: Vec<f32> = (0..scored.windows.len())
            .map(|w| apply_floor(scored.probs[0][w], scored.floor(&self.rules, w), thr))
            .collect();
        let Some(best_w) = argmax(&scores) else {
            return (Vec::new(), Verdict::default());
        };
        if !want_findings {
            return (Vec::new(), self.verdict(&scored, best_w, scores[best_w]));
        }
        let mut findings = Vec::new();
        for (a, z, b) in model::flagged_runs(&scores, thr) {
            let (s, e) = (scored.windows[a].0, scored.windows[z].1);
            let v = self.verdict(&scored, b, scores[b]);
            if let Some(f) = to_finding(Kind::Toxicity, &scored.features.prepared, s, e, &v) {
                findings.push(f);
            }
        }
        (findings, Verdict::default())
    }

    fn category(&self, scored: &model::Scored, w: usize) -> Category {
        let (s, e) = scored.windows[w];
        let mut tags = 0u8;
        for h in scored.hits.iter().filter(|h| h.start >= s && h.start < e) {
            if let Some(d) = self.rules.defs.get(usize::from(h.rule)) {
                tags |= 1 << d.tag;
            }
        }
        let hate_head = scored
            .probs
            .get(1)
            .and_then(|p| p.get(w))
            .is_some_and(|&p| p >= self.heads.get(1).map_or(1.0, |h| h.threshold));
        if tags & (1 << SELF_HARM) != 0 {
            Category::SelfHarm
        } else if tags & (1 << THREAT) != 0 {
            Category::Threat
        } else if tags & (1 << HATE) != 0 || hate_head {
            Category::Hate
        } else if tags & (1 << SEXUAL) != 0 {
            Category::Sexual
        } else {
            Category::Insult
        }
    }

    fn verdict(&self, scored: &model::Scored, w: usize, score: f32) -> Verdict {
        let category = self.category(scored, w);
        let mut reasons: Vec<Reason> = scored
            .rule_names(&self.rules, w)
            .into_iter()
            .map(Reason::Rule)
            .collect();
        // Quoting n-grams costs a pass over the window: only for flagged
        // windows, where someone will read the reason.
        let grams = if score >= self.threshold() {
            scored.top_ngrams(&self.heads[0], w, 3)
        } else {
            Vec::new()
        };
        for (text, weight) in grams {
            reasons.push(Reason::Ngram { text, weight });
        }
        let (s, e) = scored.windows[w];
        let flagged = score >= self.threshold();
        Verdict {
            score,
            flagged,
            reasons,
            category: flagged.then_some(category),
            span: scored.features.prepared.to_input_span(s, e),
            detector: detector(category),
        }
    }
}
