//! The pattern rules for personal data: one regex per format, the validator
//! that must accept a candidate, the base score and the context words that
//! raise it. All regexes run together in one multi-pattern pass (see
//! `engine`). Patterns are compiled in ASCII mode; `\b` is an ASCII word
//! boundary, so CJK text right next to a value still counts as a boundary.

use crate::context::group::*;
use crate::finding::Kind;

/// Which validator a candidate must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// E-mail address structure.
    Email,
    /// `scheme://user:password@` (password reported).
    UrlCredentials,
    /// IBAN country length + mod 97.
    Iban,
    /// Luhn + issuer range.
    Card,
    /// Luhn only, 13–19 digits (context-gated: a card word is near).
    CardAnyIssuer,
    /// China resident ID MOD 11-2.
    ChinaId,
    /// HKID check digit.
    Hkid,
    /// Macau ID (format only).
    MacauId,
    /// Taiwan ID checksum.
    TaiwanId,
    /// Singapore NRIC/FIN check letter.
    SgNric,
    /// UK NINO prefix rules.
    UkNino,
    /// US SSN ranges, or ITIN when it starts with 9.
    SsnOrItin,
    /// Phone with an explicit international prefix: 8–15 digits.
    PhoneIntl,
    /// North American number.
    PhoneNanp,
    /// National phone number: digit count 8–12.
    PhoneNational,
    /// IPv4 (not part of a longer dotted number).
    Ipv4,
    /// IPv6 (parsed by the standard library).
    Ipv6,
    /// MAC address.
    Mac,
    /// Bitcoin base58check.
    Base58,
    /// Bitcoin bech32/bech32m.
    Bech32,
    /// Ethereum address.
    Eth,
    /// Street address core; the tail is extended afterwards.
    Address,
    /// Hong Kong flat/floor prefix; the rest is extended afterwards.
    HkAddress,
    /// Provider-specific credential.
    Secret,
    /// PEM private key header; the span is extended to the END line.
    Pem,
    /// Keyword = high-entropy value.
    GenericSecret,
    /// Passport number (context-gated).
    Passport,
    /// Date (context-gated).
    Dob,
    /// Bank account number (context-gated).
    BankAccount,
    /// NHS number mod 11 (context-gated).
    Nhs,
    /// Bare 9-digit SSN (context-gated).
    SsnBare,
}

/// What the first byte of a match can be; used to find which other rules can
/// start at the same position when a candidate is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lead {
    /// An ASCII digit.
    Digit,
    /// An ASCII letter.
    Alpha,
    /// Any byte.
    Any,
}

impl Lead {
    /// True if a match of this rule could start with byte `b`.
    pub fn admits(self, b: u8) -> bool {
        match self {
            Lead::Digit => b.is_ascii_digit(),
            Lead::Alpha => b.is_ascii_alphabetic(),
            Lead::Any => true,
        }
    }
}

/// One pattern rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Detector name reported in findings.
    pub name: &'static str,
    /// Kind reported (the validator may refine it, e.g. SSN → ITIN).
    pub kind: Kind,
    /// Regex in ASCII mode.
    pub pattern: &'static str,
    /// Validator.
    pub check: Check,
    /// Base score before context.
    pub score: f32,
    /// Context groups that raise the score.
    pub ctx: u32,
    /// First-byte class.
    pub lead: Lead,
}

const fn r(
    name: &'static str,
    kind: Kind,
    pattern: &'static str,
    check: Check,
    score: f32,
    ctx: u32,
    lead: Lead,
) -> Rule {
    Rule {
        name,
        kind,
        pattern,
        check,
        score,
        ctx,
        lead,
    }
}

/// Personal-data rules in priority order (earlier wins at the same start).
pub const PII_RULES: &[Rule] = &[
    r(
        "url_credentials",
        Kind::Secret,
        r"\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[A-Za-z0-9._~%!$&'()*+,;=-]{1,64}:[A-Za-z0-9._~%!$&'()*+,;=#-]{1,128}@",
        Check::UrlCredentials,
        0.9,
        SECRET,
        Lead::Alpha,
    ),
    r(
        "email",
        Kind::Email,
        r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,200}[A-Za-z0-9])?\.[A-Za-z]{2,24}\b",
        Check::Email,
        0.95,
        EMAIL,
        Lead::Any,
    ),
    r(
        "iban",
        Kind::Iban,
        r"\b[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,4})?\b",
        Check::Iban,
        0.95,
        BANK,
        Lead::Alpha,
    ),
    r(
        "phone_hk_intl",
        Kind::Phone,
        r"(?:\+852|\(852\)|\b00852) ?-?[2-9][0-9]{3}[ -]?[0-9]{4}\b",
        Check::PhoneIntl,
        0.9,
        PHONE,
        Lead::Any,
    ),
    r(
        "phone_cn_intl",
        Kind::Phone,
        r"(?:\+86|\(86\)|\b0086) ?-?1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}\b",
        Check::PhoneIntl,
        0.9,
        PHONE,
        Lead::Any,
    ),
    r(
        "phone_uk_intl",
        Kind::Phone,
        r"\+44 ?(?:\(0\) ?)?[1-9][0-9]{1,4}[ -]?[0-9]{3,4}[ -]?[0-9]{3,4}\b",
        Check::PhoneIntl,
        0.9,
        PHONE,
        Lead::Any,
    ),
    r(
        "phone_nanp_intl",
        Kind::Phone,
        r"(?:\+1|\b001)[ .-]?\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4}(?: ?(?:x|ext\.?) ?[0-9]{1,5})?\b",
        Check::PhoneIntl,
        0.85,
        PHONE,
        Lead::Any,
    ),
    r(
        "phone_e164",
        Kind::Phone,
        r"\+[1-9][0-9]{0,3}[ .-]?(?:\(0\) ?)?\(?[0-9]{1,4}\)?(?:[ .-]?[0-9]{2,4}){2,4}\b",
        Check::PhoneIntl,
        0.75,
        PHONE,
        Lead::Any,
    ),
    r(
        "phone_nanp_paren",
        Kind::Phone,
        r"\([0-9]{3}\) ?[0-9]{3}[ .-]?[0-9]{4}(?: ?(?:x|ext\.?) ?[0-9]{1,5})?\b",
        Check::PhoneNanp,
        0.8,
        PHONE,
        Lead::Any,
    ),
    r(
        "china_id",
        Kind::ChinaId,
        r"\b[1-8][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]\b",
        Check::ChinaId,
        0.95,
        ID,
        Lead::Digit,
    ),
    r(
        "credit_card_amex",
        Kind::CreditCard,
        r"\b3[47][0-9]{2}[ -]?[0-9]{6}[ -]?[0-9]{5}\b",
        Check::Card,
        0.9,
        CARD,
        Lead::Digit,
    ),
    r(
        "credit_card_diners",
        Kind::CreditCard,
        r"\b3[0-9]{3}[ -]?[0-9]{6}[ -]?[0-9]{4}\b",
        Check::Card,
        0.9,
        CARD,
        Lead::Digit,
    ),
    r(
        "credit_card",
        Kind::CreditCard,
        r"\b[0-9]{4}(?:[ -]?[0-9]{4}){2,3}(?:[ -]?[0-9]{1,3})?\b",
        Check::Card,
        0.9,
        CARD,
        Lead::Digit,
    ),
    r(
        "credit_card_plain",
        Kind::CreditCard,
        r"\b[0-9]{12,19}\b",
        Check::Card,
        0.85,
        CARD,
        Lead::Digit,
    ),
    r(
        "us_ssn",
        Kind::UsSsn,
        r"\b[0-9]{3}(?:-[0-9]{2}-| [0-9]{2} )[0-9]{4}\b",
        Check::SsnOrItin,
        0.8,
        TAX,
        Lead::Digit,
    ),
    r(
        "phone_cn_mobile",
        Kind::Phone,
        r"\b1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}\b",
        Check::PhoneNational,
        0.6,
        PHONE,
        Lead::Digit,
    ),
    r(
        "phone_nanp",
        Kind::Phone,
        r"\b(?:1[ .-])?[0-9]{3}[ .-][0-9]{3}[ .-][0-9]{4}(?: ?(?:x|ext\.?) ?[0-9]{1,5})?\b",
        Check::PhoneNanp,
        0.7,
        PHONE,
        Lead::Digit,
    ),
    r(
        "phone_uk_mobile",
        Kind::Phone,
        r"\b07[0-9]{3} ?[0-9]{6}\b",
        Check::PhoneNational,
        0.7,
        PHONE,
        Lead::Digit,
    ),
    r(
        "phone_uk_landline",
        Kind::Phone,
        r"\b0[1-9][0-9]{1,3} ?[0-9]{3,4} ?[0-9]{4}\b",
        Check::PhoneNational,
        0.5,
        PHONE,
        Lead::Digit,
    ),
    r(
        "phone_hk",
        Kind::Phone,
        r"\b[235679][0-9]{3}[ -]?[0-9]{4}\b",
        Check::PhoneNational,
        0.45,
        PHONE,
        Lead::Digit,
    ),
    r(
        "hkid",
        Kind::Hkid,
        r"\b[A-Z]{1,2}[0-9]{6}(?: ?\([0-9A]\)|[0-9A]\b)",
        Check::Hkid,
        0.85,
        ID,
        Lead::Alpha,
    ),
    r(
        "macau_id",
        Kind::MacauId,
        r"\b[1578][0-9]{6} ?\([0-9]\)",
        Check::MacauId,
        0.6,
        ID | MACAU,
        Lead::Digit,
    ),
    r(
        "taiwan_id",
        Kind::TaiwanId,
        r"\b[A-Z][1289][0-9]{8}\b",
        Check::TaiwanId,
        0.85,
        ID,
        Lead::Alpha,
    ),
    r(
        "sg_nric",
        Kind::SgNric,
        r"\b[STFGMstfgm][0-9]{7}[A-Za-z]\b",
        Check::SgNric,
        0.85,
        ID,
        Lead::Alpha,
    ),
    r(
        "uk_nino",
        Kind::UkNino,
        r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b",
        Check::UkNino,
        0.85,
        ID | TAX,
        Lead::Alpha,
    ),
    r(
        "mac_address",
        Kind::MacAddress,
        r"(?i)\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b|\b[0-9a-f]{2}(?:-[0-9a-f]{2}){5}\b|\b[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}\b",
        Check::Mac,
        0.8,
        NET,
        Lead::Any,
    ),
    r(
        "ipv4",
        Kind::IpAddress,
        r"\b(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}\b",
        Check::Ipv4,
        0.75,
        NET,
        Lead::Digit,
    ),
    r(
        "ipv6",
        Kind::IpAddress,
        r"(?i)\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3})?",
        Check::Ipv6,
        0.8,
        NET,
        Lead::Any,
    ),
    r(
        "bitcoin_bech32",
        Kind::CryptoWallet,
        r"(?i)\bbc1[02-9ac-hj-np-z]{8,87}\b",
        Check::Bech32,
        0.9,
        CRYPTO,
        Lead::Alpha,
    ),
    r(
        "bitcoin_base58",
        Kind::CryptoWallet,
        r"\b[13][1-9A-HJ-NP-Za-km-z]{25,34}\b",
        Check::Base58,
        0.9,
        CRYPTO,
        Lead::Digit,
    ),
    r(
        "ethereum_address",
        Kind::CryptoWallet,
        r"\b0x[0-9a-fA-F]{40}\b",
        Check::Eth,
        0.8,
        CRYPTO,
        Lead::Digit,
    ),
    r(
        "address_hk",
        Kind::Address,
        r"(?i)\b(?:flat|room|rm|unit|shop|suite)\.? ?[0-9A-Z]{1,5},? ?(?:(?:[0-9]{1,3}|G|UG|LG)/F\b|[0-9]{1,3}(?:st|nd|rd|th)? floor\b)",
        Check::HkAddress,
        0.8,
        ADDRESS,
        Lead::Alpha,
    ),
    r(
        "address_military",
        Kind::Address,
        r"\b(?:PSC|CMR|Unit) [0-9]{4},? Box [0-9]{4}\s{1,3}(?:APO|FPO|DPO) (?:AA|AE|AP) [0-9]{5}\b|\bUS(?:NS|NV|S|CGC) [A-Z][a-z]+\s{1,3}FPO (?:AA|AE|AP) [0-9]{5}\b",
        Check::Address,
        0.85,
        ADDRESS,
        Lead::Alpha,
    ),
    r(
        "address_street_suffix_word",
        Kind::Address,
        // European order, street word then house number: "Ziegelgasse 19",
        // "Hansinegata 120", "Søndergade 52", "Koskikatu 25". The street
        // word ends in a common street suffix of German, Dutch, Nordic,
        // Finnish, Hungarian or Polish.
        concat!(
            r"\b[A-Z](?:[a-z]|[\xC3-\xC9][\x80-\xBF]){1,24}",
            r"(?:gasse|gata|gatan|gade|vej|vegen|veien|vägen|väg|straße|strasse|straat|weg|katu|tie|",
            r"laan|utca|ulica|allee|platz|plein|gränd|stræde|torget|torg) [0-9]{1,4}[A-Za-z]?\b"
        ),
        Check::Address,
        0.7,
        ADDRESS,
        Lead::Alpha,
    ),
    r(
        "address_street_prefix_word",
        Kind::Address,
        // Street word first, then the name, then the number: "Rua Cyro
        // Schmutzer Franco 1213", "Avda. Rio Nalon 58", "ul. Północna 73",
        // "C/ Señores Curas 88", "Via Roma 12".
        concat!(
            r"\b(?:Rua|Avenida|Avda\.|Av\.?|Calle|C/|Carrer|Camino|Paseo|Praça|Travessa|Largo|Via|Viale|",
            r"Piazza|Corso|Rue|Chemin|ul\.|Ulica|Aleja|al\.|Calea|Strada|Bulevar|Sokak) ",
            r"(?:(?:[A-Z]|[\xC3-\xC9][\x80-\xBF])(?:[a-z'.-]|[\xC3-\xC9][\x80-\xBF]){0,24} |",
            r"(?:de|do|da|dos|das|del|la|los|las|di|du|des|von|van) ){1,5}[0-9]{1,5}[A-Za-z]?\b"
        ),
        Check::Address,
        0.7,
        ADDRESS,
        Lead::Alpha,
    ),
    r(
        "address_postal_block",
        Kind::Address,
        // A numbered street line followed by an apartment or suite line:
        // "28030 Edeby 55\n Apt. 297", "4923 Parmova 109\n Suite 380".
        concat!(
            r"\b[0-9]{1,6} (?:(?:[A-Z]|[\xC3-\xC9][\x80-\xBF])(?:[A-Za-z'.-]|[\xC3-\xC9][\x80-\xBF]){1,24} ){1,4}",
            r"[0-9]{1,5}[A-Za-z]?,?\s{1,3}(?:Apt\.?|Apartment|Suite|Unit) [0-9A-Za-z-]{1,6}\b"
        ),
        Check::Address,
        0.75,
        ADDRESS,
        Lead::Digit,
    ),
    r(
        "address_street",
        Kind::Address,
        concat!(
            r"\b[0-9]{1,6}[A-Za-z]?(?:-[0-9]{1,4})?,? (?:[A-Z][A-Za-z'.-]{1,20} ){1,4}",
            r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|",
            r"Circle|Cir|Square|Sq|Parkway|Pkwy|Highway|Hwy|Trail|Trl|Path|Crescent|Cres|Close|Gardens|Grove|Hill|",
            r"Hills|Row|Walk|Alley|Bridge|Brook|Brooks|Burg|Bypass|Camp|Canyon|Cape|Causeway|Centers?|Cliffs?|Club|",
            r"Common|Corners?|Course|Courts|Coves?|Creek|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drives|",
            r"Estates?|Expressway|Extensions?|Falls?|Ferry|Fields?|Flats?|Fords?|Forest|Forges?|Forks?|Fort|",
            r"Freeway|Garden|Gateway|Glens?|Greens?|Groves|Harbors?|Haven|Heights|Hollow|Inlet|Islands?|Isle|",
            r"Junctions?|Keys?|Knolls?|Lakes?|Land|Landing|Lights?|Loaf|Locks?|Lodge|Loop|Mall|Manors?|",
            r"Meadows?|Mews|Mills?|Mission|Motorway|Mount|Mountains?|Neck|Orchard|Oval|Overpass|Parks?|",
            r"Parkways|Pass|Passage|Pike|Pines?|Plains?|Plaza|Points?|Ports?|Prairie|Radial|Ramp|Ranch|Rapids?|",
            r"Rest|Ridges?|River|Roads|Route|Rue|Run|Shoals?|Shores?|Skyway|Springs?|Spurs?|Squares|Station|",
            r"Stravenue|Stream|Streets|Summit|Throughway|Trace|Track|Trafficway|Trailer|Tunnel|Turnpike|",
            r"Underpass|Unions?|Valleys?|Via|Viaduct|Views?|Villages?|Ville|Vista|Walks|Wall|Ways|Wells?)\b\.?"
        ),
        Check::Address,
        0.75,
        ADDRESS,
        Lead::Digit,
    ),
];

/// Rules that run only in a short window after one of their context
/// keywords (gated rules): they would be far too noisy on their own.
/// `(rule, context groups that open the window)`.
pub const GATED_RULES: &[(Rule, u32)] = &[
    (
        // A Luhn-valid number right after a card word is a card even when
        // its prefix is in no published issuer range (new or private-label
        // ranges, the test numbers of payment providers).
        r(
            "credit_card_any_issuer",
            Kind::CreditCard,
            r"\b[0-9]{4}(?:[ -]?[0-9]{4}){2,3}(?:[ -]?[0-9]{1,3})?\b",
            Check::CardAnyIssuer,
            0.75,
            CARD,
            Lead::Digit,
        ),
        CARD,
    ),
    (
        r(
            "passport",
            Kind::Passport,
            r"\b[A-Z]{1,2}[0-9]{6,9}\b|\b[0-9]{9}\b",
            Check::Passport,
            0.8,
            PASSPORT,
            Lead::Any,
        ),
        PASSPORT,
    ),
    (
        r(
            "date_of_birth",
            Kind::DateOfBirth,
            concat!(
                r"\b(?:[0-9]{4}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12][0-9]|3[01])|",
                r"(?:0?[1-9]|[12][0-9]|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:[0-9]{4}|[0-9]{2})|",
                r"(?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12][0-9]|3[01])[-/.](?:[0-9]{4}|[0-9]{2})|",
                r"(?:0?[1-9]|[12][0-9]|3[01])(?:st|nd|rd|th)? (?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.?,? [0-9]{4}|",
                r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.? (?:0?[1-9]|[12][0-9]|3[01])(?:st|nd|rd|th)?,? [0-9]{4}|",
                r"[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日)"
            ),
            Check::Dob,
            0.8,
            DOB,
            Lead::Any,
        ),
        DOB,
    ),
    (
        r(
            "bank_account",
            Kind::BankAccount,
            r"\b[0-9][0-9 -]{4,22}[0-9]\b",
            Check::BankAccount,
            0.7,
            BANK,
            Lead::Digit,
        ),
        BANK,
    ),
    (
        r(
            "phone_after_keyword",
            Kind::Phone,
            r"(?:\+[0-9]{1,4}[ .-]?)?(?:\(0\) ?)?\(?[0-9]{1,5}\)?(?:[ .-]?[0-9]{2,5}){1,5}\b",
            Check::PhoneNational,
            0.6,
            PHONE,
            Lead::Any,
        ),
        PHONE,
    ),
    (
        r(
            "uk_nhs",
            Kind::UkNhs,
            r"\b[0-9]{3} ?[0-9]{3} ?[0-9]{4}\b",
            Check::Nhs,
            0.85,
            NHS,
            Lead::Digit,
        ),
        NHS,
    ),
    (
        r(
            "us_ssn_bare",
            Kind::UsSsn,
            r"\b[0-9]{9}\b",
            Check::SsnBare,
            0.75,
            TAX,
            Lead::Digit,
        ),
        TAX,
    ),
];

/// Suffix pattern tried (anchored) after an address core to extend it over
/// apartment numbers, city, state and postcode, or Hong Kong districts.
pub const ADDRESS_TAIL: &str = concat!(
    r"(?:,?\s{0,3}(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Room|Rm\.?|Box|#) ?[0-9A-Za-z-]{1,6})",
    // City line(s), then country (or region) and postcode: ", Grubbenvorst,
    // Netherlands 04020" or "\n Ependes\n\n Switzerland 82590".
    r"|(?:(?:,?\s{1,4}(?:[A-Z]|[\xC3-\xC9][\x80-\xBF])(?:[A-Za-z'.-]|[\xC3-\xC9][\x80-\xBF]){1,25}",
    r"(?: (?:[A-Za-z]|[\xC3-\xC9][\x80-\xBF])(?:[A-Za-z'.-]|[\xC3-\xC9][\x80-\xBF]){1,25}){0,3}){1,2}",
    r",?\s{1,4}[A-Z][A-Za-z]{2,20}(?: [A-Z][A-Za-z]{2,20})? [0-9]{4,6}\b)",
    r"|(?:,?\s{1,2}[A-Z][A-Za-z'.-]{1,20}(?: [A-Z][A-Za-z'.-]{1,20}){0,3},? [A-Z]{2} [0-9]{5}(?:-[0-9]{4})?\b)",
    r"|(?:,? [A-Z]{2} [0-9]{5}(?:-[0-9]{4})?\b)",
    r"|(?:,? ?(?:Hong Kong|Kowloon|New Territories|N\.T\.|HKSAR|Central|Sheung Wan|Wan Chai|Causeway Bay|",
    r"North Point|Quarry Bay|Aberdeen|Mong Kok|Tsim Sha Tsui|Yau Ma Tei|Jordan|Sham Shui Po|Kowloon Tong|",
    r"Kowloon Bay|Kwun Tong|Wong Tai Sin|Sha Tin|Tai Po|Tuen Mun|Yuen Long|Tsuen Wan|Kwai Chung|",
    r"Tseung Kwan O|Sai Kung|Tung Chung|Fanling|Sheung Shui|Ma On Shan|Tai Koo|Chai Wan|Happy Valley|",
    r"Mid-Levels|Pok Fu Lam|Stanley|Repulse Bay|Macau|Macao)\b)",
);

/// For Hong Kong style addresses: one more comma-separated capitalised or
/// numbered segment (building, street).
pub const HK_SEGMENT: &str = r"(?:, ?(?:[0-9]{1,4}[A-Z]?(?:-[0-9]{1,4})? )?[A-Z][A-Za-z'&.-]{0,20}(?: [A-Z0-9][A-Za-z0-9'&.()-]{0,20}){0,5})";
