//! Credential formats: provider-specific token shapes plus the generic
//! "secret-like keyword next to a high-entropy value" rule.
//!
//! Formats are taken from the providers' public documentation of their token
//! prefixes (GitHub, GitLab, Slack, Stripe, OpenAI, Anthropic, AWS, …). Every
//! match also has to pass [`plausible_secret`]: placeholders (`<YOUR_KEY>`,
//! `xxxx`), documented example keys, low-entropy strings, hashes and UUIDs
//! are not secrets.

use crate::validate::entropy;

/// One provider-specific credential format.
#[derive(Debug, Clone, Copy)]
pub struct SecretFormat {
    /// Rule name reported as the finding's detector.
    pub name: &'static str,
    /// Regex (ASCII mode) matching the credential.
    pub pattern: &'static str,
}

macro_rules! formats {
    ($($name:literal => $pat:literal,)*) => {
        /// Every provider-specific credential format, in match priority order.
        pub const FORMATS: &[SecretFormat] = &[$(SecretFormat { name: $name, pattern: $pat }),*];
    };
}

formats! {
    "aws_access_key_id" => r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[0-9A-Z]{16}\b",
    "aws_secret_access_key" => r#"(?i)aws_?secret_?(?:access_?)?key["']?\s{0,3}[:=]\s{0,3}["']?[A-Za-z0-9/+]{40}\b"#,
    "gcp_api_key" => r"\bAIza[0-9A-Za-z_-]{35}",
    "gcp_oauth_client_secret" => r"\bGOCSPX-[0-9A-Za-z_-]{28}",
    "google_oauth_access_token" => r"\bya29\.[0-9A-Za-z_-]{30,400}",
    "gcp_service_account_key_id" => r#""private_key_id"\s{0,3}:\s{0,3}"[0-9a-f]{40}""#,
    "azure_storage_account_key" => r"(?i)AccountKey=[A-Za-z0-9+/]{86}==",
    "azure_sas_signature" => r"\bsv=20[0-9]{2}-[0-9]{2}-[0-9]{2}&[A-Za-z0-9&=%:._-]{0,200}?sig=[A-Za-z0-9%]{40,100}",
    "azure_ad_client_secret" => r"\b[0-9A-Za-z_~.-]{3}[0-9]Q~[0-9A-Za-z_~.-]{31,34}",
    "alibaba_access_key_id" => r"\bLTAI[A-Za-z0-9]{12,20}\b",
    "tencent_secret_id" => r"\bAKID[A-Za-z0-9]{32}\b",
    "digitalocean_pat" => r"\bdop_v1_[a-f0-9]{64}\b",
    "digitalocean_oauth" => r"\bdoo_v1_[a-f0-9]{64}\b",
    "heroku_api_key" => r"\bHRKU-[A-Za-z0-9_-]{60}",
    "github_pat" => r"\bghp_[0-9A-Za-z]{36}\b",
    "github_oauth" => r"\bgho_[0-9A-Za-z]{36}\b",
    "github_user_to_server" => r"\bghu_[0-9A-Za-z]{36}\b",
    "github_server_to_server" => r"\bghs_[0-9A-Za-z]{36}\b",
    "github_refresh_token" => r"\bghr_[0-9A-Za-z]{36}\b",
    "github_fine_grained_pat" => r"\bgithub_pat_[0-9A-Za-z_]{82}\b",
    "gitlab_pat" => r"\bglpat-[0-9A-Za-z_-]{20}",
    "gitlab_pipeline_trigger" => r"\bglptt-[0-9a-f]{40}\b",
    "gitlab_runner_token" => r"\bglrt-[0-9A-Za-z_-]{20}",
    "gitlab_deploy_token" => r"\bgldt-[0-9A-Za-z_-]{20}",
    "bitbucket_app_password" => r"\bATBB[A-Za-z0-9_=.-]{32}",
    "atlassian_api_token" => r"\bATATT3[A-Za-z0-9_=-]{180,190}",
    "slack_bot_token" => r"\bxoxb-[0-9]{10,13}-[0-9]{10,13}-[0-9A-Za-z]{24}\b",
    "slack_user_token" => r"\bxoxp-[0-9]{10,13}-[0-9]{10,13}-[0-9]{10,13}-[0-9a-f]{32}\b",
    "slack_legacy_token" => r"\bxox[aors]-[0-9]{10,13}-[0-9A-Za-z-]{10,60}",
    "slack_app_token" => r"\bxapp-1-[A-Z0-9]{9,12}-[0-9]{10,14}-[a-f0-9]{64}\b",
    "slack_webhook" => r"https://hooks\.slack\.com/(?:services|workflows)/T[A-Z0-9]{8,12}/[A-Z0-9]{8,12}/[A-Za-z0-9]{20,30}",
    "discord_webhook" => r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,70}",
    "discord_bot_token" => r"\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}\b",
    "telegram_bot_token" => r"\b[0-9]{8,10}:AA[0-9A-Za-z_-]{33}",
    "teams_webhook" => r"https://[a-z0-9-]{1,40}\.webhook\.office\.com/webhookb2/[0-9a-f-]{36}@[0-9a-f-]{36}/IncomingWebhook/[0-9a-f]{32}/[0-9a-f-]{36}",
    "stripe_secret_key" => r"\bsk_live_[0-9A-Za-z]{24,99}\b",
    "stripe_restricted_key" => r"\brk_live_[0-9A-Za-z]{24,99}\b",
    "stripe_test_secret_key" => r"\bsk_test_[0-9A-Za-z]{24,99}\b",
    "stripe_webhook_secret" => r"\bwhsec_[A-Za-z0-9+/]{32,64}",
    "square_access_token" => r"\bEAAA[A-Za-z0-9_-]{60}\b",
    "square_oauth_secret" => r"\bsq0csp-[0-9A-Za-z_-]{43}",
    "square_legacy_token" => r"\bsq0atp-[0-9A-Za-z_-]{22}",
    "braintree_access_token" => r"\baccess_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32}\b",
    "shopify_access_token" => r"\bshpat_[a-fA-F0-9]{32}\b",
    "shopify_shared_secret" => r"\bshpss_[a-fA-F0-9]{32}\b",
    "shopify_custom_app_token" => r"\bshpca_[a-fA-F0-9]{32}\b",
    "shopify_private_app_token" => r"\bshppa_[a-fA-F0-9]{32}\b",
    "flutterwave_secret_key" => r"\bFLWSECK(?:_TEST)?-[a-hA-H0-9]{32}-X\b",
    "easypost_api_key" => r"\bEZAK[a-zA-Z0-9]{54}\b",
    "shippo_api_token" => r"\bshippo_(?:live|test)_[a-f0-9]{40}\b",
    "anthropic_api_key" => r"\bsk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{80,100}",
    "openai_api_key" => r"\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,160}T3BlbkFJ[A-Za-z0-9_-]{20,160}",
    "openai_project_key" => r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{58,200}",
    "openai_legacy_key" => r"\bsk-[A-Za-z0-9]{48}\b",
    "huggingface_token" => r"\bhf_[A-Za-z]{34}\b",
    "groq_api_key" => r"\bgsk_[A-Za-z0-9]{52}\b",
    "replicate_api_token" => r"\br8_[A-Za-z0-9]{37}\b",
    "perplexity_api_key" => r"\bpplx-[A-Za-z0-9]{48}\b",
    "xai_api_key" => r"\bxai-[A-Za-z0-9]{80}\b",
    "npm_token" => r"\bnpm_[A-Za-z0-9]{36}\b",
    "pypi_token" => r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,200}",
    "crates_io_token" => r"\bcio[A-Za-z0-9]{32}\b",
    "nuget_api_key" => r"\boy2[a-z0-9]{43}\b",
    "rubygems_api_key" => r"\brubygems_[0-9a-f]{48}\b",
    "docker_hub_pat" => r"\bdckr_pat_[A-Za-z0-9_-]{27}",
    "clojars_token" => r"\bCLOJARS_[a-z0-9]{60}\b",
    "sendgrid_api_key" => r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
    "mailgun_api_key" => r"\bkey-[0-9a-z]{32}\b",
    "mailchimp_api_key" => r"\b[0-9a-f]{32}-us[0-9]{1,2}\b",
    "twilio_api_key" => r"\bSK[0-9a-fA-F]{32}\b",
    "new_relic_user_key" => r"\bNRAK-[A-Z0-9]{27}\b",
    "sentry_dsn" => r"https://[0-9a-f]{32}@o?[0-9]{1,10}\.ingest\.(?:[a-z]{2}\.)?sentry\.io/[0-9]{1,12}",
    "sentry_auth_token" => r"\bsntry[su]_[A-Za-z0-9+/=_]{50,200}",
    "grafana_service_account_token" => r"\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}\b",
    "grafana_cloud_token" => r"\bglc_[A-Za-z0-9+/]{32,200}={0,2}",
    "databricks_token" => r"\bdapi[a-f0-9]{32}(?:-[0-9])?\b",
    "dynatrace_token" => r"\bdt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}\b",
    "linear_api_key" => r"\blin_api_[A-Za-z0-9]{40}\b",
    "notion_token" => r"\bntn_[0-9]{11}[A-Za-z0-9]{32,36}\b",
    "figma_pat" => r"\bfigd_[A-Za-z0-9_-]{40}",
    "postman_api_key" => r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b",
    "hashicorp_vault_token" => r"\bhvs\.[A-Za-z0-9_-]{90,120}",
    "terraform_cloud_token" => r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}",
    "doppler_token" => r"\bdp\.pt\.[A-Za-z0-9]{43}\b",
    "pulumi_access_token" => r"\bpul-[a-f0-9]{40}\b",
    "planetscale_token" => r"\bpscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{32,64}",
    "fly_io_token" => r"\bfo1_[A-Za-z0-9_-]{43}",
    "supabase_service_token" => r"\bsbp_[a-f0-9]{40}\b",
    "contentful_pat" => r"\bCFPAT-[A-Za-z0-9_-]{43}",
    "prefect_api_key" => r"\bpnu_[A-Za-z0-9]{36}\b",
    "readme_api_key" => r"\brdme_[a-z0-9]{70}\b",
    "typeform_pat" => r"\btfp_[A-Za-z0-9_.=-]{59}",
    "mapbox_secret_token" => r"\bsk\.eyJ[A-Za-z0-9_-]{50,400}\.[A-Za-z0-9_-]{20,100}",
    "facebook_access_token" => r"\bEAACEdEose0cBA[0-9A-Za-z]{20,200}",
    "firebase_cloud_messaging_key" => r"\bAAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{134}",
    "age_secret_key" => r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}\b",
    "private_key_pem" => r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP |)PRIVATE KEY(?: BLOCK)?-----",
    "putty_private_key" => r"PuTTY-User-Key-File-[23]: ",
    "jwt" => r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,}",
    "http_basic_auth_header" => r"(?i)\bauthorization:\s{0,3}basic\s{1,3}[A-Za-z0-9+/]{16,}={0,2}",
    "http_bearer_auth_header" => r"(?i)\bauthorization:\s{0,3}bearer\s{1,3}[A-Za-z0-9._~+/-]{20,}=*",
}

/// Rule name of the generic keyword + entropy rule.
pub const GENERIC_NAME: &str = "generic_secret_assignment";

/// The generic rule: a secret-like keyword, an assignment, and a value.
/// The value itself is judged by [`generic_value_ok`].
pub const GENERIC_PATTERN: &str = r#"(?i)\b(?:api[_-]?key|apikey|api[_-]?secret|secret[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token|refresh[_-]?token|bearer[_-]?token|private[_-]?key|password|passwd|pwd|passphrase|secret|token|credentials?)["']?\s{0,3}(?:[:=]|=>|:=)\s{0,3}["'`]?[A-Za-z0-9_\-+/=.~!@#$%^&*]{8,200}"#;

/// Documented example credentials that must never be reported.
const DOCUMENTED_EXAMPLES: &[&str] = &[
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
];

/// Words that mark a value as a placeholder or documentation sample.
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "sample",
    "dummy",
    "placeholder",
    "changeme",
    "change_me",
    "your_",
    "your-",
    "yourkey",
    "insert",
    "redacted",
    "xxxx",
    "****",
    "....",
    "<",
    ">",
    "${",
    "{{",
    "%s",
    "todo",
    "fake",
    "test_key",
    "notreal",
    "replace",
];

/// True if `value` looks like a real credential: not a documented example, not
/// a placeholder, not a run of one character, and with enough entropy.
pub fn plausible_secret(value: &str) -> bool {
    !has_marker_or_run(value.as_bytes(), 6) && {
        let min = if value.len() >= 20 { 3.0 } else { 2.5 };
        entropy(value) >= min
    }
}

/// The bit of needle `k` of [`PLACEHOLDER_WORDS`] in [`NEEDLE_LEADS`]; the
/// documented examples take the bits below.
const PLACEHOLDER_BIT: usize = 32;

/// For each byte, a mask of the needles whose first byte it is (`[0]`), and
/// of those whose second byte it is or that have none (`[1]`): a needle can
/// start at a position only if its bit is set in both masks of the two bytes
/// there. Documented examples take bits 0–31 and match exactly; placeholder
/// words take bits 32–63 and are entered under both cases of each letter,
/// so the lookup needs no case folding.
const NEEDLE_LEADS: [[u64; 256]; 2] = {
    let mut t = [[0u64; 256]; 2];
    let mut i = 0;
    while i < DOCUMENTED_EXAMPLES.len() {
        lead_entry(&mut t, DOCUMENTED_EXAMPLES[i].as_bytes(), 1 << i, false);
        i += 1;
    }
    let mut i = 0;
    while i < PLACEHOLDER_WORDS.len() {
        let word = PLACEHOLDER_WORDS[i].as_bytes();
        lead_entry(&mut t, word, 1 << (PLACEHOLDER_BIT + i), true);
        i += 1;
    }
    t
};

const _: () = assert!(DOCUMENTED_EXAMPLES.len() <= PLACEHOLDER_BIT);
const _: () = assert!(PLACEHOLDER_WORDS.len() <= 64 - PLACEHOLDER_BIT);

/// Enters `needle`'s first two bytes (both cases of a letter when `fold`)
/// under `bit` in the lead tables.
const fn lead_entry(t: &mut [[u64; 256]; 2], needle: &[u8], bit: u64, fold: bool) {
    let mut at = 0;
    while at < 2 {
        if at < needle.len() {
            let b = needle[at];
            t[at][b as usize] |= bit;
            if fold {
                t[at][b.to_ascii_uppercase() as usize] |= bit;
                t[at][b.to_ascii_lowercase() as usize] |= bit;
            }
        } else {
            let mut c = 0;
            while c < 256 {
                t[at][c] |= bit;
                c += 1;
            }
        }
        at += 1;
    }
}

/// True when `hay` contains a documented example key (exactly), a
/// placeholder word (ASCII case-insensitively), or a byte repeated `run`
/// times in a row. One pass: at each position the two lead tables leave
/// only the needles whose first two bytes match there to be compared
/// (`str::contains` per needle set up a searcher each time and cost more
/// than the rest of the check; a first-byte test alone let common letters
/// through to a comparison).
fn has_marker_or_run(hay: &[u8], run: usize) -> bool {
    let mut repeated = 1;
    for (i, &b) in hay.iter().enumerate() {
        let next = hay.get(i + 1).copied();
        let mut mask =
            NEEDLE_LEADS[0][usize::from(b)] & NEEDLE_LEADS[1][usize::from(next.unwrap_or(0))];
        if next == Some(b) {
            repeated += 1;
            if repeated >= run {
                return true;
            }
        } else {
            repeated = 1;
        }
        while mask != 0 {
            let k = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let hit = if k < PLACEHOLDER_BIT {
                DOCUMENTED_EXAMPLES
                    .get(k)
                    .is_some_and(|n| hay.get(i..i + n.len()) == Some(n.as_bytes()))
            } else {
                PLACEHOLDER_WORDS.get(k - PLACEHOLDER_BIT).is_some_and(|n| {
                    hay.get(i..i + n.len())
                        .is_some_and(|w| w.eq_ignore_ascii_case(n.as_bytes()))
                })
            };
            if hit {
                return true;
            }
        }
    }
    false
}

/// True for 8-4-4-4-12 hex UUIDs.
pub fn is_uuid(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// True for values that are only hex digits of a common digest length
/// (MD5, SHA-1, SHA-256, SHA-512): digests are not secrets.
pub fn is_hash(v: &str) -> bool {
    matches!(v.len(), 32 | 40 | 64 | 128) && v.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Judges the value of a generic `keyword = value` assignment.
/// Returns the score when it looks like a credential.
pub fn generic_value_ok(value: &str) -> Option<f32> {
    if value.len() < 8 || is_uuid(value) || is_hash(value) {
        return None;
    }
    let lower = value.to_ascii_lowercase();
    // Code, not a value: `password = os.environ[...]`, `token = get_token()`.
    if lower.starts_with("process.")
        || lower.starts_with("os.")
        || lower.starts_with("self.")
        || lower.starts_with("this.")
        || lower.starts_with("env.")
        || lower.starts_with("config.")
        || lower.starts_with("settings.")
        || lower == "null"
        || lower == "none"
        || lower == "true"
        || lower == "false"
        || lower == "undefined"
    {
        return None;
    }
    if !plausible_secret(value) {
        return None;
    }
    let classes = [
        value.bytes().any(|c| c.is_ascii_lowercase()),
        value.bytes().any(|c| c.is_ascii_uppercase()),
        value.bytes().any(|c| c.is_ascii_digit()),
        value.bytes().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    // A plain word, identifier or sentence fragment is not a credential:
    // real keys and passwords mix letters and digits.
    let letters = value.bytes().any(|c| c.is_ascii_alphabetic());
    let digits = value.bytes().any(|c| c.is_ascii_digit());
    if classes < 2 || !letters || !digits {
        return None;
    }
    let e = entropy(value);
    if value.len() >= 16 && e >= 3.5 {
        Some(0.85)
    } else if e >= 3.0 {
        Some(0.7)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy as _;

    #[test]
    fn enough_formats() {
        assert!(FORMATS.len() >= 60, "{}", FORMATS.len());
        let mut names: Vec<_> = FORMATS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FORMATS.len(), "duplicate rule names");
    }

    #[test]
    fn placeholder_scan_is_case_insensitive_and_exact_for_examples() {
        assert!(!plausible_secret("sk_live_R8mK2pQ9xEXAMPLEvN7wT1yH6jB3"));
        assert!(!plausible_secret(
            "ghp_R8mK2pQ9xL4vN7wT1yH6jB3cF5gD0sA2Your_Q"
        ));
        assert!(!plausible_secret("xAKIAIOSFODNN7EXAMPLEx"));
        // An example key's prefix alone is not the example.
        assert!(plausible_secret("AKIAIOSFODNN7EXAMPL3Q9x"));
        assert!(plausible_secret("R8mK2pQ9xL4vN7wT1yH6jB3cF5gD0sA2eZ8u"));
    }

    #[test]
    fn placeholders_are_not_secrets() {
        assert!(!plausible_secret("AKIAIOSFODNN7EXAMPLE"));
        assert!(!plausible_secret(
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        ));
        assert!(!plausible_secret("<YOUR_API_KEY>"));
        assert!(plausible_secret("ghp_R8mK2pQ9xL4vN7wT1yH6jB3cF5gD0sA2eZ8u"));
        // One-byte needles, at the end too; a two-byte one; a mixed-case one.
        assert!(!plausible_secret("R8mK2pQ9xL4vN7wT1yH6jB3cF5gD0s>"));
        assert!(!plausible_secret("R8mK2pQ9xL4v{{N7wT1yH6jB3cF5gD0s"));
        assert!(!plausible_secret("R8mK2pQ9xL4vN7wT1yChAnGeMe3cF5gD0s"));
        assert!(plausible_secret("R8mK2pQ9xL4vN7wT1yH6jB3cF5gD0s"));
    }

    /// The check as first written: a search per needle, then the run and
    /// entropy tests.
    fn plausible_secret_by_search(value: &str) -> bool {
        let lower = value.to_ascii_lowercase();
        if DOCUMENTED_EXAMPLES.iter().any(|n| value.contains(n))
            || PLACEHOLDER_WORDS.iter().any(|n| lower.contains(n))
        {
            return false;
        }
        let b = value.as_bytes();
        if (0..b.len()).any(|i| b[i..].len() >= 6 && b[i..i + 6].iter().all(|&c| c == b[i])) {
            return false;
        }
        entropy(value) >= if value.len() >= 20 { 3.0 } else { 2.5 }
    }

    proptest::proptest! {
        #[test]
        fn one_pass_check_agrees_with_a_search_per_needle(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(DOCUMENTED_EXAMPLES.to_vec()).prop_map(str::to_owned),
                    proptest::sample::select(PLACEHOLDER_WORDS.to_vec())
                        .prop_map(str::to_ascii_uppercase),
                    proptest::sample::select(PLACEHOLDER_WORDS.to_vec()).prop_map(str::to_owned),
                    "[A-Za-z0-9_{}<>%$.*-]{1,12}",
                    "[xX*.aA]{1,8}",
                    // Runs of four to eight of one letter or digit, around the
                    // limit of six.
                    (proptest::sample::select(b"aZ7q".to_vec()), 4usize..9)
                        .prop_map(|(c, n)| char::from(c).to_string().repeat(n)),
                ],
                0..6,
            ),
            cut in 0usize..4,
        ) {
            let joined = parts.concat();
            // Cutting a byte or two off the end leaves needles partly there.
            let value = &joined[..joined.len().saturating_sub(cut)];
            proptest::prop_assert_eq!(
                plausible_secret(value),
                plausible_secret_by_search(value),
                "{:?}",
                value
            );
        }
    }

    #[test]
    fn generic_values() {
        assert!(
            generic_value_ok("hunter2hunter2").is_none(),
            "low entropy word"
        );
        assert!(generic_value_ok("550e8400-e29b-41d4-a716-446655440000").is_none());
        assert!(generic_value_ok("d41d8cd98f00b204e9800998ecf8427e").is_none());
        assert!(generic_value_ok("os.environ").is_none());
        assert!(generic_value_ok("Zx9#kQ2!vR7$mP4w").is_some());
    }
}
