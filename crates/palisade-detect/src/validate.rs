//! Checksum and range validators, run only on regex candidates.
//!
//! Each function takes the candidate text (separators allowed where the
//! format allows them) and answers whether it is structurally valid. The
//! algorithms are public standards; sources are cited per function.

use sha2::{Digest, Sha256};

/// ASCII digits of `s` as values 0–9, ignoring every other byte.
pub fn digits(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// The ASCII digits of a candidate as values 0–9, like [`digits`], kept on
/// the stack when there are at most 64 of them (every bounded pattern's
/// candidate): validators run on every candidate of a scan, and a heap
/// allocation per candidate cost more than most checks.
pub(crate) enum DigitsOf {
    /// Up to 64 digits, in the array's first `.1` entries.
    Inline([u8; 64], usize),
    /// More than 64 digits.
    Heap(Vec<u8>),
}

impl std::ops::Deref for DigitsOf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            DigitsOf::Inline(d, n) => &d[..*n],
            DigitsOf::Heap(d) => d,
        }
    }
}

/// [`digits`] without a heap allocation for up to 64 digits.
pub(crate) fn digits_of(s: &str) -> DigitsOf {
    let mut d = [0u8; 64];
    let mut n = 0;
    for b in s.bytes().filter(u8::is_ascii_digit) {
        match d.get_mut(n) {
            Some(slot) => *slot = b - b'0',
            None => return DigitsOf::Heap(digits(s)),
        }
        n += 1;
    }
    DigitsOf::Inline(d, n)
}

/// Luhn (ISO/IEC 7812-1 annex B) over the digits of `s`.
pub fn luhn(s: &str) -> bool {
    let d = digits_of(s);
    luhn_digits(&d)
}

/// Luhn over digit values.
pub fn luhn_digits(d: &[u8]) -> bool {
    if d.len() < 2 {
        return false;
    }
    let mut sum = 0u32;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut v = u32::from(x);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Luhn check digit that completes `d` (the payload without its check digit).
pub fn luhn_check_digit(d: &[u8]) -> u8 {
    let mut sum = 0u32;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut v = u32::from(x);
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    ((10 - (sum % 10)) % 10) as u8
}

/// Card network for a digit string, from the public IIN ranges (ISO/IEC 7812
/// issuer identification numbers as published by the networks), or `None`
/// when the prefix/length pair belongs to no major network.
pub fn card_network(d: &[u8]) -> Option<&'static str> {
    let n = d.len();
    let p = |k: usize| -> u32 { d.iter().take(k).fold(0u32, |a, &x| a * 10 + u32::from(x)) };
    if !(12..=19).contains(&n) {
        return None;
    }
    let p1 = p(1);
    let p2 = p(2);
    let p3 = p(3);
    let p4 = p(4);
    let p6 = p(6);
    if p1 == 4 && matches!(n, 13 | 16 | 19) {
        return Some("visa");
    }
    if ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && n == 16 {
        return Some("mastercard");
    }
    if (p2 == 34 || p2 == 37) && n == 15 {
        return Some("amex");
    }
    if (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6))
        && (16..=19).contains(&n)
    {
        return Some("discover");
    }
    if (3528..=3589).contains(&p4) && (16..=19).contains(&n) {
        return Some("jcb");
    }
    if (p4 == 2131 || p4 == 1800) && n == 15 {
        return Some("jcb");
    }
    if ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && (14..=19).contains(&n) {
        return Some("diners");
    }
    if p2 == 62 && (16..=19).contains(&n) {
        return Some("unionpay");
    }
    if (p2 == 50 || (56..=69).contains(&p2)) && (12..=19).contains(&n) {
        return Some("maestro");
    }
    None
}

/// IBAN lengths per country (ISO 13616 registry, SWIFT IBAN Registry).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NL", 18),
    ("NO", 15),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("SA", 24),
    ("SC", 31),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
];

/// [`IBAN_LENGTHS`] as a table indexed by the two letters of a country
/// code (`26 * first + second`, 0 for none), built at compile time: a
/// lookup with no search.
const IBAN_LENGTH_BY_CODE: [u8; 26 * 26] = {
    let mut t = [0u8; 26 * 26];
    let mut i = 0;
    while i < IBAN_LENGTHS.len() {
        let (code, len) = IBAN_LENGTHS[i];
        let c = code.as_bytes();
        assert!(c.len() == 2 && c[0].is_ascii_uppercase() && c[1].is_ascii_uppercase());
        assert!(len > 0 && len <= 255);
        t[(c[0] - b'A') as usize * 26 + (c[1] - b'A') as usize] = len as u8;
        i += 1;
    }
    t
};

/// Expected IBAN length for a country code.
pub fn iban_length(country: &str) -> Option<usize> {
    let &[a, b] = country.as_bytes() else {
        return None;
    };
    if !a.is_ascii_uppercase() || !b.is_ascii_uppercase() {
        return None;
    }
    let len = IBAN_LENGTH_BY_CODE[usize::from(a - b'A') * 26 + usize::from(b - b'A')];
    (len > 0).then_some(usize::from(len))
}

/// The IBAN with spaces removed and letters upper-cased, if it has only
/// alphanumerics and separators.
pub fn compact_alnum(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// [`compact_alnum`] into a buffer of `N` bytes, for validators that run
/// on every candidate: `None` when `s` holds more than `N` letters and
/// digits (longer than the format allows), so nothing is allocated.
fn compact_upper<const N: usize>(s: &str) -> Option<([u8; N], usize)> {
    let mut c = [0u8; N];
    let mut n = 0;
    for b in s.bytes().filter(u8::is_ascii_alphanumeric) {
        *c.get_mut(n)? = b.to_ascii_uppercase();
        n += 1;
    }
    Some((c, n))
}

/// mod-97 of an alphanumeric string with letters as 10..35 (ISO 7064 MOD 97-10).
pub fn mod97(s: &str) -> Option<u32> {
    let mut r: u32 = 0;
    for c in s.chars() {
        let v = c.to_digit(36)?;
        if v >= 10 {
            r = (r * 100 + v) % 97;
        } else {
            r = (r * 10 + v) % 97;
        }
    }
    Some(r)
}

/// IBAN: country length table plus ISO 13616 mod-97 == 1. Works on the
/// bytes in place: it runs on every IBAN-shaped candidate, and the three
/// strings the textbook form builds cost more than the check.
pub fn iban(s: &str) -> bool {
    // Written in lower case by hand as often as in upper case; one case
    // throughout, as banks print it or as a person types it.
    let letters = || s.bytes().filter(u8::is_ascii_alphabetic);
    if !letters().all(|b| b.is_ascii_uppercase()) && !letters().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    let Some((compact, n)) = compact_upper::<34>(s) else {
        return false;
    };
    let c = &compact[..n];
    if n < 15 {
        return false;
    }
    let country = std::str::from_utf8(&c[..2]).unwrap_or("");
    if iban_length(country) != Some(n) || !c[2..4].iter().all(u8::is_ascii_digit) {
        return false;
    }
    // mod-97 of the account part followed by the country and check digits,
    // letters as 10..35. The remainder is taken only when the running value
    // nears the top of a u64 (below 2^56, two more digits fit), so most
    // steps are a multiply-add rather than a division.
    let mut r: u64 = 0;
    for &b in c[4..].iter().chain(&c[..4]) {
        r = match b {
            b'0'..=b'9' => r * 10 + u64::from(b - b'0'),
            _ => r * 100 + u64::from(b - b'A') + 10,
        };
        if r >= 1 << 56 {
            r %= 97;
        }
    }
    r % 97 == 1
}

/// Value of an HKID letter (A=10 … Z=35); a missing first letter counts 36.
fn hk_letter(c: u8) -> Option<u32> {
    c.is_ascii_uppercase().then(|| u32::from(c - b'A') + 10)
}

/// Hong Kong Identity Card: 1–2 letters, 6 digits, check digit 0–9 or A
/// (weights 9..2 with a blank leading letter worth 36, mod 11; Immigration
/// Department format as documented publicly).
pub fn hkid(s: &str) -> bool {
    // At most two letters, six digits and the check character.
    let Some((c, n)) = compact_upper::<9>(s) else {
        return false;
    };
    let c = &c[..n];
    let letters = c.iter().take_while(|b| b.is_ascii_uppercase()).count();
    if !(letters == 1 || letters == 2) || c.len() != letters + 7 {
        return false;
    }
    let body = &c[letters..letters + 6];
    if !body.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let check = c[letters + 6];
    match hkid_check(&c[..letters], body) {
        Some(expected) => expected == check,
        None => false,
    }
}

/// Check character for HKID letters + 6 digits.
pub fn hkid_check(letters: &[u8], body: &[u8]) -> Option<u8> {
    let mut vals = [0u32; 8];
    let mut n = 0;
    let mut push = |v: u32| {
        if let Some(slot) = vals.get_mut(n) {
            *slot = v;
        }
        n += 1;
    };
    if letters.len() == 1 {
        push(36);
    }
    for &l in letters {
        push(hk_letter(l)?);
    }
    for &d in body {
        if !d.is_ascii_digit() {
            return None;
        }
        push(u32::from(d - b'0'));
    }
    if n != 8 {
        return None;
    }
    let sum: u32 = vals.iter().zip((2..=9).rev()).map(|(v, w)| v * w).sum();
    let r = (11 - sum % 11) % 11;
    Some(match r {
        10 => b'A',
        d => b'0' + d as u8,
    })
}

/// Mainland China resident identity number: 17 digits + check (0–9 or X),
/// GB 11643-1999 with ISO 7064 MOD 11-2, plus a plausible birth date.
pub fn china_id(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    if !(b'1'..=b'8').contains(&b[0]) {
        return false;
    }
    let year: u32 = num(&b[6..10]);
    let month: u32 = num(&b[10..12]);
    let day: u32 = num(&b[12..14]);
    if !(1900..=2099).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    china_id_check(&b[..17]) == Some(b[17].to_ascii_uppercase())
}

/// Check character (ISO 7064 MOD 11-2) for 17 digits.
pub fn china_id_check(d: &[u8]) -> Option<u8> {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    if d.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (x, w) in d.iter().zip(W) {
        if !x.is_ascii_digit() {
            return None;
        }
        sum += u32::from(x - b'0') * w;
    }
    Some(b"10X98765432"[(sum % 11) as usize])
}

fn num(b: &[u8]) -> u32 {
    b.iter()
        .fold(0, |a, &x| a * 10 + u32::from(x.wrapping_sub(b'0')))
}

/// Taiwan national ID / resident certificate: letter + one of 1, 2, 8, 9 + 8 digits with
/// the Ministry of the Interior weighted checksum (letter code split into two
/// digits, weights 1,9,8,7,6,5,4,3,2,1,1, sum mod 10 == 0).
pub fn taiwan_id(s: &str) -> bool {
    const CODES: &[u8; 26] = &[
        10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, 22, 35, 23, 24, 25, 26, 27, 28, 29, 32,
        30, 31, 33,
    ];
    let b = s.as_bytes();
    if b.len() != 10 || !b[0].is_ascii_uppercase() || !b[1..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    if !matches!(b[1], b'1' | b'2' | b'8' | b'9') {
        return false;
    }
    let code = u32::from(CODES[usize::from(b[0] - b'A')]);
    let mut sum = code / 10 + (code % 10) * 9;
    for (i, &d) in b[1..9].iter().enumerate() {
        sum += u32::from(d - b'0') * (8 - i as u32);
    }
    sum += u32::from(b[9] - b'0');
    sum % 10 == 0
}

/// Singapore NRIC/FIN: weights 2,7,6,5,4,3,2 over the seven digits.
/// S, T, F, G: offset 4 for T and G, and the remainder mod 11 indexes the
/// published check-letter tables. M (FINs issued from 1 January 2022):
/// offset 3, and the letter is `KLJNPQRTUWX`[10 − remainder] (the M-series
/// rule as implemented in Open Government Products' FormSG validator,
/// `isMFinSeriesValid`: P = 11 − R1, letter = table[P − 1]).
pub fn sg_nric(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 9 || !b[1..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let prefix = b[0].to_ascii_uppercase();
    const W: [u32; 7] = [2, 7, 6, 5, 4, 3, 2];
    let mut sum: u32 = b[1..8]
        .iter()
        .zip(W)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    sum += match prefix {
        b'T' | b'G' => 4,
        b'M' => 3,
        _ => 0,
    };
    let r = (sum % 11) as usize;
    let letter = match prefix {
        b'S' | b'T' => b"JZIHGFEDCBA"[r],
        b'F' | b'G' => b"XWUTRQPNMLK"[r],
        b'M' => b"KLJNPQRTUWX"[10 - r],
        _ => return false,
    };
    letter == b[8].to_ascii_uppercase()
}

/// US SSN area/group/serial rules (SSA): area not 000, 666 or 900–999, group
/// not 00, serial not 0000; well-known advertising numbers rejected.
pub fn us_ssn(s: &str) -> bool {
    let d = digits(s);
    if d.len() != 9 {
        return false;
    }
    let area = d[..3].iter().fold(0u32, |a, &x| a * 10 + u32::from(x));
    let group = d[3..5].iter().fold(0u32, |a, &x| a * 10 + u32::from(x));
    let serial = d[5..].iter().fold(0u32, |a, &x| a * 10 + u32::from(x));
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    // 078-05-1120 (Woolworth wallet card) and 219-09-9999 (SSA advertisement).
    let known = (area == 78 && group == 5 && serial == 1120)
        || (area == 219 && group == 9 && serial == 9999);
    if known {
        return false;
    }
    // All digits equal (e.g. 111-11-1111) is a placeholder.
    !d.iter().all(|&x| x == d[0])
}

/// US ITIN: 9XX-[50–65 | 70–88 | 90–92 | 94–99]-XXXX (IRS).
pub fn us_itin(s: &str) -> bool {
    let d = digits(s);
    if d.len() != 9 || d[0] != 9 {
        return false;
    }
    let g = u32::from(d[3]) * 10 + u32::from(d[4]);
    matches!(g, 50..=65 | 70..=88 | 90..=92 | 94..=99)
}

/// UK National Insurance number prefix rules (HMRC NIM39110): first letter not
/// D F I Q U V, second not D F I O Q U V, prefixes BG GB KN NK NT TN ZZ unused.
pub fn uk_nino(s: &str) -> bool {
    let c = compact_alnum(s);
    let b = c.as_bytes();
    if b.len() != 9 {
        return false;
    }
    if !b[2..8].iter().all(u8::is_ascii_digit) || !matches!(b[8], b'A'..=b'D') {
        return false;
    }
    if b"DFIQUV".contains(&b[0]) || b"DFIOQUV".contains(&b[1]) {
        return false;
    }
    !matches!(&c[..2], "BG" | "GB" | "KN" | "NK" | "NT" | "TN" | "ZZ")
}

/// UK NHS number: 10 digits, weights 10..2, check = 11 − (sum mod 11), where
/// 11 means 0 and 10 is invalid (NHS Data Dictionary).
pub fn uk_nhs(s: &str) -> bool {
    let d = digits(s);
    if d.len() != 10 {
        return false;
    }
    let sum: u32 = d[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(&x, w)| u32::from(x) * w)
        .sum();
    let check = 11 - sum % 11;
    let check = if check == 11 { 0 } else { check };
    check != 10 && check == u32::from(d[9]) && !d.iter().all(|&x| x == d[0])
}

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Bitcoin legacy address: base58check with a version byte 0x00 or 0x05 and a
/// double-SHA-256 checksum.
pub fn base58check(s: &str) -> bool {
    let mut bytes: Vec<u8> = Vec::with_capacity(25);
    for c in s.bytes() {
        let Some(mut carry) = BASE58.iter().position(|&x| x == c).map(|v| v as u32) else {
            return false;
        };
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
        if bytes.len() > 64 {
            return false;
        }
    }
    let zeros = s.bytes().take_while(|&c| c == b'1').count();
    let mut full = vec![0u8; zeros];
    full.extend_from_slice(&bytes);
    if full.len() != 25 || !(full[0] == 0x00 || full[0] == 0x05) {
        return false;
    }
    let h1 = Sha256::digest(&full[..21]);
    let h2 = Sha256::digest(h1);
    h2[..4] == full[21..]
}

/// Bech32 / bech32m checksum (BIP-173, BIP-350) for `bc1` addresses.
pub fn bech32(s: &str) -> bool {
    const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let lower = s.to_ascii_lowercase();
    if lower != s && s.to_ascii_uppercase() != s {
        return false;
    }
    let Some(pos) = lower.rfind('1') else {
        return false;
    };
    let (hrp, data) = lower.split_at(pos);
    let data = &data[1..];
    if hrp != "bc" || data.len() < 6 || lower.len() > 90 {
        return false;
    }
    let mut values = Vec::with_capacity(data.len());
    for c in data.bytes() {
        match CHARSET.iter().position(|&x| x == c) {
            Some(v) => values.push(v as u32),
            None => return false,
        }
    }
    let mut chk: u32 = 1;
    let mut feed = |v: u32| {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ v;
        for (i, g) in [
            0x3b6a_57b2u32,
            0x2650_8e6d,
            0x1ea1_19fa,
            0x3d42_33dd,
            0x2a14_62b3,
        ]
        .iter()
        .enumerate()
        {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    };
    for c in hrp.bytes() {
        feed(u32::from(c) >> 5);
    }
    feed(0);
    for c in hrp.bytes() {
        feed(u32::from(c) & 31);
    }
    for v in values {
        feed(v);
    }
    chk == 1 || chk == 0x2bc8_30a3
}

/// Ethereum address checksum (EIP-55): all-lower or all-upper hex carries no
/// checksum and is accepted; mixed case must match the Keccak-256 of the
/// lower-case address. `s` is the 40 hex digits without `0x`.
pub fn eip55(s: &str) -> bool {
    use sha3::{Digest as _, Keccak256};
    if s.len() != 40 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return false;
    }
    let has_lower = s.bytes().any(|c| c.is_ascii_lowercase());
    let has_upper = s.bytes().any(|c| c.is_ascii_uppercase());
    if !(has_lower && has_upper) {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    let hash = Keccak256::digest(lower.as_bytes());
    s.bytes().enumerate().all(|(i, c)| {
        if !c.is_ascii_alphabetic() {
            return true;
        }
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        (nibble >= 8) == c.is_ascii_uppercase()
    })
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f32 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = s.len();
    if n == 0 {
        return 0.0;
    }
    // H = log2 n - (sum of c log2 c) / n, with c log2 c from a table: the
    // per-symbol `log2` calls cost more than counting the bytes. The sum
    // walks the value again, taking each byte's count once (then zeroing
    // it), rather than all 256 counters: values are short.
    let table = c_log2_c();
    let mut sum = 0.0f64;
    for b in s.bytes() {
        let c = std::mem::take(&mut counts[usize::from(b)]);
        if c > 0 {
            sum += table
                .get(c as usize)
                .copied()
                .unwrap_or_else(|| f64::from(c) * f64::from(c).log2());
        }
    }
    let n = n as f64;
    (n.log2() - sum / n).max(0.0) as f32
}

/// `c * log2(c)` for counts up to 256 (0 for 0).
fn c_log2_c() -> &'static [f64; 257] {
    static TABLE: std::sync::OnceLock<[f64; 257]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0.0; 257];
        for (c, v) in t.iter_mut().enumerate().skip(1) {
            let c = c as f64;
            *v = c * c.log2();
        }
        t
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_cards() {
        assert!(luhn("4111 1111 1111 1111"));
        assert!(!luhn("4111 1111 1111 1112"));
        assert_eq!(card_network(&digits("4111111111111111")), Some("visa"));
        assert_eq!(card_network(&digits("378282246310005")), Some("amex"));
        assert_eq!(
            card_network(&digits("5555555555554444")),
            Some("mastercard")
        );
        assert_eq!(card_network(&digits("1234567812345678")), None);
        let d = digits("411111111111111");
        assert_eq!(luhn_check_digit(&d), 1);
    }

    #[test]
    fn iban_check_matches_a_digit_by_digit_remainder() {
        // The check as first written: the remainder after every character.
        let reference = |s: &str| {
            let c: Vec<u8> = s.bytes().filter(u8::is_ascii_alphanumeric).collect();
            let mut r: u32 = 0;
            for &b in c[4..].iter().chain(&c[..4]) {
                r = match b {
                    b'0'..=b'9' => (r * 10 + u32::from(b - b'0')) % 97,
                    _ => (r * 100 + u32::from(b - b'A') + 10) % 97,
                };
            }
            r == 1
        };
        let valid = "GB82WEST12345698765432";
        assert!(iban(valid));
        // Every one-character change of two valid IBANs: a 22-character
        // one and a 31-character one (one short of the longest, Saint
        // Lucia's 32), whose running value passes 2^56 more than once.
        let long = "MT84MALT011000012345MTLCAST001S";
        assert!(iban(long));
        for base in [valid, long] {
            for i in 4..base.len() {
                for r in b"0123456789AZ" {
                    let mut t = base.as_bytes().to_vec();
                    t[i] = *r;
                    let t = String::from_utf8(t).unwrap();
                    assert_eq!(iban(&t), reference(&t), "{t}");
                }
            }
        }
    }

    #[test]
    fn iban_length_table_has_every_code_once() {
        assert!(IBAN_LENGTHS.windows(2).all(|w| w[0].0 < w[1].0));
        for &(cc, n) in IBAN_LENGTHS {
            assert!(
                cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_uppercase()),
                "{cc}"
            );
            assert_eq!(iban_length(cc), Some(n));
        }
        assert_eq!(iban_length("XX"), None);
        assert_eq!(iban_length("gb"), None);
        assert_eq!(iban_length("G"), None);
        assert_eq!(iban_length("GBR"), None);
        assert_eq!(iban_length(""), None);
    }

    #[test]
    fn ibans() {
        assert!(iban("GB82 WEST 1234 5698 7654 32"));
        assert!(iban("DE89370400440532013000"));
        assert!(!iban("GB82 WEST 1234 5698 7654 33"));
        assert!(!iban("GB82 WEST 1234 5698 7654"));
        assert!(!iban("XX82WEST12345698765432"));
    }

    /// The textbook statement of the IBAN check, with strings, to hold the
    /// in-place one to.
    fn iban_textbook(s: &str) -> bool {
        let letters = || s.bytes().filter(u8::is_ascii_alphabetic);
        if !letters().all(|b| b.is_ascii_uppercase()) && !letters().all(|b| b.is_ascii_lowercase())
        {
            return false;
        }
        let c = compact_alnum(s);
        if c.len() < 15 || c.len() > 34 || iban_length(&c[..2]) != Some(c.len()) {
            return false;
        }
        if !c.as_bytes()[2..4].iter().all(u8::is_ascii_digit) {
            return false;
        }
        mod97(&format!("{}{}", &c[4..], &c[..4])) == Some(1)
    }

    /// A valid IBAN for the `country`-th entry of the length table, with
    /// a random account part, in the given case and with spaces every four.
    fn valid_iban(country: usize, account: &[u8], lower: bool, spaced: bool) -> String {
        let (cc, len) = IBAN_LENGTHS[country % IBAN_LENGTHS.len()];
        const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let bban: String = (0..len - 4)
            .map(|i| char::from(ALNUM[usize::from(account.get(i).copied().unwrap_or(0)) % 36]))
            .collect();
        let check = 98 - mod97(&format!("{bban}{cc}00")).unwrap_or(0);
        let plain = format!("{cc}{check:02}{bban}");
        let plain = if lower {
            plain.to_ascii_lowercase()
        } else {
            plain
        };
        if !spaced {
            return plain;
        }
        let chunks: Vec<String> = plain
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        chunks.join(" ")
    }

    proptest::proptest! {
        /// The stack copy holds the same digits as the heap one, on both
        /// sides of its 64-digit capacity.
        #[test]
        fn digits_on_the_stack_equal_digits_on_the_heap(s in "[0-9a-z ()/+-]{0,150}") {
            let d = digits_of(&s);
            proptest::prop_assert_eq!(&*d, &digits(&s)[..]);
            proptest::prop_assert_eq!(matches!(d, DigitsOf::Heap(_)), digits(&s).len() > 64);
        }

        #[test]
        fn iban_check_matches_the_textbook_form(
            country in 0usize..200,
            account in proptest::collection::vec(proptest::prelude::any::<u8>(), 30),
            lower in proptest::prelude::any::<bool>(),
            spaced in proptest::prelude::any::<bool>(),
            flip in 0usize..40,
            junk in "[ A-Za-z0-9-]{0,40}",
        ) {
            let good = valid_iban(country, &account, lower, spaced);
            proptest::prop_assert!(iban(&good), "{}", good);
            // Damaged forms: one character changed, and arbitrary text.
            let mut bytes = good.clone().into_bytes();
            let i = flip % bytes.len();
            bytes[i] = if bytes[i] == b'7' { b'8' } else { b'7' };
            let bad = String::from_utf8(bytes).unwrap();
            proptest::prop_assert_eq!(iban(&bad), iban_textbook(&bad), "{}", bad);
            proptest::prop_assert_eq!(iban(&junk), iban_textbook(&junk), "{}", junk);
            let mixed = format!("{}{}", &good[..good.len() / 2], junk);
            proptest::prop_assert_eq!(iban(&mixed), iban_textbook(&mixed), "{}", mixed);
        }
    }

    proptest::proptest! {
        #[test]
        fn compaction_on_the_stack_matches_compact_alnum(s in "[A-Za-z0-9 ()é-]{0,14}") {
            let heap = compact_alnum(&s);
            match compact_upper::<9>(&s) {
                Some((c, n)) => proptest::prop_assert_eq!(&c[..n], heap.as_bytes()),
                None => proptest::prop_assert!(heap.len() > 9),
            }
        }

        /// Every well-formed HKID, in the spellings people use, passes with
        /// its own check character and fails with any other.
        #[test]
        fn hkids_pass_with_their_check_character_only(
            letters in "[A-Z]{1,2}",
            body in "[0-9]{6}",
            bracketed in proptest::prelude::any::<bool>(),
            lower in proptest::prelude::any::<bool>(),
        ) {
            // Weights 9..2 over eight values; one letter stands after a
            // blank worth 36.
            let mut values: Vec<u32> = letters.bytes().map(|b| u32::from(b - b'A') + 10).collect();
            if values.len() == 1 {
                values.insert(0, 36);
            }
            values.extend(body.bytes().map(|b| u32::from(b - b'0')));
            let sum: u32 = values.iter().zip([9, 8, 7, 6, 5, 4, 3, 2]).map(|(v, w)| v * w).sum();
            let check = match (11 - sum % 11) % 11 {
                10 => 'A',
                d => char::from(b'0' + d as u8),
            };
            for candidate in "0123456789A".chars() {
                let id = if bracketed {
                    format!("{letters}{body}({candidate})")
                } else {
                    format!("{letters}{body}{candidate}")
                };
                let id = if lower { id.to_ascii_lowercase() } else { id };
                proptest::prop_assert_eq!(hkid(&id), candidate == check, "{}", id);
            }
        }
    }

    #[test]
    fn hkids() {
        assert!(hkid("A123456(3)"));
        assert!(hkid("A1234563"));
        assert!(!hkid("A123456(4)"));
        assert_eq!(hkid_check(b"A", b"123456"), Some(b'3'));
        // Two-letter prefix.
        let c = hkid_check(b"XA", b"000000").unwrap();
        assert!(hkid(&format!("XA000000({})", c as char)));
        assert!(!hkid("A12345(3)"));
    }

    #[test]
    fn china_ids() {
        assert!(china_id("11010519491231002X"));
        assert!(!china_id("110105194912310021"));
        assert!(!china_id("11010519491331002X"), "month 13");
    }

    #[test]
    fn taiwan_ids() {
        assert!(taiwan_id("A123456789"));
        assert!(!taiwan_id("A123456788"));
        assert!(!taiwan_id("A323456789"));
    }

    #[test]
    fn sg_nrics() {
        assert!(sg_nric("S1234567D"));
        assert!(!sg_nric("S1234567E"));
        assert!(!sg_nric("X1234567D"));
        // M series (2022): sum 106 + 3 = 109, 109 mod 11 = 10, letter K.
        assert!(sg_nric("M1234567K"));
        assert!(sg_nric("m1234567k"));
        assert!(!sg_nric("M1234567L"));
        // `I` is not in the M table at all; F's letter for these digits fails too.
        assert!(!sg_nric("M1234567I"));
        assert!(!sg_nric("M1234567X"));
        assert!(!sg_nric("M123456K"));
    }

    #[test]
    fn ssn_itin_nino_nhs() {
        assert!(us_ssn("536-22-1234"));
        assert!(!us_ssn("666-22-1234"));
        assert!(!us_ssn("936-22-1234"));
        assert!(!us_ssn("536-00-1234"));
        assert!(!us_ssn("078-05-1120"));
        assert!(us_itin("912-70-1234"));
        assert!(!us_itin("912-93-1234"));
        assert!(uk_nino("AB 12 34 56 C"));
        assert!(!uk_nino("GB 12 34 56 C"));
        assert!(!uk_nino("DA 12 34 56 C"));
        assert!(uk_nhs("943 476 5919"));
        assert!(!uk_nhs("943 476 5918"));
    }

    #[test]
    fn wallets() {
        assert!(base58check("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"));
        assert!(!base58check("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"));
        assert!(bech32("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"));
        assert!(!bech32("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"));
    }

    #[test]
    fn eip55_checksum() {
        // Test vectors from EIP-55.
        assert!(eip55("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
        assert!(eip55("fB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"));
        assert!(!eip55("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"));
        assert!(eip55("52908400098527886e0f7030069857d2e4169ee7"));
    }

    #[test]
    fn entropy_orders() {
        assert!(entropy("aaaaaaaa") < 0.1);
        assert!(entropy("aB3$kL9!qZ") > 3.0);
    }

    fn naive_entropy(s: &str) -> f64 {
        let mut counts = std::collections::HashMap::new();
        for b in s.bytes() {
            *counts.entry(b).or_insert(0u32) += 1;
        }
        let n = s.len() as f64;
        counts
            .values()
            .map(|&c| {
                let p = f64::from(c) / n;
                -p * p.log2()
            })
            .sum::<f64>()
    }

    proptest::proptest! {
        #[test]
        fn entropy_of_any_text_matches_the_definition(s in ".{0,300}") {
            proptest::prop_assert!((f64::from(entropy(&s)) - naive_entropy(&s)).abs() < 1e-4, "{:?}", s);
        }
    }

    #[test]
    fn entropy_matches_the_definition() {
        let long = "ab".repeat(400);
        for s in [
            "a",
            "ab",
            "aab",
            "AKIAIOSFODNN7EXAMPLE",
            "x9$Qz",
            long.as_str(),
        ] {
            assert!(
                (f64::from(entropy(s)) - naive_entropy(s)).abs() < 1e-5,
                "{s}"
            );
        }
        assert_eq!(entropy(""), 0.0);
    }
}
