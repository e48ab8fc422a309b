#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Per-detector tests: positives, near-miss negatives, checksum failures,
//! and values embedded in Traditional/Simplified Chinese text.

use std::sync::OnceLock;

use palisade_detect::{Kind, Scanner};

fn scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| Scanner::with_defaults().unwrap())
}

/// Asserts that `value` is found inside `text` as `kind` with exactly its span.
#[track_caller]
fn found(text: &str, value: &str, kind: Kind) {
    let start = text.find(value).expect("value in text");
    let fs = scanner().scan(text);
    assert!(
        fs.iter()
            .any(|f| f.kind == kind && f.start == start && f.end == start + value.len()),
        "{kind} `{value}` not found in `{text}`: {fs:?}"
    );
}

/// Asserts that no finding of `kind` overlaps `value` inside `text`.
#[track_caller]
fn not_found(text: &str, value: &str, kind: Kind) {
    let start = text.find(value).expect("value in text");
    let end = start + value.len();
    let fs = scanner().scan(text);
    assert!(
        !fs.iter()
            .any(|f| f.kind == kind && f.start < end && start < f.end),
        "{kind} `{value}` unexpectedly found in `{text}`: {fs:?}"
    );
}

/// Each positive value must be found plain, in English context and in
/// Traditional and Simplified Chinese context.
#[track_caller]
fn positive_everywhere(value: &str, kind: Kind) {
    found(value, value, kind);
    found(&format!("Please note: {value}, thanks."), value, kind);
    found(&format!("我的資料是{value}，請查收。"), value, kind);
    found(&format!("我的资料是：{value}。谢谢"), value, kind);
}

#[test]
fn email() {
    positive_everywhere("chan.taiman@example.com.hk", Kind::Email);
    found(
        "mail me: a_b+tag@sub.domain.org.",
        "a_b+tag@sub.domain.org",
        Kind::Email,
    );
    not_found(
        "user@localhost is not routable",
        "user@localhost",
        Kind::Email,
    );
    not_found("see @twitter handle", "@twitter", Kind::Email);
    not_found("bad a..b@example.com", "a..b@example.com", Kind::Email);
}

#[test]
fn phones() {
    for v in [
        "+852 9123 4567",
        "+85291234567",
        "+86 138 1234 5678",
        "+44 20 7946 0958",
        "+1-212-555-0187",
    ] {
        positive_everywhere(v, Kind::Phone);
    }
    found("電話：9123 4567", "9123 4567", Kind::Phone);
    found("手机13812345678", "13812345678", Kind::Phone);
    found("call (212) 555-0187 now", "(212) 555-0187", Kind::Phone);
    found("mobile 07700 900123", "07700 900123", Kind::Phone);
    // A bare 8-digit number with no phone context is not reported.
    not_found("order 91234567 shipped", "91234567", Kind::Phone);
    not_found("version 1.2.3", "1.2.3", Kind::Phone);
}

#[test]
fn credit_cards() {
    for v in [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5555555555554444",
        "378282246310005",
        "6011111111111117",
    ] {
        positive_everywhere(v, Kind::CreditCard);
    }
    // Luhn failure.
    not_found(
        "card 4111 1111 1111 1112",
        "4111 1111 1111 1112",
        Kind::CreditCard,
    );
    // Luhn-valid but no issuer range: not a card on its own...
    not_found(
        "id 1234 5678 9012 3452",
        "1234 5678 9012 3452",
        Kind::CreditCard,
    );
    // ...but a card right after a card word, in any grouping.
    found(
        "my card 1234 5678 9012 3452 was declined",
        "1234 5678 9012 3452",
        Kind::CreditCard,
    );
    found(
        "What's your credit card? 3522235032377454",
        "3522235032377454",
        Kind::CreditCard,
    );
    found(
        "信用卡 3521-2137-6441-8045",
        "3521-2137-6441-8045",
        Kind::CreditCard,
    );
    // The card word does not rescue a failed checksum or a repeated digit.
    not_found(
        "my card 1234 5678 9012 3453",
        "1234 5678 9012 3453",
        Kind::CreditCard,
    );
    not_found(
        "card 0000 0000 0000 0000",
        "0000 0000 0000 0000",
        Kind::CreditCard,
    );
    // Mixed separators.
    not_found(
        "card 4111 1111-1111 1111",
        "4111 1111-1111 1111",
        Kind::CreditCard,
    );
}

#[test]
fn iban() {
    positive_everywhere("GB82 WEST 1234 5698 7654 32", Kind::Iban);
    positive_everywhere("DE89370400440532013000", Kind::Iban);
    not_found(
        "iban GB82 WEST 1234 5698 7654 33",
        "GB82 WEST 1234 5698 7654 33",
        Kind::Iban,
    );
    not_found(
        "code DE8937040044053201300",
        "DE8937040044053201300",
        Kind::Iban,
    );
    // Typed in lower case: the same checks apply.
    positive_everywhere("gb82 west 1234 5698 7654 32", Kind::Iban);
    found(
        "my iban is de89370400440532013000",
        "de89370400440532013000",
        Kind::Iban,
    );
    not_found(
        "iban gb82 west 1234 5698 7654 33",
        "gb82 west 1234 5698 7654 33",
        Kind::Iban,
    );
    // Mixed case is not how an IBAN is written.
    not_found(
        "ref Gb82 West 1234 5698 7654 32",
        "Gb82 West 1234 5698 7654 32",
        Kind::Iban,
    );
}

#[test]
fn hkid() {
    for v in ["A123456(3)", "A1234563", "A123456 (3)"] {
        positive_everywhere(v, Kind::Hkid);
    }
    found("身份證號碼：A123456(3)", "A123456(3)", Kind::Hkid);
    not_found("HKID A123456(4)", "A123456(4)", Kind::Hkid);
    not_found("HKID A12345(3)", "A12345(3)", Kind::Hkid);
}

#[test]
fn china_id() {
    positive_everywhere("11010519491231002X", Kind::ChinaId);
    not_found(
        "身份证 110105194912310021",
        "110105194912310021",
        Kind::ChinaId,
    );
    not_found(
        "身份证 11010519491331002X",
        "11010519491331002X",
        Kind::ChinaId,
    );
}

#[test]
fn macau_taiwan_singapore() {
    found("澳門身份證 1234567(8)", "1234567(8)", Kind::MacauId);
    positive_everywhere("A123456789", Kind::TaiwanId);
    not_found("ID A123456788", "A123456788", Kind::TaiwanId);
    positive_everywhere("S1234567D", Kind::SgNric);
    not_found("NRIC S1234567E", "S1234567E", Kind::SgNric);
    // FIN M series (issued from 2022), its own offset and letter table.
    positive_everywhere("M1234567K", Kind::SgNric);
    found("FIN: m1234567k", "m1234567k", Kind::SgNric);
    not_found("FIN M1234567L", "M1234567L", Kind::SgNric);
    not_found("FIN M1234567X", "M1234567X", Kind::SgNric);
}

#[test]
fn us_ssn_itin() {
    positive_everywhere("536-22-1234", Kind::UsSsn);
    found("SSN: 536221234", "536221234", Kind::UsSsn);
    not_found("SSN 666-22-1234", "666-22-1234", Kind::UsSsn);
    not_found("SSN 536-00-1234", "536-00-1234", Kind::UsSsn);
    not_found("ticket 536221234", "536221234", Kind::UsSsn);
    found("ITIN 912-70-1234", "912-70-1234", Kind::UsItin);
    not_found("ITIN 912-93-1234", "912-93-1234", Kind::UsItin);
}

#[test]
fn uk_ids() {
    positive_everywhere("AB 12 34 56 C", Kind::UkNino);
    not_found("NINO GB 12 34 56 C", "GB 12 34 56 C", Kind::UkNino);
    found("NHS number 943 476 5919", "943 476 5919", Kind::UkNhs);
    not_found("NHS number 943 476 5918", "943 476 5918", Kind::UkNhs);
}

#[test]
fn context_gated() {
    found("passport no: K12345678", "K12345678", Kind::Passport);
    found("護照號碼 K12345678", "K12345678", Kind::Passport);
    not_found("part K12345678 in stock", "K12345678", Kind::Passport);
    found("date of birth: 1990-03-07", "1990-03-07", Kind::DateOfBirth);
    found("出生日期：1990年3月7日", "1990年3月7日", Kind::DateOfBirth);
    not_found("meeting on 1990-03-07", "1990-03-07", Kind::DateOfBirth);
    found(
        "account number 012-345678-901",
        "012-345678-901",
        Kind::BankAccount,
    );
    found("銀行帳戶 012345678901", "012345678901", Kind::BankAccount);
}

#[test]
fn network() {
    positive_everywhere("192.168.1.20", Kind::IpAddress);
    positive_everywhere("2001:db8::8a2e:370:7334", Kind::IpAddress);
    not_found("version 1.2.3.4.5", "1.2.3.4.5", Kind::IpAddress);
    not_found("at 12:30:45 today", "12:30:45", Kind::IpAddress);
    positive_everywhere("00:1A:2B:3C:4D:5E", Kind::MacAddress);
    not_found(
        "mac 00:00:00:00:00:00",
        "00:00:00:00:00:00",
        Kind::MacAddress,
    );
}

#[test]
fn crypto_wallets() {
    positive_everywhere("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", Kind::CryptoWallet);
    positive_everywhere(
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        Kind::CryptoWallet,
    );
    positive_everywhere(
        "0x52908400098527886E0F7030069857D2E4169EE7",
        Kind::CryptoWallet,
    );
    positive_everywhere(
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        Kind::CryptoWallet,
    );
    not_found(
        "eth 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
        Kind::CryptoWallet,
    );
    not_found(
        "btc 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
        Kind::CryptoWallet,
    );
    not_found(
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
        Kind::CryptoWallet,
    );
}

#[test]
fn names() {
    found("Contact John Smith tomorrow", "John Smith", Kind::Person);
    found("Mr. Chan Tai Man will call", "Chan Tai Man", Kind::Person);
    found("請聯絡 Wong Siu Ming 先生", "Wong Siu Ming", Kind::Person);
    found("My name is Šárka Ottová.", "Šárka Ottová", Kind::Person);
    found(
        "Dr. Cettina Fanucci signed it",
        "Cettina Fanucci",
        Kind::Person,
    );
    not_found("The Quick Silver Lake Report", "Quick Silver", Kind::Person);
    not_found("Visit The Apple Store", "Apple Store", Kind::Person);
    not_found("May I help you?", "May", Kind::Person);
    not_found("He said it was fine", "He", Kind::Person);
    found("姓名：陳大文，電話：9123 4567", "陳大文", Kind::Person);
    found("客户姓名：王小明。", "王小明", Kind::Person);
    // Chinese names before a title, with no keyword before them.
    found("請致電 9876 5432 聯絡陳先生。", "陳", Kind::Person);
    found("王小明女士今天來了", "王小明", Kind::Person);
    found("我们的李医生很好", "李", Kind::Person);
    // The longest span: the family name farthest from the title.
    found("請找林小林先生", "林小林", Kind::Person);
    for text in ["這位先生很好", "一位老師說", "先生您好"] {
        assert!(
            !scanner().scan(text).iter().any(|f| f.kind == Kind::Person),
            "{text}"
        );
    }
}

#[test]
fn names_without_list_entries() {
    // Capitalised pairs spelled like names: a non-ASCII letter or a common
    // surname ending.
    found(
        "Follow up with Sigrid Nyström in a couple of months.",
        "Sigrid Nyström",
        Kind::Person,
    );
    found(
        "please change it to Bekbolat Musliyevich",
        "Bekbolat Musliyevich",
        Kind::Person,
    );
    // A word of a full name, repeated alone.
    found(
        "Nikolaj spent a year as the assistant to Nikolaj Petrussen.",
        "Nikolaj",
        Kind::Person,
    );
    // Its second letter outside ASCII: the word lookup saw only "S".
    found(
        "Sölvi called twice. Her full name is Sölvi Salómonsson.",
        "Sölvi",
        Kind::Person,
    );
    // A listed given name opening a clause.
    found("David is a very sympathetic person.", "David", Kind::Person);
    found("Melanie: You saved my life!", "Melanie", Kind::Person);
    // The answer to "what's your name?".
    found(
        "What's your name? Sölvi Salómonsson",
        "Sölvi Salómonsson",
        Kind::Person,
    );
    // Near misses: streets, places and firms; a lone foreign word; a name
    // list word that is not capitalised.
    not_found(
        "We crossed the Eriksson Bridge at noon",
        "Eriksson",
        Kind::Person,
    );
    not_found(
        "He lives on the north side of Joaquin Suarez 2906.",
        "Suarez",
        Kind::Person,
    );
    not_found(
        "She flew to São Paulo Museum today",
        "São Paulo",
        Kind::Person,
    );
    not_found("Dinner in Zürich was lovely", "Zürich", Kind::Person);
    not_found("Civic Impulse LLC hired us", "Civic", Kind::Person);
    not_found("DAVID IS HERE", "DAVID", Kind::Person);
    not_found("david is here", "david", Kind::Person);
}

#[test]
fn addresses() {
    found(
        "Send it to Flat A, 12/F, Kwai Hing Building, 123 Nathan Road, Mong Kok, Kowloon please",
        "Flat A, 12/F, Kwai Hing Building, 123 Nathan Road, Mong Kok, Kowloon",
        Kind::Address,
    );
    found(
        "ship to 5892 Linda Lodge Apt. 345, Lake Mary, FL 32746 today",
        "5892 Linda Lodge Apt. 345, Lake Mary, FL 32746",
        Kind::Address,
    );
    found(
        "PSC 0413, Box 8144\nAPO AA 42323",
        "PSC 0413, Box 8144\nAPO AA 42323",
        Kind::Address,
    );
    not_found("we sold 3 Big Boxes", "3 Big Boxes", Kind::Address);
    found(
        "She lives at 86036 Rua do Arenque 1634, Goiânia. Nice place.",
        "86036 Rua do Arenque 1634, Goiânia",
        Kind::Address,
    );
    found(
        "地址：12 Queen's Road Central, Hong Kong",
        "12 Queen's Road Central, Hong Kong",
        Kind::Address,
    );
    not_found(
        "the address is unknown. Call 555 at noon.",
        "555",
        Kind::Address,
    );
    // European order: street word (with a street suffix) then number.
    found(
        "Dexter lives on Ziegelgasse 19 street.",
        "Ziegelgasse 19",
        Kind::Address,
    );
    found(
        "The shop on Søndergade 52 closes early",
        "Søndergade 52",
        Kind::Address,
    );
    // Street word first: Portuguese, Spanish, Polish.
    found(
        "Meet me at Avda. Rio Nalon 58 tomorrow",
        "Avda. Rio Nalon 58",
        Kind::Address,
    );
    found(
        "Biuro: ul. Północna 73 w Suwałkach",
        "ul. Północna 73",
        Kind::Address,
    );
    // A numbered street line followed by apartment, city and country lines.
    found(
        "Sven\n\n28030 Edeby 55\n Apt. 297\n TYSTBERGA\n Sweden 99178",
        "28030 Edeby 55\n Apt. 297\n TYSTBERGA\n Sweden 99178",
        Kind::Address,
    );
    found(
        "taxi to 692 Kuuse Road Apt. 641, Grubbenvorst, Netherlands 04020. Thanks",
        "692 Kuuse Road Apt. 641, Grubbenvorst, Netherlands 04020",
        Kind::Address,
    );
    // A "postcode" that is the first group of a card number is not taken:
    // the address itself ends at the district (before overlap resolution,
    // which would trim it anyway).
    let text = "Flat B, 12/F, 88 Nathan Road, Tsim Sha Tsui, Kowloon 4111 1111 1111 1111 today";
    let end = text.find(" 4111").unwrap();
    assert!(
        scanner()
            .scan_all(text)
            .iter()
            .filter(|f| f.kind == Kind::Address)
            .all(|f| f.end <= end),
        "{:?}",
        scanner().scan_all(text)
    );
    // Near misses: no number, no apartment line, no capitalised name.
    not_found("Rua Augusta is lovely in May", "Rua Augusta", Kind::Address);
    not_found(
        "We played 28030 Edeby 55 times",
        "28030 Edeby 55",
        Kind::Address,
    );
    not_found("Go via 3 partners", "via 3", Kind::Address);
    not_found("the weg 12 and gata 3", "weg 12", Kind::Address);
    found(
        "地址：香港九龍旺角彌敦道123號",
        "香港九龍旺角彌敦道123號",
        Kind::Address,
    );
}

#[test]
fn secrets_provider_formats() {
    let cases = [
        "ghp_R8mK2pQ9xL4vN7wT1yH6jB3cF5gD0sA2eZ8u",
        "glpat-Xk3mP9qR2vT7wY1zB4nC",
        "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dcXk2P",
        "AKIAZ7QK2M9XW4HJD3RT",
        "AIzaSyB3x9Kq2Lm7Np4Rt8Vw1Yz6Ab0Cd5Ef7Gh",
        "npm_Ab3De6Gh9Jk2Mn5Pq8St1Vw4Yz7Bc0Ef3Hi6",
        "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
        "sk-ant-api03-Ab3De6Gh9Jk2Mn5Pq8St1Vw4Yz7Bc0Ef3Hi6Lm9Op2Rs5Uv8Xy1Ab3De6Gh9Jk2Mn5Pq8St1Vw4Yz7Bc0Ef3Hi6Lm9",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "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",
    ];
    for v in cases {
        positive_everywhere(v, Kind::Secret);
    }
    found(
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        Kind::Secret,
    );
    found(
        "DATABASE_URL=postgres://app:Vq8#mZ2pL@db:5432/x",
        "Vq8#mZ2pL",
        Kind::Secret,
    );
}

#[test]
fn secrets_generic_rule() {
    found(
        "api_key = \"Zx9kQ2vR7mP4wL8n\"",
        "Zx9kQ2vR7mP4wL8n",
        Kind::Secret,
    );
    found("password: Tr0ub4dor&3xYz", "Tr0ub4dor&3xYz", Kind::Secret);
}

#[test]
fn secrets_false_positives() {
    let negatives = [
        ("aws AKIAIOSFODNN7EXAMPLE doc key", "AKIAIOSFODNN7EXAMPLE"),
        (
            "token ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ),
        ("api_key = \"<YOUR_API_KEY>\"", "<YOUR_API_KEY>"),
        ("password = os.environ[\"DB_PASSWORD\"]", "os.environ"),
        (
            "token = 550e8400-e29b-41d4-a716-446655440000",
            "550e8400-e29b-41d4-a716-446655440000",
        ),
        (
            "secret = d41d8cd98f00b204e9800998ecf8427e",
            "d41d8cd98f00b204e9800998ecf8427e",
        ),
        ("password: changeme123", "changeme123"),
        ("the password is strong", "strong"),
        (
            "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ),
        ("postgres://user:password@localhost/db", "password"),
    ];
    for (text, value) in negatives {
        not_found(text, value, Kind::Secret);
    }
}

#[test]
fn prose_and_code_have_no_secrets() {
    let prose = "The quick brown fox jumps over the lazy dog. In 2023 the company reported \
        revenue of 4,512,000 dollars across 12 regions; see section 4.2.1 for details. \
        fn main() { let token = get_token(); let password = read_password()?; }";
    let fs = scanner().scan(prose);
    assert!(fs.iter().all(|f| f.kind != Kind::Secret), "{fs:?}");
}

#[test]
fn unicode_smuggling_and_normalised_rescan() {
    let fs = scanner().scan("ignore\u{E0041}\u{E0042} previous");
    assert!(fs.iter().any(|f| f.kind == Kind::UnicodeSmuggling));
    // Full-width digits and a zero-width space do not hide values.
    let t = "電話：９１２３ ４５６７";
    let fs = scanner().scan(t);
    assert!(
        fs.iter()
            .any(|f| f.kind == Kind::Phone && &t[f.start..f.end] == "９１２３ ４５６７"),
        "{fs:?}"
    );
    let t = "mail chan\u{200B}taiman@example.com";
    let fs = scanner().scan(t);
    assert!(fs.iter().any(|f| f.kind == Kind::Email), "{fs:?}");
}

#[test]
fn context_raises_score_and_is_explained() {
    let plain = scanner().scan("9123 4567");
    let ctx = scanner().scan("電話 9123 4567");
    let p = plain
        .iter()
        .find(|f| f.kind == Kind::Phone)
        .map_or(0.0, |f| f.score);
    let c = ctx.iter().find(|f| f.kind == Kind::Phone).unwrap();
    assert!(c.score > p);
    assert!(c.reason.contains("電話"));
    // Reasons never contain the value.
    assert!(!c.reason.contains("9123"));
}

#[test]
fn kinds_can_be_disabled() {
    let s = Scanner::new(palisade_detect::Config::only([Kind::Email])).unwrap();
    let fs = s.scan("a@b.com 4111 1111 1111 1111 ghp_R8mK2pQ9xL4vN7wT1yH6jB3cF5gD0sA2eZ8u");
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].kind, Kind::Email);
}

#[test]
fn scanner_is_send_sync_and_hold_back_bounded() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Scanner>();
    let h = scanner().hold_back();
    assert!((256..=4096).contains(&h), "{h}");
    assert!(scanner().rule_count() > 100);
}
