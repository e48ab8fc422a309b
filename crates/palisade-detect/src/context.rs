//! Context words: keywords that, when seen near a candidate, raise its score
//! or (for context-gated detectors such as passports) make it a candidate at
//! all. All keywords are matched in one word-lookup pass together with the
//! name lists (see `names`).

/// Bit flags naming what a keyword is evidence of.
pub mod group {
    /// Telephone words.
    pub const PHONE: u32 = 1;
    /// Payment card words.
    pub const CARD: u32 = 1 << 1;
    /// Identity document words.
    pub const ID: u32 = 1 << 2;
    /// Bank and account words.
    pub const BANK: u32 = 1 << 3;
    /// Passport words.
    pub const PASSPORT: u32 = 1 << 4;
    /// Birth-date words.
    pub const DOB: u32 = 1 << 5;
    /// E-mail words.
    pub const EMAIL: u32 = 1 << 6;
    /// Words introducing a person's name.
    pub const NAME: u32 = 1 << 7;
    /// Address words.
    pub const ADDRESS: u32 = 1 << 8;
    /// Credential words.
    pub const SECRET: u32 = 1 << 9;
    /// Network words.
    pub const NET: u32 = 1 << 10;
    /// Crypto-currency words.
    pub const CRYPTO: u32 = 1 << 11;
    /// NHS words.
    pub const NHS: u32 = 1 << 12;
    /// Social security / tax words.
    pub const TAX: u32 = 1 << 13;
    /// Honorific titles directly before a name.
    pub const TITLE: u32 = 1 << 14;
    /// Macau words.
    pub const MACAU: u32 = 1 << 15;
}

use group::*;

/// `(keyword, groups)`; matched ASCII-case-insensitively. ASCII keywords must
/// sit on word boundaries; CJK keywords match anywhere.
pub const KEYWORDS: &[(&str, u32)] = &[
    ("phone", PHONE),
    ("tel", PHONE),
    ("telephone", PHONE),
    ("mobile", PHONE),
    ("cell", PHONE),
    ("call", PHONE),
    ("whatsapp", PHONE),
    ("fax", PHONE),
    ("contact", PHONE | EMAIL | NAME),
    ("sms", PHONE),
    ("desk", PHONE),
    ("office", PHONE),
    ("messages to", PHONE),
    ("answering at", PHONE),
    ("reach me", PHONE),
    ("reach me at", PHONE),
    ("registered", PHONE),
    ("text me", PHONE),
    ("number", BANK),
    ("電話", PHONE),
    ("电话", PHONE),
    ("手機", PHONE),
    ("手机", PHONE),
    ("聯絡", PHONE),
    ("联系", PHONE),
    ("致電", PHONE),
    ("card", CARD),
    ("credit", CARD),
    ("debit", CARD),
    ("visa", CARD),
    ("mastercard", CARD),
    ("amex", CARD),
    ("cvv", CARD),
    ("expiry", CARD),
    ("信用卡", CARD),
    ("卡號", CARD),
    ("卡号", CARD),
    ("id", ID),
    ("identity", ID),
    ("hkid", ID),
    ("id card", ID),
    ("id no", ID),
    ("nric", ID),
    ("fin", ID),
    ("身份證", ID),
    ("身份证", ID),
    ("身分證", ID),
    ("證件", ID),
    ("证件", ID),
    ("resident", ID),
    ("national id", ID),
    ("nino", ID | TAX),
    ("national insurance", ID | TAX),
    ("bank", BANK),
    ("account", BANK),
    ("acct", BANK),
    ("a/c", BANK),
    ("iban", BANK),
    ("account number", BANK),
    ("account no", BANK),
    ("routing", BANK),
    ("sort code", BANK),
    ("帳戶", BANK),
    ("账户", BANK),
    ("帳號", BANK),
    ("账号", BANK),
    ("銀行", BANK),
    ("银行", BANK),
    ("passport", PASSPORT),
    ("passport no", PASSPORT),
    ("travel document", PASSPORT),
    ("護照", PASSPORT),
    ("护照", PASSPORT),
    ("born", DOB),
    ("birth", DOB),
    ("date of birth", DOB),
    ("dob", DOB),
    ("d.o.b", DOB),
    ("birthday", DOB),
    ("出生", DOB),
    ("生日", DOB),
    ("出生日期", DOB),
    ("email", EMAIL),
    ("e-mail", EMAIL),
    ("mail", EMAIL),
    ("電郵", EMAIL),
    ("邮箱", EMAIL),
    ("郵箱", EMAIL),
    ("电邮", EMAIL),
    ("name", NAME),
    ("my name is", NAME),
    ("dear", NAME),
    ("name is", NAME),
    ("i am", NAME),
    ("i'm", NAME),
    ("signed", NAME),
    ("regards", NAME),
    ("sincerely", NAME),
    ("patient", NAME),
    ("customer", NAME),
    ("client", NAME),
    ("姓名", NAME),
    ("名字", NAME),
    ("mr", TITLE),
    ("mrs", TITLE),
    ("ms", TITLE),
    ("miss", TITLE),
    ("dr", TITLE),
    ("mx", TITLE),
    ("prof", TITLE),
    ("sir", TITLE),
    ("madam", TITLE),
    ("先生", TITLE),
    ("小姐", TITLE),
    ("女士", TITLE),
    ("太太", TITLE),
    ("醫生", TITLE),
    ("医生", TITLE),
    ("教授", TITLE),
    ("老師", TITLE),
    ("老师", TITLE),
    ("address", ADDRESS),
    ("addr", ADDRESS),
    ("live at", ADDRESS),
    ("lives at", ADDRESS),
    ("located at", ADDRESS),
    ("ship to", ADDRESS),
    ("deliver to", ADDRESS),
    ("office is at", ADDRESS),
    ("off at", ADDRESS),
    ("sent to", ADDRESS),
    ("moved to", ADDRESS),
    ("mailing address", ADDRESS),
    ("home address", ADDRESS),
    ("地址", ADDRESS),
    ("住址", ADDRESS),
    ("password", SECRET),
    ("passwd", SECRET),
    ("secret", SECRET),
    ("token", SECRET),
    ("api key", SECRET),
    ("apikey", SECRET),
    ("credential", SECRET),
    ("密碼", SECRET),
    ("密码", SECRET),
    ("ip", NET),
    ("ip address", NET),
    ("server", NET),
    ("host", NET),
    ("mac", NET),
    ("mac address", NET),
    ("gateway", NET),
    ("dns", NET),
    ("subnet", NET),
    ("wallet", CRYPTO),
    ("bitcoin", CRYPTO),
    ("btc", CRYPTO),
    ("eth", CRYPTO),
    ("ethereum", CRYPTO),
    ("crypto", CRYPTO),
    ("錢包", CRYPTO),
    ("钱包", CRYPTO),
    ("nhs", NHS),
    ("nhs number", NHS),
    ("nhs no", NHS),
    ("ssn", TAX),
    ("social security", TAX),
    ("itin", TAX),
    ("taxpayer", TAX),
    ("tax id", TAX),
    ("macau", MACAU),
    ("macao", MACAU),
    ("澳門", MACAU),
    ("澳门", MACAU),
    ("bir", MACAU),
];

/// True when `b` is an ASCII word byte.
pub fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// True when `text[start..end]` is delimited by non-word bytes on both sides.
pub fn on_word_boundaries(text: &[u8], start: usize, end: usize) -> bool {
    let before = start == 0 || !is_word_byte(text[start - 1]);
    let after = end >= text.len() || !is_word_byte(text[end]);
    before && after
}
